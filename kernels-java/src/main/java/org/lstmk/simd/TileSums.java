package org.lstmk.simd;

import static org.lstmk.simd.SimdSpecies.FLOAT;
import static org.lstmk.simd.SimdSpecies.ORDER;
import static org.lstmk.simd.SimdSpecies.VB;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

/**
 * {@code C += C_in} on a tile a micro-kernel has just stored (still in L1): the input projection and the bias onto
 * {@code h·W_hh}, a further partial product onto the tile. Only the thread's own tiles are read and written back:
 * the gate rows, which an inference item computed again writes a second time, are only ever written whole. Not part of the kernels: the 24
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

    /**
     * {@code c[r][v] = (a[r][v] + b[r][v]) + c[r][v]}, rows as in {@link #add}: the input projection and the bias
     * onto {@code h·W_hh}.
     */
    static void addBoth(MemorySegment c, long cOff, long cRow, int rows, int vectors, MemorySegment a, long aOff,
                        long aRow, MemorySegment b, long bOff, long bRow) {
        for (int r = 0; r < rows; r++) {
            long co = cOff + r * cRow, ao = aOff + r * aRow, bo = bOff + r * bRow;
            for (int v = 0; v < vectors; v++) {
                FloatVector.fromMemorySegment(FLOAT, a, ao + v * VB, ORDER)
                        .add(FloatVector.fromMemorySegment(FLOAT, b, bo + v * VB, ORDER))
                        .add(FloatVector.fromMemorySegment(FLOAT, c, co + v * VB, ORDER))
                        .intoMemorySegment(c, co + v * VB, ORDER);
            }
        }
    }
}
