package org.lstmk.bench.demo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Short training runs through the library's default backend: the demo's loop learns, deterministically. */
class TrainingTest {
    private static SequenceModel addingModel(int steps, long seed) {
        return new SequenceModel(null, 2, 32, 1, 1, steps, 1, 32, 0.01, 1.0, seed);
    }

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void shortAddingProblemBeatsPredictingTheMeanByAClearFactor() {
        AddingProblem task = new AddingProblem(20);
        try (SequenceModel model = addingModel(task.steps(), 1)) {
            Trainer.Result r = Trainer.train(task, model, new Trainer.Options(32, 600, 100, 500, 0.005, 1), null);
            assertTrue(r.testMse() < r.baselineMse() / 5, "test MSE " + r.testMse() + " after " + r.steps()
                    + " steps; predicting the mean: " + r.baselineMse());
            assertEquals(r.testMse(), r.evals().getLast().mse());
        }
    }

    @Test
    @Timeout(value = 2, unit = TimeUnit.MINUTES)
    void trainingIsDeterministicForABackendAndSeed() {
        AddingProblem task = new AddingProblem(12);
        List<Double> first;
        try (SequenceModel model = addingModel(task.steps(), 4)) {
            first = Trainer.train(task, model, new Trainer.Options(16, 30, 10, 64, 0, 9), null).trainLoss();
        }
        try (SequenceModel model = addingModel(task.steps(), 4)) {
            assertEquals(first, Trainer.train(task, model, new Trainer.Options(16, 30, 10, 64, 0, 9), null).trainLoss());
        }
    }

    @Test
    @Timeout(value = 2, unit = TimeUnit.MINUTES)
    void generateContinuesFromTheModelsOwnPredictions(@TempDir Path dir) throws Exception {
        SineTask task = new SineTask(16);
        try (SequenceModel model = new SequenceModel(null, 1, 16, 2, 1, task.steps(), task.outputSteps(), 8, 0.01, 1.0,
                3)) {
            Trainer.train(task, model, new Trainer.Options(8, 20, 10, 16, 0, 3), null);
            Task.Batch one = task.generate(1, new SplittableRandom(8));
            float[] gen = model.generate(one.x(), 5);
            assertEquals(task.steps() + 5, gen.length);
            // The first T values are the one-step predictions, as predict() makes them (for its last K steps).
            assertArrayEquals(model.predict(one), java.util.Arrays.copyOfRange(gen, SineTask.CONTEXT, task.steps()), 1e-5f);
            for (float v : gen) assertTrue(Float.isFinite(v));
            Path png = dir.resolve("p.png");
            Charts.series(png, "t", "x", "y", List.of("a"), List.of(gen));
            byte[] head = java.util.Arrays.copyOf(Files.readAllBytes(png), 4);
            assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, head);
        }
    }
}
