package org.lstmk.simd;

import static org.lstmk.simd.SimdSpecies.FLOAT;
import static org.lstmk.simd.SimdSpecies.ORDER;
import static org.lstmk.simd.SimdSpecies.VB;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

/**
 * {@code C += C_in} on a tile a micro-kernel has just stored (still in L1): the bias onto the input projection, the
 * input projection onto {@code h·W_hh}, a further partial product onto the tile. Not part of the kernels: the 24
 * more loads and adds per tile made the largest ones too big for C1's tier-3 compilation (out of virtual registers),
 * and the tiered policy then left them in tier-2 code where every Vector API call allocates.
 */
final class TileSums {
    private TileSums() {}

    /**
     * {@code c[r][v] += in[r][v]} for {@code rows × vectors} vectors, row {@code r} of {@code c} at
     * {@code cOff + r·cRow}, of {@code in} at {@code inOff + r·inRow} ({@code inRow = 0}: one row for all).
     */
    static void add(MemorySegment c, long cOff, long cRow, int rows, int vectors, MemorySegment in, long inOff,
                    long inRow) {
        for (int r = 0; r < rows; r++) {
            long co = cOff + r * cRow, io = inOff + r * inRow;
            for (int v = 0; v < vectors; v++) {
                FloatVector.fromMemorySegment(FLOAT, c, co + v * VB, ORDER)
                        .add(FloatVector.fromMemorySegment(FLOAT, in, io + v * VB, ORDER))
                        .intoMemorySegment(c, co + v * VB, ORDER);
            }
        }
    }
}
