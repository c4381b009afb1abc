package org.lstmk.bench.demo;

/** Mean squared error over {@code n} values, and its gradient. */
public final class Mse {
    private Mse() {}

    /** {@code (1/n) Σ (pred − target)²}. */
    public static double loss(float[] pred, float[] target, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) {
            double d = (double) pred[i] - target[i];
            s += d * d;
        }
        return s / n;
    }

    /** Writes {@code d loss / d pred = (2/n)(pred − target)} into {@code grad} and returns the loss. */
    public static double lossAndGrad(float[] pred, float[] target, int n, float[] grad) {
        double s = 0, k = 2.0 / n;
        for (int i = 0; i < n; i++) {
            double d = (double) pred[i] - target[i];
            s += d * d;
            grad[i] = (float) (k * d);
        }
        return s / n;
    }
}
