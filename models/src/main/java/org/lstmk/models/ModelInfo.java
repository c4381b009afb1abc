package org.lstmk.models;

import java.nio.file.Path;
import java.util.List;
import org.lstmk.api.LstmConfig;

/**
 * What an importer found in a model file, beyond the configuration.
 *
 * @param format  the format and the kind of layer, e.g. {@code PyTorch nn.LSTM (safetensors)}
 * @param file    the file read, or null when the model was built in memory
 * @param prefix  the module prefix of the layer's tensors ({@code encoder.}), empty for none
 * @param dtypes  the element types the weights were stored in ({@code F32}, {@code F16}, {@code BF16}); read as f32
 * @param bias    whether the layers have biases
 * @param tensors the names of the tensors read, in the file's order
 */
public record ModelInfo(String format, Path file, String prefix, List<String> dtypes, boolean bias,
                        List<String> tensors) {
    public ModelInfo {
        dtypes = List.copyOf(dtypes);
        tensors = List.copyOf(tensors);
        prefix = prefix == null ? "" : prefix;
    }

    /** One line: format, file, prefix, layers, directions, sizes, dtype. */
    public String describe(LstmConfig c) {
        StringBuilder s = new StringBuilder(format);
        if (!prefix.isEmpty()) s.append(" '").append(prefix, 0, prefix.length() - 1).append("'");
        if (file != null) s.append(" from ").append(file);
        s.append(": ").append(c.layers()).append(c.layers() == 1 ? " layer" : " layers")
                .append(c.bidirectional() ? ", bidirectional" : ", unidirectional")
                .append(", input ").append(c.inputSize()).append(", hidden ").append(c.hiddenSize());
        if (c.hasProjection()) s.append(", projection ").append(c.projectionSize());
        s.append(bias ? ", with bias" : ", no bias");
        if (!dtypes.isEmpty()) {
            s.append(", ").append(String.join("+", dtypes));
            if (!dtypes.equals(List.of("F32"))) s.append(" read as F32");
        }
        return s.append(" (").append(tensors.size()).append(" tensors)").toString();
    }
}
