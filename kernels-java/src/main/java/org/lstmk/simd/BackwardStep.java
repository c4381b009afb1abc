package org.lstmk.simd;

import java.lang.foreign.MemorySegment;

/**
 * Where one thread's backward step reads and writes: per tile, {@link MicroKernels#gemm} computes
 * {@code dh = da[t]·W_hhᵀ} into {@link #dh}, and {@link CellKernels#backwardTile} adds {@code dy[t−1]}, reads the
 * activations and states of step {@code t−1} and writes {@code da[t−1]} and the running {@code dc}. Mutable, one
 * per thread; only the step bases change.
 */
final class BackwardStep {
    MemorySegment da, gates, cs, dy, dc;
    /** {@code [B][Hp]}: the tile's {@code dh} from the kernel (or {@code dh_T} for the last step). */
    MemorySegment dh;
    /** This thread's tile buffer (for {@code tanh(c)}), rows of {@link #tileRow} bytes from {@link #tileBase}. */
    MemorySegment tile;
    long tileBase, tileRow;
    /** Bytes per gate row and per state row. */
    long gRow, hRow;
    /** Byte offsets of the step's rows: activations, output da, c_{t-1}, c_t, dy (state-row buffers). */
    long gBase, daBase, cPrevBase, cBase, dyBase;
    /** Whether {@code dy} holds a gradient (else it is zero). */
    boolean hasDy;
}
