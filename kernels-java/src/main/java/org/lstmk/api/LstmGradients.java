package org.lstmk.api;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * Caller-owned buffers that receive the weight gradients of one layer in one direction, in the same layout as
 * {@link LstmWeights}: {@code dWih [4H, I_l]}, {@code dWhh [4H, H_out]}, {@code dbIh [4H]}, {@code dbHh [4H]},
 * {@code dWhr [P, H]} (projection), {@code dPeepholes [3H]} (peepholes, ONNX order {@code i, o, f}). The two bias
 * gradients are equal (both biases enter the gates as a sum); both are written, as PyTorch does, or both are
 * {@code null} for a layer without bias. Whether they are overwritten or accumulated into is chosen per call by
 * {@link GradientMode}. A {@code null} optional buffer is not computed.
 */
public final class LstmGradients implements Gradients {
    private final MemorySegment dWih, dWhh, dbIh, dbHh, dWhr, dPeepholes;

    private LstmGradients(Builder b) {
        this.dWih = b.dWih;
        this.dWhh = b.dWhh;
        this.dbIh = b.dbIh;
        this.dbHh = b.dbHh;
        this.dWhr = b.dWhr;
        this.dPeepholes = b.dPeepholes;
    }

    /** A builder from the two weight-matrix gradients; the others are options. */
    public static Builder builder(MemorySegment dWih, MemorySegment dWhh) {
        return new Builder(dWih, dWhh);
    }

    /** The four gradients of a plain layer; either both bias gradients or neither may be {@code null}. */
    public static LstmGradients of(MemorySegment dWih, MemorySegment dWhh, MemorySegment dbIh, MemorySegment dbHh) {
        return builder(dWih, dWhh).bias(dbIh, dbHh).build();
    }

    /** Views over Java arrays; either both bias gradients or neither may be {@code null}. */
    public static LstmGradients of(float[] dWih, float[] dWhh, float[] dbIh, float[] dbHh) {
        return of(Segments.of(dWih, "dWih"), Segments.of(dWhh, "dWhh"), Segments.orNull(dbIh), Segments.orNull(dbHh));
    }

    /**
     * Fresh zeroed Java arrays for one layer-direction of a single-layer {@code config}, with bias gradients and,
     * where configured, projection and peephole gradients.
     */
    public static LstmGradients allocate(LstmConfig config) {
        return allocate(config, 0);
    }

    /** As {@link #allocate(LstmConfig)} for layer {@code layer} of a stack. */
    public static LstmGradients allocate(LstmConfig config, int layer) {
        int g = config.gateRows(), h = config.hiddenSize();
        Builder b = builder(MemorySegment.ofArray(new float[Math.multiplyExact(g, config.layerInputSize(layer))]),
                MemorySegment.ofArray(new float[Math.multiplyExact(g, config.outputSize())]))
                .bias(MemorySegment.ofArray(new float[g]), MemorySegment.ofArray(new float[g]));
        if (config.hasProjection()) {
            b.projection(MemorySegment.ofArray(new float[Math.multiplyExact(config.projectionSize(), h)]));
        }
        if (config.peepholes()) b.peepholes(MemorySegment.ofArray(new float[Math.multiplyExact(3, h)]));
        return b.build();
    }

    public MemorySegment dWih() { return dWih; }

    public MemorySegment dWhh() { return dWhh; }

    public MemorySegment dbIh() { return dbIh; }

    public MemorySegment dbHh() { return dbHh; }

    /** Gradient of {@code weight_hr}, or null (no projection, or not wanted). */
    public MemorySegment dWhr() { return dWhr; }

    /** Gradient of the peepholes {@code [3H]}, or null (no peepholes, or not wanted). */
    public MemorySegment dPeepholes() { return dPeepholes; }

    /** Builder for {@link LstmGradients}. */
    public static final class Builder {
        private final MemorySegment dWih, dWhh;
        private MemorySegment dbIh, dbHh, dWhr, dPeepholes;

        private Builder(MemorySegment dWih, MemorySegment dWhh) {
            this.dWih = Objects.requireNonNull(dWih, "dWih");
            this.dWhh = Objects.requireNonNull(dWhh, "dWhh");
        }

        /** Both bias gradients, or both null. */
        public Builder bias(MemorySegment dbIh, MemorySegment dbHh) {
            if ((dbIh == null) != (dbHh == null)) {
                throw new NullPointerException("dbIh and dbHh must both be given or both be null; got "
                        + (dbIh == null ? "dbIh=null" : "dbHh=null"));
            }
            this.dbIh = dbIh;
            this.dbHh = dbHh;
            return this;
        }

        /** Gradient of the projection {@code [P, H]}. */
        public Builder projection(MemorySegment dWhr) {
            this.dWhr = dWhr;
            return this;
        }

        /** Gradient of the peepholes {@code [3H]}. */
        public Builder peepholes(MemorySegment dPeepholes) {
            this.dPeepholes = dPeepholes;
            return this;
        }

        public LstmGradients build() {
            return new LstmGradients(this);
        }
    }
}
