/**
 * The public API of lstm-kernels: a whole LSTM (stacked layers, both directions, variable-length batches,
 * projection, peepholes, cell clip), forward (inference and training) and backward through time, whole sequences
 * or, for a single layer, single steps, on whatever backend the dispatcher chooses for the configuration.
 *
 * <p>Types: {@link org.lstmk.api.Lstm} (the engine), {@link org.lstmk.api.LstmConfig} (immutable description, built),
 * {@link org.lstmk.api.LstmWeights} and {@link org.lstmk.api.LstmGradients} (one layer-direction's caller buffers in
 * PyTorch's layout, built), {@link org.lstmk.api.StackWeights} and {@link org.lstmk.api.StackGradients} (one of those
 * per layer and direction), {@link org.lstmk.api.SequenceBatch} (T, B and per-sequence lengths),
 * {@link org.lstmk.api.LstmState} (an {@code (h, c)} pair), {@link org.lstmk.api.PackedWeights} and
 * {@link org.lstmk.api.TrainingWorkspace} (backend-owned memory, {@code AutoCloseable}), and the small enums
 * {@link org.lstmk.api.Layout}, {@link org.lstmk.api.GradientMode}, {@link org.lstmk.api.NonFinitePolicy}.
 *
 * <h2>Semantics</h2>
 * PyTorch {@code nn.LSTM} for names, shapes and lengths ({@code pack_padded_sequence → nn.LSTM →
 * pad_packed_sequence}); ONNX {@code LSTM} for peepholes and clip. {@link org.lstmk.api.LstmConfig} says where the
 * two differ and what was chosen; {@code org.lstmk.reference.ReferenceLstm} states the equations.
 *
 * <h2>How the API grows without breaking</h2>
 * Configuration, weights and gradients are built, not constructed, and optional arguments are {@code null}: a new
 * feature is a builder option and a tensor, and changes no existing call. Still to come: device-resident tensors
 * (a backend-owned {@code AutoCloseable} buffer accepted by overloads of the same calls, so one layer's output can
 * feed the next without a host round trip); a backend can already keep a stack's activations on its device by
 * running the layer grid itself instead of {@code org.lstmk.driver.LayerDriver}.
 */
package org.lstmk.api;
