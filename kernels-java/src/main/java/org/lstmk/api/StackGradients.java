package org.lstmk.api;

import java.util.Arrays;
import java.util.Objects;

/**
 * Weight-gradient buffers of a whole configuration: one {@link LstmGradients} per layer and direction, indexed as
 * {@link StackWeights}. A layer-direction left unset is not computed.
 */
public final class StackGradients implements Gradients {
    private final LstmConfig config;
    private final LstmGradients[] layers;

    private StackGradients(LstmConfig config, LstmGradients[] layers) {
        this.config = config;
        this.layers = layers;
    }

    /** A builder for {@code config}. */
    public static Builder builder(LstmConfig config) {
        return new Builder(config);
    }

    /** Fresh zeroed Java arrays for every layer and direction of {@code config}, with every optional gradient. */
    public static StackGradients allocate(LstmConfig config) {
        Builder b = builder(config);
        for (int l = 0; l < config.layers(); l++) {
            for (int d = 0; d < config.directions(); d++) b.set(l, d, LstmGradients.allocate(config, l));
        }
        return b.build();
    }

    /** All layer-directions in PyTorch order: {@code l0, l0_reverse, l1, ...}; null entries are not computed. */
    public static StackGradients of(LstmConfig config, LstmGradients... layers) {
        Objects.requireNonNull(layers, "layers");
        if (layers.length != config.stateLayers()) {
            throw new IllegalArgumentException("layers: expected " + config.stateLayers()
                    + " (layers × directions) gradient sets for " + config + ", got " + layers.length);
        }
        return new StackGradients(config, layers.clone());
    }

    public LstmConfig config() { return config; }

    /** The gradients of {@code layer} in {@code direction}, or null if not wanted. */
    public LstmGradients get(int layer, int direction) {
        return layers[StackWeights.index(config, layer, direction)];
    }

    /** Builder for {@link StackGradients}. */
    public static final class Builder {
        private final LstmConfig config;
        private final LstmGradients[] layers;

        private Builder(LstmConfig config) {
            this.config = Objects.requireNonNull(config, "config");
            this.layers = new LstmGradients[config.stateLayers()];
        }

        public Builder set(int layer, int direction, LstmGradients gradients) {
            layers[StackWeights.index(config, layer, direction)] = gradients;
            return this;
        }

        public StackGradients build() {
            return new StackGradients(config, Arrays.copyOf(layers, layers.length));
        }
    }
}
