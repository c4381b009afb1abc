package org.lstmk.simd;

import java.lang.foreign.MemorySegment;

/**
 * Where one thread's backward step reads and writes, for {@link MicroKernels#backward} and
 * {@link CellKernels#backward}: the kernel computes {@code dh = da[t]·W_hhᵀ} for a tile; the cell adds
 * {@code dy[t−1]}, reads the activations and states of step {@code t−1} and writes {@code da[t−1]} and the running
 * {@code dc}. Mutable, one per thread; only the step bases change.
 */
final class BackwardStep {
    MemorySegment da, w, gates, cs, dy, dc;
    /** Bytes per gate row and per state row. */
    long gRow, hRow;
    /** Bytes between W_hhᵀ panels. */
    long wBlock;
    /** Reduction length (4Hp). */
    int k;
    /** Byte offsets of the step's rows: activations, output da, c_{t-1}, c_t, dy (state-row buffers). */
    long gBase, daBase, cPrevBase, cBase, dyBase;
    /** Whether {@code dy} holds a gradient (else it is zero). */
    boolean hasDy;
}
