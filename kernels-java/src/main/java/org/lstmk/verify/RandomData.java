package org.lstmk.verify;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmWeights;

/** Reproducible random tensors for comparisons, demos and benchmarks. */
public final class RandomData {
    private final SplittableRandom rnd;

    public RandomData(long seed) {
        this.rnd = new SplittableRandom(seed);
    }

    /** {@code n} values uniform in {@code [-scale, scale)}. */
    public float[] uniform(int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) ((rnd.nextDouble() * 2 - 1) * scale);
        return a;
    }

    /** Weights of a single layer initialised as PyTorch does: uniform in {@code ±1/√H}, biases included. */
    public LstmWeights weights(LstmConfig cfg) {
        return weights(cfg, 0);
    }

    /**
     * Weights of layer {@code layer} of {@code cfg}, uniform in {@code ±1/√H} as PyTorch initialises them, biases
     * included, with projection and peepholes (uniform in {@code ±0.5}) where configured.
     */
    public LstmWeights weights(LstmConfig cfg, int layer) {
        int g = cfg.gateRows(), hid = cfg.hiddenSize();
        double k = 1 / Math.sqrt(hid);
        LstmWeights.Builder b = LstmWeights.builder(seg(uniform(g * cfg.layerInputSize(layer), k)),
                        seg(uniform(g * cfg.outputSize(), k)))
                .bias(seg(uniform(g, k)), seg(uniform(g, k)));
        if (cfg.hasProjection()) b.projection(seg(uniform(cfg.projectionSize() * hid, k)));
        if (cfg.peepholes()) b.peepholes(seg(uniform(3 * hid, 0.5)));
        return b.build();
    }

    private static MemorySegment seg(float[] a) {
        return MemorySegment.ofArray(a);
    }
}
