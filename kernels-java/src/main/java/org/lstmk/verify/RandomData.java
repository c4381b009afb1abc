package org.lstmk.verify;

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

    /** Weights initialised as PyTorch does: uniform in {@code ±1/√H}, biases included. */
    public LstmWeights weights(LstmConfig cfg) {
        int g = cfg.gateRows();
        double k = 1 / Math.sqrt(cfg.hiddenSize());
        return LstmWeights.of(uniform(g * cfg.inputSize(), k), uniform(g * cfg.hiddenSize(), k),
                uniform(g, k), uniform(g, k));
    }
}
