/**
 * The layer driver: what turns a backend's single-layer, single-direction kernels into the whole LSTM of a
 * configuration, in the spirit of oneDNN's execution grid and PyTorch's layer stack.
 *
 * <p>{@link org.lstmk.driver.LayerDriver} walks layer × direction: layer {@code l} reads layer {@code l−1}'s
 * output {@code [T,B,D·H_out]}, each direction writes its half of it, states and weights are indexed
 * {@code layer·D + direction}; backward walks the grid top-down, summing the two directions' input gradients.
 * Variable lengths and the reverse direction come in three ways, by what the backend declares: the reference runs
 * padded sequences with their lengths itself ({@code nativeSequences}); a backend with {@code packedSequences}
 * (SIMD, CUDA) gets one call per layer-direction on the batch sorted by length and packed as PyTorch's
 * {@code PackedSequence} ({@link org.lstmk.driver.SequenceOrder#batchSizes}), time-reversed per sequence for the
 * reverse direction, so padding costs no work; any other backend gets one call per segment of steps with a constant
 * number of live sequences, final states and gradients carried between segments.
 * {@link org.lstmk.driver.StackWorkspace} is what a training forward leaves for backward at this level.
 *
 * <p>A single unidirectional layer over full-length sequences goes straight to the backend with the caller's
 * buffers: no copy, no overhead.
 */
package org.lstmk.driver;
