package org.lstmk.api;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Immutable description of an LSTM: sizes, stack shape, cell features, sequence layout and input policy. The
 * default is one unidirectional layer of the plain cell, as PyTorch's {@code nn.LSTM(I, H)}.
 *
 * <p>Batch size, sequence length and per-sequence lengths are not part of the configuration: they are given per
 * call ({@link SequenceBatch}), so one set of packed weights serves every batch.
 *
 * <pre>{@code
 * LstmConfig cfg = LstmConfig.builder(256, 512)
 *         .layers(2).bidirectional(true)      // PyTorch num_layers=2, bidirectional=True
 *         .projectionSize(128)                // PyTorch proj_size=128 (LSTMP)
 *         .peepholes(true).cellClip(3f)       // ONNX LSTM's P input and clip attribute
 *         .layout(Layout.BATCH_MAJOR).build();
 * }</pre>
 *
 * <p><b>Where PyTorch and ONNX differ</b> (both are followed where they define a feature): gate order is PyTorch's
 * {@code i, f, g, o} for every weight given to this library (ONNX's {@code i, o, f, c} is converted by importers);
 * peepholes ({@code P_i, P_o, P_f}, ONNX order) and cell clip exist only in ONNX, projection only in PyTorch; the
 * state layout {@code [layers·directions, B, ·]} indexed {@code layer·D + direction} is the same in both. Where ONNX
 * leaves a combination undefined (projection with peepholes), peepholes see the cell state {@code c} (size H), as
 * in the LSTMP paper.
 */
public final class LstmConfig {
    private final int inputSize;
    private final int hiddenSize;
    private final int layers;
    private final boolean bidirectional;
    private final int projectionSize;
    private final boolean peepholes;
    private final float cellClip;
    private final Layout layout;
    private final NonFinitePolicy nonFinitePolicy;
    private final MatmulPrecision matmulPrecision;

    private LstmConfig(Builder b) {
        this.inputSize = b.inputSize;
        this.hiddenSize = b.hiddenSize;
        this.layers = b.layers;
        this.bidirectional = b.bidirectional;
        this.projectionSize = b.projectionSize;
        this.peepholes = b.peepholes;
        this.cellClip = b.cellClip;
        this.layout = b.layout;
        this.nonFinitePolicy = b.nonFinitePolicy;
        this.matmulPrecision = b.matmulPrecision;
    }

    /** One time-major unidirectional layer with default policies. */
    public static LstmConfig of(int inputSize, int hiddenSize) {
        return builder(inputSize, hiddenSize).build();
    }

    /** A builder starting from one unidirectional plain layer, time-major layout, {@link NonFinitePolicy#PROPAGATE}. */
    public static Builder builder(int inputSize, int hiddenSize) {
        return new Builder(inputSize, hiddenSize);
    }

    /** Number of input features {@code I} of the first layer. */
    public int inputSize() { return inputSize; }

    /** Number of hidden units {@code H} (cell size); the four gates together have {@code 4H} rows. */
    public int hiddenSize() { return hiddenSize; }

    /** {@code 4 × hiddenSize}: rows of {@code W_ih}, {@code W_hh} and the biases. */
    public int gateRows() { return 4 * hiddenSize; }

    /** Number of stacked layers {@code L} (PyTorch {@code num_layers}). */
    public int layers() { return layers; }

    /** Whether every layer runs a reverse direction too. */
    public boolean bidirectional() { return bidirectional; }

    /** {@code D}: 2 when bidirectional, else 1. */
    public int directions() { return bidirectional ? 2 : 1; }

    /** Projection size {@code P} (PyTorch {@code proj_size}), 0 without projection. */
    public int projectionSize() { return projectionSize; }

    /** Whether the layer has a projection {@code h = W_hr·(o ⊙ tanh c)}. */
    public boolean hasProjection() { return projectionSize > 0; }

    /** {@code H_out}: the size of {@code h}, {@code P} with projection, else {@code H}. */
    public int outputSize() { return projectionSize > 0 ? projectionSize : hiddenSize; }

    /** Whether the gates have peephole connections to the cell state (ONNX {@code P}). */
    public boolean peepholes() { return peepholes; }

    /** Gate pre-activations are clamped to {@code ±cellClip()} (ONNX {@code clip}); 0 means no clip. */
    public float cellClip() { return cellClip; }

    /** Whether a cell clip is set. */
    public boolean hasCellClip() { return cellClip > 0; }

    /** Order of time and batch in sequence buffers. */
    public Layout layout() { return layout; }

    /** What calls do with NaN and infinities in their inputs. */
    public NonFinitePolicy nonFinitePolicy() { return nonFinitePolicy; }

    /** The arithmetic the large matrix products may use ({@link MatmulPrecision}); default FP32. */
    public MatmulPrecision matmulPrecision() { return matmulPrecision; }

    /** Input width of layer {@code l}: {@code I} for the first, {@code D·H_out} above it. */
    public int layerInputSize(int layer) {
        Objects.checkIndex(layer, layers);
        return layer == 0 ? inputSize : directions() * outputSize();
    }

    /** Width of every output row {@code y}: {@code D·H_out}. */
    public int sequenceOutputSize() { return directions() * outputSize(); }

    /** Rows of the state tensors {@code h0, c0, hN, cN}: {@code L·D}. */
    public int stateLayers() { return layers * directions(); }

    /** Whether this is one unidirectional layer: what a backend kernel runs in one call. */
    public boolean isSingleLayer() { return layers == 1 && !bidirectional; }

    /**
     * The configuration of one layer in one direction, as a backend kernel sees it: one unidirectional layer of
     * input {@link #layerInputSize(int)} with this configuration's cell features, in {@code layout}.
     */
    public LstmConfig layer(int layer, Layout layout) {
        Builder b = toBuilder().layers(1).bidirectional(false).layout(layout);
        b.inputSize = layerInputSize(layer);
        return b.build();
    }

    /** The features beyond one plain unidirectional layer that this configuration uses, named as the builder does. */
    public List<String> features() {
        List<String> f = new ArrayList<>();
        if (layers > 1) f.add("layers");
        if (bidirectional) f.add("bidirectional");
        if (hasProjection()) f.add("projection");
        if (peepholes) f.add("peepholes");
        if (hasCellClip()) f.add("cellClip");
        return f;
    }

    /** A builder initialised from this configuration. */
    public Builder toBuilder() {
        return new Builder(inputSize, hiddenSize).layers(layers).bidirectional(bidirectional)
                .projectionSize(projectionSize).peepholes(peepholes).cellClip(cellClip)
                .layout(layout).nonFinitePolicy(nonFinitePolicy).matmulPrecision(matmulPrecision);
    }

    @Override public boolean equals(Object o) {
        return o instanceof LstmConfig c && c.inputSize == inputSize && c.hiddenSize == hiddenSize
                && c.layers == layers && c.bidirectional == bidirectional && c.projectionSize == projectionSize
                && c.peepholes == peepholes && Float.compare(c.cellClip, cellClip) == 0
                && c.layout == layout && c.nonFinitePolicy == nonFinitePolicy && c.matmulPrecision == matmulPrecision;
    }

    @Override public int hashCode() {
        return Objects.hash(inputSize, hiddenSize, layers, bidirectional, projectionSize, peepholes, cellClip, layout,
                nonFinitePolicy, matmulPrecision);
    }

    @Override public String toString() {
        StringBuilder s = new StringBuilder("LstmConfig[I=").append(inputSize).append(", H=").append(hiddenSize);
        if (layers > 1) s.append(", layers=").append(layers);
        if (bidirectional) s.append(", bidirectional");
        if (hasProjection()) s.append(", P=").append(projectionSize);
        if (peepholes) s.append(", peepholes");
        if (hasCellClip()) s.append(", clip=").append(cellClip);
        s.append(", ").append(layout).append(", nonFinite=").append(nonFinitePolicy);
        if (matmulPrecision != MatmulPrecision.FP32) s.append(", matmul=").append(matmulPrecision);
        return s.append("]").toString();
    }

    /** Builder for {@link LstmConfig}. */
    public static final class Builder {
        private int inputSize;
        private final int hiddenSize;
        private int layers = 1;
        private boolean bidirectional;
        private int projectionSize;
        private boolean peepholes;
        private float cellClip;
        private Layout layout = Layout.TIME_MAJOR;
        private NonFinitePolicy nonFinitePolicy = NonFinitePolicy.PROPAGATE;
        private MatmulPrecision matmulPrecision = MatmulPrecision.FP32;

        private Builder(int inputSize, int hiddenSize) {
            this.inputSize = inputSize;
            this.hiddenSize = hiddenSize;
        }

        /** Stacked layers, {@code >= 1}; layer {@code l > 0} reads layer {@code l−1}'s output. Default 1. */
        public Builder layers(int layers) {
            if (layers < 1) throw new IllegalArgumentException("layers must be >= 1, got " + layers);
            this.layers = layers;
            return this;
        }

        /** Whether each layer also runs backwards in time, its output concatenated as {@code [forward | reverse]}. */
        public Builder bidirectional(boolean bidirectional) {
            this.bidirectional = bidirectional;
            return this;
        }

        /** Projection size {@code 1 <= P < H} (LSTMP), or 0 for none (default). */
        public Builder projectionSize(int p) {
            if (p < 0) throw new IllegalArgumentException("projectionSize must be >= 0 (0 = none), got " + p);
            this.projectionSize = p;
            return this;
        }

        /** Peephole connections {@code P_i, P_f} to {@code c_{t-1}} and {@code P_o} to {@code c_t}. Default off. */
        public Builder peepholes(boolean peepholes) {
            this.peepholes = peepholes;
            return this;
        }

        /** Clamp every gate pre-activation to {@code ±clip}, {@code clip > 0} and finite; 0 for none (default). */
        public Builder cellClip(float clip) {
            if (!(clip >= 0) || Float.isInfinite(clip)) {
                throw new IllegalArgumentException("cellClip must be finite and > 0 (or 0 = none), got " + clip);
            }
            this.cellClip = clip;
            return this;
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

        /** The arithmetic the large matrix products may use; default {@link MatmulPrecision#FP32}. */
        public Builder matmulPrecision(MatmulPrecision precision) {
            this.matmulPrecision = Objects.requireNonNull(precision, "matmulPrecision");
            return this;
        }

        /**
         * @throws IllegalArgumentException if a size is not positive, {@code P >= H}, or a weight tensor would have
         *                                  more than {@code Integer.MAX_VALUE} elements
         */
        public LstmConfig build() {
            if (inputSize < 1) throw new IllegalArgumentException("inputSize must be >= 1, got " + inputSize);
            if (hiddenSize < 1) throw new IllegalArgumentException("hiddenSize must be >= 1, got " + hiddenSize);
            if (projectionSize >= hiddenSize) {
                throw new IllegalArgumentException("projectionSize must be < hiddenSize (" + hiddenSize + "), got "
                        + projectionSize);
            }
            long out = projectionSize > 0 ? projectionSize : hiddenSize;
            long widest = Math.max(Math.max(inputSize, out), (bidirectional ? 2 : 1) * out);
            long weights = 4L * hiddenSize * Math.max(widest, hiddenSize);
            if (weights > Integer.MAX_VALUE) {
                String max = widest > Math.max(inputSize, hiddenSize) ? "max(inputSize, hiddenSize, D·H_out)"
                        : "max(inputSize, hiddenSize)";
                throw new IllegalArgumentException("4 × hiddenSize × " + max + " = " + weights
                        + " exceeds " + Integer.MAX_VALUE + " elements (I=" + inputSize + ", H=" + hiddenSize + ")");
            }
            return new LstmConfig(this);
        }
    }
}
