package org.lstmk.models;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Loads a model file by its format, chosen by the file's extension: {@code .safetensors} is a PyTorch
 * {@code nn.LSTM} state_dict ({@link PyTorchImporter}); {@code .keras}, {@code .weights.h5} and legacy {@code .h5}
 * are the LSTM stack of a Keras model ({@link KerasImporter}); {@code .onnx} the {@code LSTM} nodes of an ONNX model
 * ({@link OnnxImporter}).
 */
public final class Models {
    private Models() {}

    /** The formats {@link #load} reads, for messages. */
    public static final String SUPPORTED = ".safetensors (PyTorch nn.LSTM state_dict), .keras, .weights.h5, .h5 (Keras),"
            + " .onnx (ONNX LSTM nodes)";

    /**
     * Loads the LSTM in {@code file}; {@code name} picks one when the file holds several (for PyTorch: the module
     * prefix, such as {@code encoder}; for ONNX: the LSTM node's name, or {@code #k}), null for the only one.
     */
    public static LstmModel load(Path file, String name) throws IOException {
        String f = file.getFileName() == null ? "" : file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (f.endsWith(".safetensors")) return PyTorchImporter.load(file, name);
        if (f.endsWith(".keras") || f.endsWith(".h5")) return KerasImporter.load(file);
        if (f.endsWith(".onnx")) return OnnxImporter.load(file, name);
        throw new ModelFormatException(file, "unknown model format; reads " + SUPPORTED);
    }
}
