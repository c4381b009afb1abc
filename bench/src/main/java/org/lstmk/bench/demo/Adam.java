package org.lstmk.bench.demo;

import java.util.List;

/**
 * Adam (Kingma &amp; Ba 2015) over a list of parameter tensors held as {@code float[]}, with bias correction:
 * {@code m = β1·m + (1−β1)·g}, {@code v = β2·v + (1−β2)·g²}, {@code p −= lr · m̂ / (√v̂ + ε)} where
 * {@code m̂ = m / (1−β1^t)}, {@code v̂ = v / (1−β2^t)}. Arithmetic in double, stored in float. Also the global-norm
 * gradient clipping that goes with it.
 */
public final class Adam {
    private final List<float[]> params;
    private final float[][] m, v;
    private final double beta1, beta2, eps;
    private double lr;
    private int t;

    public Adam(List<float[]> params, double lr) {
        this(params, lr, 0.9, 0.999, 1e-8);
    }

    public Adam(List<float[]> params, double lr, double beta1, double beta2, double eps) {
        this.params = List.copyOf(params);
        this.lr = lr;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        m = new float[this.params.size()][];
        v = new float[this.params.size()][];
        for (int i = 0; i < m.length; i++) {
            m[i] = new float[this.params.get(i).length];
            v[i] = new float[this.params.get(i).length];
        }
    }

    public double learningRate() { return lr; }

    public void learningRate(double lr) { this.lr = lr; }

    /** Steps taken so far. */
    public int steps() { return t; }

    /** One update from {@code grads}, one tensor per parameter tensor, in the same order and sizes. */
    public void step(List<float[]> grads) {
        if (grads.size() != params.size()) {
            throw new IllegalArgumentException("grads: " + grads.size() + " tensors for " + params.size() + " parameters");
        }
        t++;
        double c1 = 1 - Math.pow(beta1, t), c2 = 1 - Math.pow(beta2, t);
        for (int i = 0; i < m.length; i++) {
            float[] p = params.get(i), g = grads.get(i), mi = m[i], vi = v[i];
            if (g.length != p.length) {
                throw new IllegalArgumentException("grads[" + i + "]: " + g.length + " values for " + p.length + " parameters");
            }
            for (int k = 0; k < p.length; k++) {
                double gk = g[k];
                double mk = beta1 * mi[k] + (1 - beta1) * gk;
                double vk = beta2 * vi[k] + (1 - beta2) * gk * gk;
                mi[k] = (float) mk;
                vi[k] = (float) vk;
                p[k] = (float) (p[k] - lr * (mk / c1) / (Math.sqrt(vk / c2) + eps));
            }
        }
    }

    /** The L2 norm of all tensors together. */
    public static double globalNorm(List<float[]> grads) {
        double s = 0;
        for (float[] g : grads) for (float x : g) s += (double) x * x;
        return Math.sqrt(s);
    }

    /**
     * Scales all tensors by {@code maxNorm / norm} when their global norm exceeds {@code maxNorm}.
     * @return the norm before clipping
     */
    public static double clipGlobalNorm(List<float[]> grads, double maxNorm) {
        double norm = globalNorm(grads);
        if (norm > maxNorm) {
            float scale = (float) (maxNorm / norm);
            for (float[] g : grads) for (int k = 0; k < g.length; k++) g[k] *= scale;
        }
        return norm;
    }
}
