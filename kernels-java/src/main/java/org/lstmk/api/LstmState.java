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
        return allocate(batch, hiddenSize, hiddenSize);
    }

    /**
     * Fresh zeroed Java arrays {@code h [batch, hSize]} and {@code c [batch, cSize]}; for a whole configuration pass
     * {@code batch = layers·D·B}, {@code hSize = H_out}, {@code cSize = H}.
     *
     * @throws IllegalArgumentException naming the size that is not positive or the product that exceeds an array
     */
    public static LstmState allocate(int batch, int hSize, int cSize) {
        ArgumentChecks.positive("batch", batch);
        ArgumentChecks.positive("hSize", hSize);
        ArgumentChecks.positive("cSize", cSize);
        long h = (long) batch * hSize, c = (long) batch * cSize;
        if (Math.max(h, c) > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("state: " + batch + " × " + Math.max(hSize, cSize)
                    + " floats do not fit a Java array");
        }
        return of(new float[(int) h], new float[(int) c]);
    }

    static MemorySegment h(LstmState s) { return s == null ? null : s.h; }

    static MemorySegment c(LstmState s) { return s == null ? null : s.c; }
}
