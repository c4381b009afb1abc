package org.lstmk.bench.peers;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmWeights;
import org.lstmk.verify.RandomData;

/**
 * One benchmark problem: a single-layer LSTM, {@code I = H}, time-major {@code x [T,B,I]}, zero initial state, with
 * weights in PyTorch's layout ({@code wIh [4H,I]}, {@code wHh [4H,H]}, {@code bIh}, {@code bHh}; gates i, f, g, o)
 * drawn from a seed as PyTorch initialises them, input uniform in ±1. Every peer converts these same arrays.
 */
public record Problem(int hidden, int batch, int steps, float[] wIh, float[] wHh, float[] bIh, float[] bHh, float[] x,
                      float[] dy) {
    /** {@code shape} is {@code HxBxT}. */
    public static Problem of(String shape, long seed) {
        String[] p = shape.split("x");
        return of(Integer.parseInt(p[0]), Integer.parseInt(p[1]), Integer.parseInt(p[2]), seed);
    }

    public static Problem of(int hidden, int batch, int steps, long seed) {
        RandomData rnd = new RandomData(seed);
        LstmWeights w = rnd.weights(LstmConfig.of(hidden, hidden));
        float[] x = rnd.uniform(steps * batch * hidden, 1);
        float[] dy = rnd.uniform(steps * batch * hidden, 1);
        return new Problem(hidden, batch, steps, arr(w.wIh()), arr(w.wHh()), arr(w.bIh()), arr(w.bHh()), x, dy);
    }

    public int input() {
        return hidden;
    }

    public LstmConfig config() {
        return LstmConfig.of(hidden, hidden);
    }

    public LstmWeights weights() {
        return LstmWeights.of(wIh, wHh, bIh, bHh);
    }

    /** The first {@code t} steps of this problem (same weights). */
    public Problem prefix(int t) {
        float[] xs = java.util.Arrays.copyOf(x, t * batch * hidden);
        float[] dys = java.util.Arrays.copyOf(dy, t * batch * hidden);
        return new Problem(hidden, batch, t, wIh, wHh, bIh, bHh, xs, dys);
    }

    /** Forward FLOPs: {@code 2·T·B·4H·(I+H)}. */
    public double flops() {
        return 2.0 * steps * batch * 4.0 * hidden * (input() + hidden);
    }

    public String shape() {
        return hidden + "x" + batch + "x" + steps;
    }

    /** Per-gate blocks of a {@code [4H, n]} matrix (or {@code [4H]} vector with n = 1) reordered: {@code order[k]} = source gate of target gate k (source i, f, g, o = 0..3). */
    static float[] regate(float[] a, int hidden, int[] order) {
        int n = a.length / (4 * hidden);
        float[] r = new float[a.length];
        for (int k = 0; k < 4; k++)
            System.arraycopy(a, order[k] * hidden * n, r, k * hidden * n, hidden * n);
        return r;
    }

    private static float[] arr(MemorySegment s) {
        return s.toArray(ValueLayout.JAVA_FLOAT);
    }
}
