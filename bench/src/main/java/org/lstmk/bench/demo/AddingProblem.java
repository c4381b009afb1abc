package org.lstmk.bench.demo;

import java.util.SplittableRandom;

/**
 * The adding problem (Hochreiter &amp; Schmidhuber 1997, in the form of Le et al. 2015): each step carries a pair
 * (value uniform in [0, 1], marker); exactly two steps are marked, one in the first half of the sequence and one in
 * the second; the target, read after the last step, is the sum of the two marked values. Predicting the mean (1.0)
 * scores the variance of a sum of two uniforms, 2/12 ≈ 0.167; solving it needs memory over up to {@code T} steps.
 */
public final class AddingProblem implements Task {
    private final int steps;

    public AddingProblem(int steps) {
        if (steps < 2) throw new IllegalArgumentException("steps: at least 2, got " + steps);
        this.steps = steps;
    }

    @Override public String name() { return "adding"; }

    @Override public int steps() { return steps; }

    @Override public int inputSize() { return 2; }

    @Override public int outputSize() { return 1; }

    @Override public int outputSteps() { return 1; }

    /** {@code x [T, B, 2]}: {@code x[t, b, 0]} the value, {@code x[t, b, 1]} the marker (0 or 1); target {@code [B]}. */
    @Override public Batch generate(int batch, SplittableRandom rnd) {
        int half = steps / 2;
        float[] x = new float[steps * batch * 2], y = new float[batch];
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < steps; t++) x[(t * batch + b) * 2] = (float) rnd.nextDouble();
            int first = rnd.nextInt(half), second = half + rnd.nextInt(steps - half);
            x[(first * batch + b) * 2 + 1] = 1;
            x[(second * batch + b) * 2 + 1] = 1;
            y[b] = x[(first * batch + b) * 2] + x[(second * batch + b) * 2];
        }
        return new Batch(batch, x, y);
    }

    @Override public String baselineName() { return "predicting the mean (1.0)"; }

    @Override public double baselineMse(Batch batch) {
        float[] mean = new float[batch.batch()];
        java.util.Arrays.fill(mean, 1f);
        return Mse.loss(mean, batch.target(), batch.batch());
    }

    @Override public double targetMse() { return 0.01; }
}
