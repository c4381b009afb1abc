package org.lstmk.api;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * The parameters of one LSTM layer in one direction, in PyTorch's layout, as the caller holds them. Row-major
 * {@code float32}, gate order {@code i, f, g, o}, {@code H_out} = {@code P} with projection, else {@code H}:
 * <ul>
 *   <li>{@code wIh [4H, I_l]}: PyTorch's {@code weight_ih_l{k}} ({@code I_l} is {@link LstmConfig#layerInputSize});</li>
 *   <li>{@code wHh [4H, H_out]}: {@code weight_hh_l{k}};</li>
 *   <li>{@code bIh [4H]}, {@code bHh [4H]}: {@code bias_ih_l{k}}, {@code bias_hh_l{k}}; both absent for a layer
 *       without bias ({@code bias=False});</li>
 *   <li>{@code wHr [P, H]}: {@code weight_hr_l{k}}, with projection only;</li>
 *   <li>{@code peepholes [3H]}: {@code P_i, P_o, P_f} in ONNX's order (its {@code P} input), with peepholes only.</li>
 * </ul>
 * A view: nothing is copied until {@link Lstm#pack}, which converts the weights once into the backend's layout.
 * Built, so that new tensors are new builder options: {@code LstmWeights.builder(wIh, wHh).bias(bIh, bHh).build()}.
 */
public final class LstmWeights {
    private final MemorySegment wIh, wHh, bIh, bHh, wHr, peepholes;

    private LstmWeights(Builder b) {
        this.wIh = b.wIh;
        this.wHh = b.wHh;
        this.bIh = b.bIh;
        this.bHh = b.bHh;
        this.wHr = b.wHr;
        this.peepholes = b.peepholes;
    }

    /** A builder from the two weight matrices; biases, projection and peepholes are options. */
    public static Builder builder(MemorySegment wIh, MemorySegment wHh) {
        return new Builder(wIh, wHh);
    }

    /** The four tensors of a plain layer; either both biases or neither may be {@code null}. */
    public static LstmWeights of(MemorySegment wIh, MemorySegment wHh, MemorySegment bIh, MemorySegment bHh) {
        return builder(wIh, wHh).bias(bIh, bHh).build();
    }

    /** Views over Java arrays; either both biases or neither may be {@code null}. */
    public static LstmWeights of(float[] wIh, float[] wHh, float[] bIh, float[] bHh) {
        return of(Segments.of(wIh, "wIh"), Segments.of(wHh, "wHh"), Segments.orNull(bIh), Segments.orNull(bHh));
    }

    public MemorySegment wIh() { return wIh; }

    public MemorySegment wHh() { return wHh; }

    /** {@code bias_ih}, or null without bias. */
    public MemorySegment bIh() { return bIh; }

    /** {@code bias_hh}, or null without bias. */
    public MemorySegment bHh() { return bHh; }

    /** {@code weight_hr [P, H]}, or null without projection. */
    public MemorySegment wHr() { return wHr; }

    /** {@code [P_i, P_o, P_f]} each {@code [H]}, or null without peepholes. */
    public MemorySegment peepholes() { return peepholes; }

    /** Whether the layer has biases. */
    public boolean hasBias() { return bIh != null; }

    /** A builder holding these tensors, to change one. */
    public Builder toBuilder() {
        return builder(wIh, wHh).bias(bIh, bHh).projection(wHr).peepholes(peepholes);
    }

    /** Builder for {@link LstmWeights}. */
    public static final class Builder {
        private MemorySegment wIh, wHh, bIh, bHh, wHr, peepholes;

        private Builder(MemorySegment wIh, MemorySegment wHh) {
            this.wIh = Objects.requireNonNull(wIh, "wIh");
            this.wHh = Objects.requireNonNull(wHh, "wHh");
        }

        /** Both biases, or both null for none. */
        public Builder bias(MemorySegment bIh, MemorySegment bHh) {
            if ((bIh == null) != (bHh == null)) {
                throw new NullPointerException("bIh and bHh must both be given or both be null (no bias); got "
                        + (bIh == null ? "bIh=null" : "bHh=null"));
            }
            this.bIh = bIh;
            this.bHh = bHh;
            return this;
        }

        /** The projection {@code weight_hr [P, H]}; null for none. */
        public Builder projection(MemorySegment wHr) {
            this.wHr = wHr;
            return this;
        }

        /** Peephole weights {@code [P_i, P_o, P_f]} (ONNX order), each {@code [H]}; null for none. */
        public Builder peepholes(MemorySegment peepholes) {
            this.peepholes = peepholes;
            return this;
        }

        public LstmWeights build() {
            return new LstmWeights(this);
        }
    }
}
