package org.lstmk.models;

import java.util.Objects;
import org.lstmk.api.Layout;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.StackWeights;

/**
 * A trained LSTM read from (or to be written to) a model file: the configuration, the weights of every layer and
 * direction in this library's layout (PyTorch's: gate order {@code i, f, g, o}), and what was found. Every format's
 * importer returns one ({@link PyTorchImporter} for PyTorch {@code nn.LSTM} state_dicts; Keras and ONNX importers fit
 * beside it), so the engine does not care where a model came from:
 *
 * <pre>{@code
 * LstmModel m = Models.load(Path.of("model.safetensors"), null);     // or PyTorchImporter.load(file, "encoder")
 * System.out.println(m.describe());
 * try (Lstm lstm = Lstm.create(m.config()); PackedWeights w = lstm.pack(m.weights())) { ... }
 * }</pre>
 *
 * @param config  the configuration (time-major unless changed with {@link #withLayout})
 * @param weights the weights for {@code config}
 * @param info    what the importer found: format, file, prefix, stored dtype
 */
public record LstmModel(LstmConfig config, StackWeights weights, ModelInfo info) {
    public LstmModel {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(weights, "weights");
        Objects.requireNonNull(info, "info");
        if (!weights.config().equals(config)) {
            throw new IllegalArgumentException("weights are for " + weights.config() + ", not " + config);
        }
    }

    /** The same model with sequences in {@code layout} (PyTorch's {@code batch_first=True} is batch-major). */
    public LstmModel withLayout(Layout layout) {
        if (layout == config.layout()) return this;
        LstmConfig c = config.toBuilder().layout(layout).build();
        StackWeights.Builder b = StackWeights.builder(c);
        for (int l = 0; l < c.layers(); l++) {
            for (int d = 0; d < c.directions(); d++) b.set(l, d, weights.get(l, d));
        }
        return new LstmModel(c, b.build(), info);
    }

    /** One line saying what this model is, e.g. for a command-line tool's log. */
    public String describe() {
        return info.describe(config);
    }
}
