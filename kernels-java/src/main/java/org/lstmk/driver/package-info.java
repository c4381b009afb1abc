/**
 * The layer driver: what turns a backend's single-layer, single-direction kernels into the whole LSTM of a
 * configuration, in the spirit of oneDNN's execution grid and PyTorch's layer stack.
 *
 * <p>{@link org.lstmk.driver.LayerDriver} walks layer × direction: layer {@code l} reads layer {@code l−1}'s
 * output {@code [T,B,D·H_out]}, each direction writes its half of it, states and weights are indexed
 * {@code layer·D + direction}; backward walks the grid top-down, summing the two directions' input gradients.
 * For a backend whose kernels run full-length sequences forward in time only (every backend but the reference),
 * {@link org.lstmk.driver.SequenceOrder} builds variable lengths and the reverse direction from such calls: the
 * batch is sorted by length, cut into segments of steps with a constant number of live sequences (PyTorch's packed
 * {@code batch_sizes}), each segment gathered (time-reversed for the reverse direction) and run on the live rows
 * only, so padding costs no work; final states and gradients are carried between segments.
 * {@link org.lstmk.driver.StackWorkspace} is what a training forward leaves for backward at this level.
 *
 * <p>A single unidirectional layer over full-length sequences goes straight to the backend with the caller's
 * buffers: no copy, no overhead.
 */
package org.lstmk.driver;
