package org.lstmk.bench.demo;

import java.util.SplittableRandom;

/**
 * A supervised sequence task on generated data: inputs {@code x [T, B, I]} (time-major) and targets
 * {@code [K, B, O]} for the last {@code K} steps ({@code K = 1}: one answer per sequence; {@code K = T}: one per step).
 */
public interface Task {
    /** A batch of generated sequences. */
    record Batch(int batch, float[] x, float[] target) {}

    String name();

    int steps();

    int inputSize();

    int outputSize();

    /** How many of the last steps carry a target. */
    int outputSteps();

    Batch generate(int batch, SplittableRandom rnd);

    /** The trivial predictor to beat, e.g. "predicting the mean (1.0)". */
    String baselineName();

    /** The trivial predictor's MSE on {@code batch}. */
    double baselineMse(Batch batch);

    /** The test MSE at or below which the demo counts as solved. */
    double targetMse();
}
