package org.lstmk.api;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * Caller-owned buffers that receive the weight gradients, in the same layout as {@link LstmWeights}:
 * {@code dWih [4H, I]}, {@code dWhh [4H, H]}, {@code dbIh [4H]}, {@code dbHh [4H]}. The two bias gradients are
 * equal (both biases enter the gates as a sum); both are written, as PyTorch does, or both are {@code null} for a
 * layer without bias. Whether they are overwritten or accumulated into is chosen per call by {@link GradientMode}.
 */
public record LstmGradients(MemorySegment dWih, MemorySegment dWhh, MemorySegment dbIh, MemorySegment dbHh) {

    /** @throws NullPointerException if a weight-gradient matrix is null, or exactly one bias gradient is */
    public LstmGradients {
        Objects.requireNonNull(dWih, "dWih");
        Objects.requireNonNull(dWhh, "dWhh");
        if ((dbIh == null) != (dbHh == null)) {
            throw new NullPointerException("dbIh and dbHh must both be given or both be null; got "
                    + (dbIh == null ? "dbIh=null" : "dbHh=null"));
        }
    }

    /** Views over Java arrays; either both bias gradients or neither may be {@code null}. */
    public static LstmGradients of(float[] dWih, float[] dWhh, float[] dbIh, float[] dbHh) {
        return new LstmGradients(Segments.of(dWih, "dWih"), Segments.of(dWhh, "dWhh"),
                dbIh == null ? null : MemorySegment.ofArray(dbIh), dbHh == null ? null : MemorySegment.ofArray(dbHh));
    }

    /** Fresh zeroed Java arrays sized for {@code config}, with bias gradients. */
    public static LstmGradients allocate(LstmConfig config) {
        int g = config.gateRows();
        return of(new float[g * config.inputSize()], new float[g * config.hiddenSize()], new float[g], new float[g]);
    }
}
