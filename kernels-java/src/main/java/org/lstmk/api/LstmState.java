package org.lstmk.api;

import java.lang.foreign.MemorySegment;

/**
 * A pair of {@code [B, H]} buffers: hidden state {@code h} and cell state {@code c}, or their gradients.
 *
 * <p>As an input (initial state, incoming gradient) a {@code null} component, or a {@code null} {@code LstmState},
 * means zeros. As an output (final state, outgoing gradient) a {@code null} component is not computed.
 */
public record LstmState(MemorySegment h, MemorySegment c) {

    /** Views over Java arrays; either may be {@code null}. */
    public static LstmState of(float[] h, float[] c) {
        return new LstmState(h == null ? null : MemorySegment.ofArray(h), c == null ? null : MemorySegment.ofArray(c));
    }

    /** Fresh zeroed Java arrays for a batch of {@code batch} and {@code hiddenSize} units. */
    public static LstmState allocate(int batch, int hiddenSize) {
        return of(new float[Math.multiplyExact(batch, hiddenSize)], new float[Math.multiplyExact(batch, hiddenSize)]);
    }

    static MemorySegment h(LstmState s) { return s == null ? null : s.h; }

    static MemorySegment c(LstmState s) { return s == null ? null : s.c; }
}
