package org.lstmk.api;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * The parameters of one LSTM layer in PyTorch's layout, as the caller holds them. Row-major {@code float32},
 * gate order {@code i, f, g, o}:
 * <ul>
 *   <li>{@code wIh [4H, I]}: PyTorch's {@code weight_ih_l0};</li>
 *   <li>{@code wHh [4H, H]}: {@code weight_hh_l0};</li>
 *   <li>{@code bIh [4H]}, {@code bHh [4H]}: {@code bias_ih_l0}, {@code bias_hh_l0}; both {@code null} for a layer
 *       without bias ({@code bias=False}).</li>
 * </ul>
 * This is a view: nothing is copied until {@link Lstm#pack(LstmWeights)}, which converts the weights once into
 * the backend's preferred layout. Changing these buffers afterwards does not change packed weights.
 */
public record LstmWeights(MemorySegment wIh, MemorySegment wHh, MemorySegment bIh, MemorySegment bHh) {

    /** @throws NullPointerException if a weight matrix is null, or exactly one bias is */
    public LstmWeights {
        Objects.requireNonNull(wIh, "wIh");
        Objects.requireNonNull(wHh, "wHh");
        if ((bIh == null) != (bHh == null)) {
            throw new NullPointerException("bIh and bHh must both be given or both be null (no bias); got "
                    + (bIh == null ? "bIh=null" : "bHh=null"));
        }
    }

    /** Views over Java arrays; either both biases or neither may be {@code null}. */
    public static LstmWeights of(float[] wIh, float[] wHh, float[] bIh, float[] bHh) {
        return new LstmWeights(Segments.of(wIh, "wIh"), Segments.of(wHh, "wHh"),
                bIh == null ? null : MemorySegment.ofArray(bIh), bHh == null ? null : MemorySegment.ofArray(bHh));
    }

    /** Whether the layer has biases. */
    public boolean hasBias() { return bIh != null; }
}
