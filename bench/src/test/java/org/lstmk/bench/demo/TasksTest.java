package org.lstmk.bench.demo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class TasksTest {
    @Test
    void addingProblemTargetsAreTheSumOfTheTwoMarkedValuesOneMarkerPerHalf() {
        int t = 100, b = 64;
        Task.Batch batch = new AddingProblem(t).generate(b, new SplittableRandom(5));
        assertEquals(t * b * 2, batch.x().length);
        assertEquals(b, batch.target().length);
        for (int s = 0; s < b; s++) {
            int marks = 0, firstHalf = 0;
            double sum = 0;
            for (int step = 0; step < t; step++) {
                float value = batch.x()[(step * b + s) * 2], marker = batch.x()[(step * b + s) * 2 + 1];
                assertTrue(value >= 0 && value < 1, "value in [0, 1)");
                assertTrue(marker == 0 || marker == 1, "marker 0 or 1");
                if (marker == 1) {
                    marks++;
                    sum += value;
                    if (step < t / 2) firstHalf++;
                }
            }
            assertEquals(2, marks, "sequence " + s);
            assertEquals(1, firstHalf, "sequence " + s + ": one marker in each half");
            assertEquals(sum, batch.target()[s], 1e-6, "sequence " + s);
        }
    }

    @Test
    void generationIsSeeded() {
        AddingProblem task = new AddingProblem(30);
        Task.Batch a = task.generate(8, new SplittableRandom(11)), b = task.generate(8, new SplittableRandom(11));
        Task.Batch c = task.generate(8, new SplittableRandom(12));
        assertArrayEquals(a.x(), b.x());
        assertArrayEquals(a.target(), b.target());
        assertFalse(Arrays.equals(a.x(), c.x()));
        assertArrayEquals(Trainer.testSet(task, 8, 3).x(), Trainer.testSet(task, 8, 3).x());
        assertFalse(Arrays.equals(Trainer.testSet(task, 8, 3).x(), task.generate(8, new SplittableRandom(3)).x()),
                "the test set is not the first training batch");
    }

    @Test
    void predictingTheMeanScoresAboutOneSixth() {
        AddingProblem task = new AddingProblem(10);
        double mse = task.baselineMse(task.generate(20_000, new SplittableRandom(1)));
        assertEquals(2.0 / 12, mse, 0.006);   // the variance of the sum of two U(0, 1)
    }

    @Test
    void sineTargetsAreTheNextInputsAfterTheContext() {
        int t = 20, b = 4, c = SineTask.CONTEXT;
        Task.Batch batch = new SineTask(t).generate(b, new SplittableRandom(2));
        assertEquals((t - c) * b, batch.target().length);
        for (int s = 0; s < b; s++) {
            for (int step = c; step + 1 < t; step++) {
                assertEquals(batch.x()[(step + 1) * b + s], batch.target()[(step - c) * b + s], 0, "step " + step);
            }
        }
        double persistence = new SineTask(50).baselineMse(new SineTask(50).generate(2000, new SplittableRandom(3)));
        assertTrue(persistence > 0.01 && persistence < 0.03, "repeating the last value: MSE " + persistence);
    }
}
