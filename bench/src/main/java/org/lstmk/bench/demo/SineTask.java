package org.lstmk.bench.demo;

import java.util.SplittableRandom;

/**
 * The textbook sequence-prediction example: next-value prediction on sine waves. Each sequence is
 * {@code sin(ω·t + φ)} with its own frequency {@code ω} (uniform in [{@value #MIN_OMEGA}, {@value #MAX_OMEGA}]
 * radians per step) and phase; the input at step {@code t} is the value at {@code t}, the target the value at
 * {@code t + 1}, at every step after the first {@value #CONTEXT} (which only give context: from one value alone the
 * next cannot be known). The model must infer each wave's frequency from what it has seen. The baseline repeats the
 * last value (its MSE is {@code 2·sin²(ω/2)} averaged over {@code ω}, ≈ 0.02).
 */
public final class SineTask implements Task {
    public static final double MIN_OMEGA = 0.1, MAX_OMEGA = 0.3;
    /** The first steps, which carry no target. */
    public static final int CONTEXT = 10;
    private final int steps;

    public SineTask(int steps) {
        if (steps <= CONTEXT) throw new IllegalArgumentException("steps: more than " + CONTEXT + ", got " + steps);
        this.steps = steps;
    }

    @Override public String name() { return "sine"; }

    @Override public int steps() { return steps; }

    @Override public int inputSize() { return 1; }

    @Override public int outputSize() { return 1; }

    @Override public int outputSteps() { return steps - CONTEXT; }

    /**
     * {@code x [T, B, 1]} and target {@code [T − C, B, 1]} for the steps from {@code C} = {@value #CONTEXT} on:
     * {@code target[t − C] = x[t + 1]}.
     */
    @Override public Batch generate(int batch, SplittableRandom rnd) {
        float[] x = new float[steps * batch], y = new float[(steps - CONTEXT) * batch];
        for (int b = 0; b < batch; b++) {
            double omega = rnd.nextDouble(MIN_OMEGA, MAX_OMEGA), phi = rnd.nextDouble(2 * Math.PI);
            for (int t = 0; t < steps; t++) {
                x[t * batch + b] = (float) Math.sin(omega * t + phi);
                if (t >= CONTEXT) y[(t - CONTEXT) * batch + b] = (float) Math.sin(omega * (t + 1) + phi);
            }
        }
        return new Batch(batch, x, y);
    }

    @Override public String baselineName() { return "repeating the last value"; }

    @Override public double baselineMse(Batch batch) {
        float[] last = java.util.Arrays.copyOfRange(batch.x(), CONTEXT * batch.batch(), batch.x().length);
        return Mse.loss(last, batch.target(), last.length);
    }

    /** A hundredth of the baseline's typical MSE. */
    @Override public double targetMse() { return 2e-5; }
}
