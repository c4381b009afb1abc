/**
 * The public API of lstm-kernels: one LSTM layer, forward (inference and training) and backward through time,
 * whole sequences or single steps, on whatever backend the dispatcher chooses.
 *
 * <p>Types: {@link org.lstmk.api.Lstm} (the engine), {@link org.lstmk.api.LstmConfig} (immutable description),
 * {@link org.lstmk.api.LstmWeights} and {@link org.lstmk.api.LstmGradients} (caller buffers in PyTorch's layout),
 * {@link org.lstmk.api.LstmState} (an {@code (h, c)} pair), {@link org.lstmk.api.PackedWeights} and
 * {@link org.lstmk.api.TrainingWorkspace} (backend-owned memory, {@code AutoCloseable}), and the small enums
 * {@link org.lstmk.api.Layout}, {@link org.lstmk.api.GradientMode}, {@link org.lstmk.api.NonFinitePolicy}.
 *
 * <h2>How the API grows without breaking</h2>
 * <ul>
 *   <li><b>Stacked and bidirectional layers</b>: new {@link org.lstmk.api.LstmConfig.Builder} options
 *       ({@code layers(n)}, {@code bidirectional()}); weights then become a list of {@link org.lstmk.api.LstmWeights}
 *       (one per layer and direction, as PyTorch's {@code _l0, _l0_reverse, _l1...}); the single-layer calls keep
 *       their meaning as the {@code layers = 1} case. Backends declare what they support.</li>
 *   <li><b>Variable-length batches</b>: overloads taking an {@code int[] lengths} (descending or not), as
 *       PyTorch's packed sequences; the final states then come from each sequence's own last step.</li>
 *   <li><b>Peepholes and projection</b>: builder options ({@code peepholes()}, {@code projectionSize(P)}) with
 *       extra optional weight components; {@code h} then has size {@code P} where it is an output.</li>
 *   <li><b>Data resident on the GPU between layers</b>: buffers are {@code MemorySegment}s today; device-resident
 *       tensors will be a backend-owned {@code AutoCloseable} buffer type accepted by overloads of the same calls,
 *       so one layer's {@code y} can feed the next layer's {@code x} without a host round trip.</li>
 * </ul>
 * Because configuration is built, not constructed, and because optional arguments are {@code null}, each of these
 * adds methods or options and changes none.
 */
package org.lstmk.api;
