package org.lstmk.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.lstmk.api.LstmWeights;
import org.lstmk.bench.demo.AddingProblem;
import org.lstmk.bench.demo.SequenceModel;
import org.lstmk.bench.demo.Task;
import org.lstmk.models.LstmModel;
import org.lstmk.models.PyTorchExporter;
import org.lstmk.models.PyTorchImporter;

class DemoCommandTest {
    @Test
    void badOptionsAreAnErrorWithExitCode2() {
        assertEquals(2, DemoCommand.run(new String[] {"--bogus"}));
        assertEquals(2, DemoCommand.run(new String[] {"--task", "nope"}));
        assertEquals(2, DemoCommand.run(new String[] {"--steps", "-3"}));
        assertEquals(2, DemoCommand.run(new String[] {"--lr", "abc"}));
        assertEquals(2, DemoCommand.run(new String[] {"--out"}));
        assertEquals(2, DemoCommand.run(new String[] {"--save"}));
    }

    /** {@code --save} writes the LSTM as a state_dict that the PyTorch importer reads back. */
    @Test
    @Timeout(value = 2, unit = TimeUnit.MINUTES)
    void saveWritesALoadableStateDict(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("adding.safetensors");
        int rc = DemoCommand.run(new String[] {"--task", "adding", "--steps", "3", "--hidden", "8", "--batch", "4",
                "--out", dir.toString(), "--save", file.toString()});
        assertEquals(1, rc, "3 steps do not solve it: exit 1, and the model is saved anyway");
        LstmModel m = PyTorchImporter.load(file);
        assertEquals(1, m.config().layers());
        assertEquals(2, m.config().inputSize());
        assertEquals(8, m.config().hiddenSize());
    }

    /** What is saved is bit for bit the trained weights (not the initial ones, not a copy taken too early). */
    @Test
    @Timeout(value = 2, unit = TimeUnit.MINUTES)
    void theSavedTensorsAreTheTrainedWeights(@TempDir Path dir) throws Exception {
        Task task = new AddingProblem(20);
        try (SequenceModel model = new SequenceModel(null, task.inputSize(), 8, 1, task.outputSize(), task.steps(),
                task.outputSteps(), 4, 0.01, 1.0, 5)) {
            float[] before = floats(model.weights().get(0, 0).wHh());
            SplittableRandom rnd = new SplittableRandom(5);
            for (int step = 0; step < 3; step++) model.trainStep(task.generate(4, rnd));
            float[] trained = floats(model.weights().get(0, 0).wHh());
            assertFalse(Arrays.equals(before, trained), "training changed W_hh");
            Path file = dir.resolve("m.safetensors");
            PyTorchExporter.save(model.weights(), file);
            LstmWeights got = PyTorchImporter.load(file).weights().get(0, 0);
            LstmWeights want = model.weights().get(0, 0);
            assertArrayEquals(floats(want.wIh()), floats(got.wIh()));
            assertArrayEquals(trained, floats(got.wHh()));
            assertArrayEquals(floats(want.bIh()), floats(got.bIh()));
            assertArrayEquals(floats(want.bHh()), floats(got.bHh()));
        }
    }

    private static float[] floats(MemorySegment s) {
        return s.toArray(ValueLayout.JAVA_FLOAT);
    }
}
