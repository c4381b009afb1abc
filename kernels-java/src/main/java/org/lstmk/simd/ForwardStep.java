package org.lstmk.simd;

import java.lang.foreign.MemorySegment;

/**
 * Where one thread's forward recurrent step reads and writes, for {@link MicroKernels#forward}: per step the
 * kernel computes {@code a = gates[t] + h[t]·W_hh} for a tile and {@link CellKernels#forward} turns it into
 * {@code c[t+1]}, {@code h[t+1]} (and, when training, the activations written back over {@code gates[t]}).
 * Mutable, one per thread, reused across steps: only the step bases change.
 */
final class ForwardStep {
    MemorySegment h, w, gates, cs;
    /** Bytes per state row ({@code Hp} floats) and per gate row ({@code 4Hp} floats). */
    long hRow, gRow;
    /** Bytes between W_hh panels, and per k row of a panel. */
    long wBlock, wStep;
    /** Reduction length (H). */
    int k;
    /** Byte offset of step t's gate rows; of {@code c[t]}, {@code c[t+1]}, {@code h[t+1]} rows. */
    long gBase, cPrevBase, cNextBase, hNextBase;
    /** Whether to save the activations (training). */
    boolean save;
}
