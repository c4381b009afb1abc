/**
 * Trained LSTMs from and to model files, and NumPy arrays for their data.
 *
 * <ul>
 *   <li>{@link org.lstmk.models.LstmModel}: what every importer returns — an {@link org.lstmk.api.LstmConfig}, the
 *       {@link org.lstmk.api.StackWeights} of the whole stack, and a {@link org.lstmk.models.ModelInfo} saying what
 *       was found (format, file, prefix, stored dtype, tensors).</li>
 *   <li>One importer per format: {@link org.lstmk.models.PyTorchImporter} (an {@code nn.LSTM} state_dict in
 *       safetensors) and its writer {@link org.lstmk.models.PyTorchExporter}; {@link org.lstmk.models.KerasImporter}
 *       ({@code .keras}, {@code .weights.h5}, legacy {@code .h5}, through jHDF); {@link org.lstmk.models.OnnxImporter}
 *       ({@code LSTM} nodes, through protobuf-java classes generated from {@code onnx.proto}).
 *       {@link org.lstmk.models.Models#load} picks the importer by the file's extension.</li>
 *   <li>{@link org.lstmk.models.Safetensors}: the container format (header parsed with Gson, data read by offset).</li>
 *   <li>{@link org.lstmk.models.Npy}: NumPy {@code .npy} float32 / int32 / int64 arrays (the documented format; no
 *       maintained Java library for it is available to the build).</li>
 *   <li>{@link org.lstmk.models.ModelFormatException}: every problem with a file, naming the file, the tensor and
 *       what was expected; {@link org.lstmk.models.AtomicFile}: all-or-nothing writes.</li>
 * </ul>
 *
 * This module, not {@code kernels-java}, carries the format dependencies: the core jar stays dependency-free.
 */
package org.lstmk.models;
