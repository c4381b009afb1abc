package org.lstmk.api;

import java.util.Objects;

/**
 * Immutable description of one LSTM layer: sizes, sequence layout and input policy.
 *
 * <p>Batch size and sequence length are not part of the configuration: they are given per call, so one set of
 * packed weights serves every batch and length. The configuration is built with {@link #builder(int, int)} so
 * that later features (stacked layers, bidirectional, projection, peepholes) can be added as builder options
 * without breaking existing code.
 *
 * <pre>{@code
 * LstmConfig cfg = LstmConfig.builder(256, 512).layout(Layout.BATCH_MAJOR).build();
 * }</pre>
 */
public final class LstmConfig {
    private final int inputSize;
    private final int hiddenSize;
    private final Layout layout;
    private final NonFinitePolicy nonFinitePolicy;

    private LstmConfig(Builder b) {
        this.inputSize = b.inputSize;
        this.hiddenSize = b.hiddenSize;
        this.layout = b.layout;
        this.nonFinitePolicy = b.nonFinitePolicy;
    }

    /** A time-major configuration with default policies. */
    public static LstmConfig of(int inputSize, int hiddenSize) {
        return builder(inputSize, hiddenSize).build();
    }

    /** A builder starting from time-major layout and {@link NonFinitePolicy#PROPAGATE}. */
    public static Builder builder(int inputSize, int hiddenSize) {
        return new Builder(inputSize, hiddenSize);
    }

    /** Number of input features {@code I}. */
    public int inputSize() { return inputSize; }

    /** Number of hidden units {@code H}; the four gates together have {@code 4H} rows. */
    public int hiddenSize() { return hiddenSize; }

    /** {@code 4 × hiddenSize}: rows of {@code W_ih}, {@code W_hh} and the biases. */
    public int gateRows() { return 4 * hiddenSize; }

    /** Order of time and batch in sequence buffers. */
    public Layout layout() { return layout; }

    /** What calls do with NaN and infinities in their inputs. */
    public NonFinitePolicy nonFinitePolicy() { return nonFinitePolicy; }

    /** A builder initialised from this configuration. */
    public Builder toBuilder() {
        return new Builder(inputSize, hiddenSize).layout(layout).nonFinitePolicy(nonFinitePolicy);
    }

    @Override public boolean equals(Object o) {
        return o instanceof LstmConfig c && c.inputSize == inputSize && c.hiddenSize == hiddenSize
                && c.layout == layout && c.nonFinitePolicy == nonFinitePolicy;
    }

    @Override public int hashCode() { return Objects.hash(inputSize, hiddenSize, layout, nonFinitePolicy); }

    @Override public String toString() {
        return "LstmConfig[I=" + inputSize + ", H=" + hiddenSize + ", " + layout + ", nonFinite=" + nonFinitePolicy + "]";
    }

    /** Builder for {@link LstmConfig}. */
    public static final class Builder {
        private final int inputSize;
        private final int hiddenSize;
        private Layout layout = Layout.TIME_MAJOR;
        private NonFinitePolicy nonFinitePolicy = NonFinitePolicy.PROPAGATE;

        private Builder(int inputSize, int hiddenSize) {
            this.inputSize = inputSize;
            this.hiddenSize = hiddenSize;
        }

        /** Sequence layout of {@code x, y, dy, dx}; default {@link Layout#TIME_MAJOR}. */
        public Builder layout(Layout layout) {
            this.layout = Objects.requireNonNull(layout, "layout");
            return this;
        }

        /** Policy for NaN and infinite inputs; default {@link NonFinitePolicy#PROPAGATE}. */
        public Builder nonFinitePolicy(NonFinitePolicy policy) {
            this.nonFinitePolicy = Objects.requireNonNull(policy, "nonFinitePolicy");
            return this;
        }

        /** @throws IllegalArgumentException if a size is not positive or {@code 4H} or {@code 4H·max(I,H)} overflows */
        public LstmConfig build() {
            if (inputSize < 1) throw new IllegalArgumentException("inputSize must be >= 1, got " + inputSize);
            if (hiddenSize < 1) throw new IllegalArgumentException("hiddenSize must be >= 1, got " + hiddenSize);
            long weights = 4L * hiddenSize * Math.max(inputSize, hiddenSize);
            if (weights > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("4 × hiddenSize × max(inputSize, hiddenSize) = " + weights
                        + " exceeds " + Integer.MAX_VALUE + " elements (I=" + inputSize + ", H=" + hiddenSize + ")");
            }
            return new LstmConfig(this);
        }
    }
}
