package org.lstmk.bench.demo;

import java.util.SplittableRandom;

/**
 * A dense (affine) layer {@code out = h·Wᵀ + b}, {@code W [O, H]}, {@code b [O]}, applied to {@code n} rows of
 * hidden states at once: the demo's readout from the LSTM's outputs.
 */
public final class DenseHead {
    private final int in, out;
    final float[] w, b, dW, dB;

    /** PyTorch's {@code nn.Linear} initialisation: {@code W, b ~ U(−1/√H, 1/√H)}. */
    public DenseHead(int in, int out, SplittableRandom rnd) {
        this.in = in;
        this.out = out;
        w = new float[out * in];
        b = new float[out];
        dW = new float[out * in];
        dB = new float[out];
        double k = 1 / Math.sqrt(in);
        for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextDouble(-k, k);
        for (int i = 0; i < b.length; i++) b[i] = (float) rnd.nextDouble(-k, k);
    }

    public int inputSize() { return in; }

    public int outputSize() { return out; }

    public float[] weight() { return w; }

    public float[] bias() { return b; }

    public float[] weightGrad() { return dW; }

    public float[] biasGrad() { return dB; }

    /** {@code y[r, o] = b[o] + Σ_j h[hOff + r·H + j]·W[o, j]} for {@code r < n}. */
    public void forward(float[] h, int hOff, int n, float[] y) {
        for (int r = 0; r < n; r++) {
            int hr = hOff + r * in;
            for (int o = 0; o < out; o++) {
                double s = b[o];
                int wo = o * in;
                for (int j = 0; j < in; j++) s += (double) h[hr + j] * w[wo + j];
                y[r * out + o] = (float) s;
            }
        }
    }

    /**
     * Given {@code dy [n, O]}: overwrites {@code dW = dyᵀ·h}, {@code db = Σ_r dy[r]}, and writes
     * {@code dh[dhOff + r·H + j] = Σ_o dy[r, o]·W[o, j]}.
     */
    public void backward(float[] h, int hOff, int n, float[] dy, float[] dh, int dhOff) {
        java.util.Arrays.fill(dW, 0);
        java.util.Arrays.fill(dB, 0);
        for (int r = 0; r < n; r++) {
            int hr = hOff + r * in, dr = dhOff + r * in;
            for (int j = 0; j < in; j++) dh[dr + j] = 0;
            for (int o = 0; o < out; o++) {
                float g = dy[r * out + o];
                dB[o] += g;
                int wo = o * in;
                for (int j = 0; j < in; j++) {
                    dW[wo + j] += g * h[hr + j];
                    dh[dr + j] += g * w[wo + j];
                }
            }
        }
    }
}
