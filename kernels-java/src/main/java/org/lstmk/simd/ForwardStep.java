package org.lstmk.simd;

import java.lang.foreign.MemorySegment;

/**
 * Where one thread's forward recurrent step reads and writes: per step and tile, {@link MicroKernels#blocks}
 * computes {@code h[t]·W_hh} into {@link #tile}, the input projection {@code gates[t]} and the bias are added to it, and the
 * layer's {@link Cell} applies the cell to it and writes {@code c[t+1]}, {@code h[t+1]} (and, when training, the
 * activations over {@code gates[t]}). Mutable, one per thread, reused across steps: only the step bases change.
 */
final class ForwardStep {
    /** {@code hs}: where the cell writes its output m (h itself without projection; see {@code ForwardPass}). */
    MemorySegment hs, gates, cs;
    /** This thread's tiles: up to 6 compact rows of {@link #tileRow} bytes (the item's unit blocks). */
    MemorySegment tile;
    long tileBase, tileRow;
    /** Bytes per cell-sized state row ({@code Hp} floats: c and m) and per gate row ({@code 4Hp} floats). */
    long hRow, gRow;
    /** Byte offset of step t's gate rows; of {@code c[t]}, {@code c[t+1]}, {@code h[t+1]} rows. */
    long gBase, cPrevBase, cNextBase, hNextBase;
    /** Whether to save the activations (training). */
    boolean save;
    /** Where {@code ForwardPass.touch} leaves its result, so that the JIT cannot drop its loads. */
    float sink;
}
