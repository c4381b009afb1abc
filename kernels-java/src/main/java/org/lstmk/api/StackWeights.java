package org.lstmk.api;

import java.util.Arrays;
import java.util.Objects;

/**
 * The weights of a whole configuration: one {@link LstmWeights} per layer and direction, indexed
 * {@code layer·D + direction} as PyTorch names them ({@code _l0}, {@code _l0_reverse}, {@code _l1}, ...).
 * For a single unidirectional layer, {@link Lstm#pack(LstmWeights)} takes the layer's weights directly.
 *
 * <pre>{@code
 * StackWeights w = StackWeights.builder(cfg)
 *         .set(0, 0, l0).set(0, 1, l0Reverse)
 *         .set(1, 0, l1).set(1, 1, l1Reverse)
 *         .build();
 * }</pre>
 */
public final class StackWeights {
    private final LstmConfig config;
    private final LstmWeights[] layers;

    private StackWeights(LstmConfig config, LstmWeights[] layers) {
        this.config = config;
        this.layers = layers;
    }

    /** A builder for every layer and direction of {@code config}. */
    public static Builder builder(LstmConfig config) {
        return new Builder(config);
    }

    /** All layer-directions in PyTorch order: {@code l0, l0_reverse, l1, l1_reverse, ...}. */
    public static StackWeights of(LstmConfig config, LstmWeights... layers) {
        Objects.requireNonNull(layers, "layers");
        if (layers.length != config.stateLayers()) {
            throw new IllegalArgumentException("layers: expected " + config.stateLayers()
                    + " (layers × directions) weight sets for " + config + ", got " + layers.length);
        }
        Builder b = builder(config);
        for (int i = 0; i < layers.length; i++) b.set(i / config.directions(), i % config.directions(), layers[i]);
        return b.build();
    }

    /** The configuration these weights are for. */
    public LstmConfig config() { return config; }

    /** The weights of {@code layer} in {@code direction} (0 forward, 1 reverse). */
    public LstmWeights get(int layer, int direction) {
        return layers[index(config, layer, direction)];
    }

    static int index(LstmConfig config, int layer, int direction) {
        Objects.checkIndex(layer, config.layers());
        Objects.checkIndex(direction, config.directions());
        return layer * config.directions() + direction;
    }

    /** Builder for {@link StackWeights}; every layer and direction must be set. */
    public static final class Builder {
        private final LstmConfig config;
        private final LstmWeights[] layers;

        private Builder(LstmConfig config) {
            this.config = Objects.requireNonNull(config, "config");
            this.layers = new LstmWeights[config.stateLayers()];
        }

        /** Sets the weights of {@code layer} in {@code direction}. */
        public Builder set(int layer, int direction, LstmWeights weights) {
            layers[index(config, layer, direction)] = Objects.requireNonNull(weights,
                    "weights of layer " + layer + " direction " + direction);
            return this;
        }

        /** @throws IllegalStateException naming the first layer-direction not set */
        public StackWeights build() {
            for (int i = 0; i < layers.length; i++) {
                if (layers[i] == null) {
                    throw new IllegalStateException("weights of layer " + i / config.directions() + " direction "
                            + i % config.directions() + " are not set");
                }
            }
            return new StackWeights(config, Arrays.copyOf(layers, layers.length));
        }
    }
}
