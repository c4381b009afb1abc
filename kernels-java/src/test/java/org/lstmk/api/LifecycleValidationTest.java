package org.lstmk.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lstmk.api.CallFixture.B;
import static org.lstmk.api.CallFixture.H;
import static org.lstmk.api.CallFixture.I;
import static org.lstmk.api.CallFixture.T;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.lstmk.api.CallFixture.Op;
import org.lstmk.reference.ReferenceBackend;
import org.lstmk.verify.RandomData;

/**
 * The rules about objects rather than buffers: closed engine, weights or workspace; weights or workspace of another
 * engine; backward without a training forward or with other weights; sizes beyond the workspace; bias gradients
 * for a bias-less layer; non-positive sizes and null arguments. Every rejected call leaves its outputs (and the
 * workspace's record) untouched.
 */
class LifecycleValidationTest {

    @ParameterizedTest
    @EnumSource(Op.class)
    void closedEngineRejectsEveryCall(Op op) {
        try (CallFixture f = new CallFixture(NonFinitePolicy.PROPAGATE)) {
            ApiCall call = f.call(op);
            f.lstm.close();
            f.lstm.close(); // closing twice is harmless
            call.assertFails(IllegalStateException.class, "engine has been closed");
        }
    }

    @Test
    void closedEngineCannotCreateWorkspaces() {
        try (CallFixture f = new CallFixture(NonFinitePolicy.PROPAGATE)) {
            f.lstm.close();
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> f.lstm.newWorkspace(1, 1));
            assertEquals("engine has been closed", e.getMessage());
        }
    }

    @ParameterizedTest
    @EnumSource(value = Op.class, names = {"FORWARD", "FORWARD_TRAINING", "BACKWARD", "CELL_FORWARD", "CELL_BACKWARD"})
    void closedWeightsAreRejected(Op op) {
        try (CallFixture f = new CallFixture(NonFinitePolicy.PROPAGATE)) {
            ApiCall call = f.call(op);
            f.weights.close();
            f.weights.close();
            assertTrue(f.weights.isClosed());
            call.assertFails(IllegalStateException.class, "weights: packed weights have been closed");
        }
    }

    @ParameterizedTest
    @EnumSource(value = Op.class, names = {"FORWARD_TRAINING", "BACKWARD"})
    void closedWorkspaceIsRejected(Op op) {
        try (CallFixture f = new CallFixture(NonFinitePolicy.PROPAGATE)) {
            ApiCall call = f.call(op);
            f.workspace.close();
            f.workspace.close();
            assertTrue(f.workspace.isClosed());
            call.assertFails(IllegalStateException.class, "workspace: has been closed");
        }
    }

    @Test
    void weightsOfAnotherEngineOnTheSameBackendAreShared() {
        LstmConfig cfg = LstmConfig.of(I, H);
        RandomData rnd = new RandomData(7);
        LstmWeights raw = rnd.weights(cfg);
        float[] x = rnd.uniform(T * B * I, 1), dy = rnd.uniform(T * B * H, 1);
        try (Lstm a = Lstm.builder(cfg).backend(ReferenceBackend.NAME).verify(false).build();
             Lstm b = Lstm.builder(cfg).backend(ReferenceBackend.NAME).verify(false).build();
             PackedWeights own = b.pack(raw);
             PackedWeights shared = a.pack(raw)) {
            // one packed copy serves both engines, with the results of each engine's own copy
            assertArrayEquals(b.forward(own, T, B, x), b.forward(shared, T, B, x));
            float[] dxOwn = new float[T * B * I], dxShared = new float[T * B * I];
            for (PackedWeights w : new PackedWeights[] {own, shared}) {
                try (TrainingWorkspace ws = b.newWorkspace(T, B)) {
                    b.forwardTraining(w, T, B, MemorySegment.ofArray(x), null, MemorySegment.ofArray(new float[T * B * H]),
                            null, ws);
                    b.backward(w, ws, MemorySegment.ofArray(x), MemorySegment.ofArray(dy), null,
                            MemorySegment.ofArray(w == own ? dxOwn : dxShared), null, null, GradientMode.OVERWRITE);
                }
            }
            assertArrayEquals(dxOwn, dxShared);
        }
    }

    @ParameterizedTest
    @EnumSource(value = Op.class, names = {"FORWARD", "FORWARD_TRAINING", "BACKWARD", "CELL_FORWARD", "CELL_BACKWARD"})
    void weightsOfAnotherConfigurationAreRejected(Op op) {
        try (CallFixture f = new CallFixture(NonFinitePolicy.PROPAGATE);
             CallFixture other = new CallFixture(NonFinitePolicy.REJECT)) {
            ApiCall call = f.call(op);
            f.weights = other.weights;   // same shapes and backend, another configuration
            call.assertFails(IllegalArgumentException.class, "weights: packed for LstmConfig[");
        }
    }

    @Test
    void weightsOfABackendThatCannotShareAreRejectedByItsOtherEngines() {
        LstmConfig cfg = LstmConfig.of(3, 5);
        try (Lstm a = Lstm.builder(cfg).backend(org.lstmk.dispatch.FlippedGateTestProvider.NAME).verify(false).build();
             Lstm b = Lstm.builder(cfg).backend(org.lstmk.dispatch.FlippedGateTestProvider.NAME).verify(false).build();
             PackedWeights w = a.pack(new RandomData(1).weights(cfg))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> b.forward(w, 1, 1, new float[3]));
            assertTrue(e.getMessage().startsWith("weights: packed weights belong to another engine"), e.getMessage());
            a.forward(w, 1, 1, new float[3]);   // its own engine runs it
        }
    }

    @Test
    void weightsOfAnotherBackendAreRejected() {
        LstmConfig cfg = LstmConfig.of(3, 5);
        try (Lstm ref = Lstm.builder(cfg).backend(ReferenceBackend.NAME).verify(false).build();
             Lstm verified = Lstm.builder(cfg).backend(ReferenceBackend.NAME).verify(true).build();
             PackedWeights w = ref.pack(new RandomData(1).weights(cfg))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> verified.forward(w, 1, 1, new float[3]));
            assertTrue(e.getMessage().startsWith("weights: packed by the reference backend"), e.getMessage());
        }
    }

    @ParameterizedTest
    @EnumSource(value = Op.class, names = {"FORWARD_TRAINING", "BACKWARD"})
    void workspaceOfAnotherEngineIsRejected(Op op) {
        try (CallFixture f = new CallFixture(NonFinitePolicy.PROPAGATE);
             CallFixture other = new CallFixture(NonFinitePolicy.PROPAGATE)) {
            ApiCall call = f.call(op);
            TrainingWorkspace own = f.workspace;
            f.workspace = other.workspace;
            try {
                call.assertFails(IllegalArgumentException.class, "workspace: belongs to another engine");
            } finally {
                f.workspace = own;
            }
        }
    }

    @Test
    void backwardWithoutATrainingForwardIsRejected() {
        try (CallFixture f = new CallFixture(NonFinitePolicy.PROPAGATE);
             TrainingWorkspace fresh = f.lstm.newWorkspace(T, B)) {
            assertEquals(0, fresh.steps());
            ApiCall call = f.backward();
            TrainingWorkspace used = f.workspace;
            f.workspace = fresh;
            try {
                call.assertFails(IllegalStateException.class, "workspace: holds no training forward; call forwardTraining first");
            } finally {
                f.workspace = used;
            }
        }
    }

    @Test
    void backwardWithOtherWeightsThanTheForwardIsRejected() {
        try (CallFixture f = new CallFixture(NonFinitePolicy.PROPAGATE);
             PackedWeights second = f.lstm.pack(f.rawWeights)) { // equal values, but not the weights forward used
            ApiCall call = f.backward();
            PackedWeights used = f.weights;
            f.weights = second;
            try {
                call.assertFails(IllegalArgumentException.class,
                        "weights: differ from those of the training forward stored in the workspace");
            } finally {
                f.weights = used;
            }
        }
    }

    @ParameterizedTest(name = "steps {0}, batch {1}")
    @org.junit.jupiter.params.provider.CsvSource({"5, 2", "4, 3", "9, 9"})
    void trainingBeyondTheWorkspaceIsRejected(int steps, int batch) {
        try (CallFixture f = new CallFixture(NonFinitePolicy.PROPAGATE)) {
            float[] y = filled(steps * batch * H);
            MemorySegment x = MemorySegment.ofArray(new float[steps * batch * I]);
            String before = f.workspaceState();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> f.lstm.forwardTraining(
                    f.weights, steps, batch, x, null, MemorySegment.ofArray(y), null, f.workspace));
            assertEquals("workspace: sized for steps <= " + T + " and batch <= " + B + ", got steps=" + steps
                    + ", batch=" + batch, e.getMessage());
            assertArrayEquals(filled(y.length), y, "y untouched");
            assertEquals(before, f.workspaceState(), "the workspace still holds the earlier forward");
        }
    }

    @Test
    void aRejectedTrainingForwardLeavesTheEarlierOneUsable() {
        // Backward after a rejected forwardTraining works on the forward that succeeded before, unchanged.
        try (CallFixture f = new CallFixture(NonFinitePolicy.PROPAGATE);
             CallFixture g = new CallFixture(NonFinitePolicy.PROPAGATE)) {
            ApiCall training = f.forward(true);
            ApiCall rejected = training.with("y", training.resized("y", -1));
            rejected.assertFails(IllegalArgumentException.class, "y: expected at least");
            g.forward(true); // keeps g's random stream in step with f's
            ApiCall after = f.backward(), untouched = g.backward();
            after.run();
            untouched.run();
            BufferValidationTest.assertOutputsEqual(untouched.outputValues(), after.outputValues());
        }
    }

    @ParameterizedTest
    @EnumSource(value = Op.class, names = {"BACKWARD", "CELL_BACKWARD"})
    void biasGradientsForABiasLessLayerAreRejected(Op op) {
        try (CallFixture f = new CallFixture(NonFinitePolicy.PROPAGATE, false)) {
            float[] db = filled(4 * H);
            ApiCall call = f.call(op).with("gradients.dWih", MemorySegment.ofArray(filled(4 * H * I)));
            // The fixture's bias-less calls have no bias gradients; give some, through a call that has them.
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
                if (op == Op.BACKWARD) {
                    f.lstm.backward(f.weights, f.workspace, call.args.get("x"), call.args.get("dy"), null,
                            call.args.get("dx"), null, grads(db), GradientMode.OVERWRITE);
                } else {
                    f.lstm.cellBackward(f.weights, B, call.args.get("x"), null, call.args.get("gates"), null,
                            call.args.get("dx"), null, grads(db), GradientMode.OVERWRITE);
                }
            });
            assertEquals("gradients.dbIh: the weights have no bias, so bias gradients must be null", e.getMessage());
            assertArrayEquals(filled(db.length), db, "bias gradient untouched");
            assertArrayEquals(filled(4 * H * I), call.read("gradients.dWih"), "dWih untouched");
            assertArrayEquals(filled((int) call.arg("dx").floats()), call.read("dx"), "dx untouched");
            // Without bias gradients the same call is fine.
            call.run();
        }
    }

    private static LstmGradients grads(float[] db) {
        return LstmGradients.of(filled(4 * H * I), filled(4 * H * H), db, filled(db.length));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -1, Integer.MIN_VALUE})
    void nonPositiveStepsOrBatchAreRejected(int bad) {
        try (CallFixture f = new CallFixture(NonFinitePolicy.PROPAGATE)) {
            ApiCall fw = f.forward(false);
            MemorySegment x = fw.args.get("x"), y = fw.args.get("y");
            String steps = "steps must be >= 1, got " + bad, batch = "batch must be >= 1, got " + bad;
            assertMessage(steps, () -> f.lstm.forward(f.weights, bad, B, x, null, y, null));
            assertMessage(batch, () -> f.lstm.forward(f.weights, T, bad, x, null, y, null));
            assertMessage(steps, () -> f.lstm.forwardTraining(f.weights, bad, B, x, null, y, null, f.workspace));
            assertMessage(batch, () -> f.lstm.forwardTraining(f.weights, T, bad, x, null, y, null, f.workspace));
            ApiCall cell = f.cellForward();
            assertMessage(batch, () -> f.lstm.cellForward(f.weights, bad, cell.args.get("x"), null,
                    new LstmState(cell.args.get("next.h"), cell.args.get("next.c")), null));
            ApiCall cellBack = f.cellBackward();
            assertMessage(batch, () -> f.lstm.cellBackward(f.weights, bad, cellBack.args.get("x"), null,
                    cellBack.args.get("gates"), null, cellBack.args.get("dx"), null, null, GradientMode.OVERWRITE));
            assertMessage("maxSteps must be >= 1, got " + bad, () -> f.lstm.newWorkspace(bad, 1));
            assertMessage("maxBatch must be >= 1, got " + bad, () -> f.lstm.newWorkspace(1, bad));
            for (ApiCall c : new ApiCall[] {fw, cell, cellBack}) {
                for (ApiCall.Arg a : c.outputs()) {
                    assertArrayEquals(filled((int) a.floats()), c.read(a.name()), c + ": " + a.name() + " untouched");
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -1, -7})
    void arrayConvenienceRejectsNonPositiveSizesByName(int bad) {
        // Regression: forward(w, steps, batch, float[]) sized its result before validating, so a negative size
        // escaped as NegativeArraySizeException instead of the API's message.
        try (CallFixture f = new CallFixture(NonFinitePolicy.PROPAGATE)) {
            float[] x = new float[T * B * I];
            assertMessage("steps must be >= 1, got " + bad, () -> f.lstm.forward(f.weights, bad, B, x));
            assertMessage("batch must be >= 1, got " + bad, () -> f.lstm.forward(f.weights, T, bad, x));
        }
    }

    @Test
    void arrayConvenienceRejectsAnOutputTooLargeForAnArray() {
        // Regression: the result's size overflowed in Math.multiplyExact (ArithmeticException) before validation.
        try (CallFixture f = new CallFixture(NonFinitePolicy.PROPAGATE)) {
            assertMessage("y: [T=100000, B=100000, H=5] has 50000000000 elements, more than the supported 2147483647",
                    () -> f.lstm.forward(f.weights, 100_000, 100_000, new float[16]));
        }
    }

    @Test
    void arrayConvenienceChecksItsInput() {
        try (CallFixture f = new CallFixture(NonFinitePolicy.PROPAGATE)) {
            NullPointerException npe = assertThrows(NullPointerException.class, () -> f.lstm.forward(f.weights, T, B, null));
            assertTrue(npe.getMessage().startsWith("x"), npe.getMessage());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> f.lstm.forward(f.weights, T, B, new float[T * B * I - 1]));
            assertTrue(e.getMessage().startsWith("x: expected at least " + T * B * I + " floats"), e.getMessage());
            assertEquals(T * B * H, f.lstm.forward(f.weights, T, B, new float[T * B * I]).length);
        }
    }

    @Test
    void shapesTooLargeForOneBufferAreRejected() {
        try (CallFixture f = new CallFixture(NonFinitePolicy.PROPAGATE)) {
            float[] y = filled(16);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> f.lstm.forward(f.weights,
                    100_000, 100_000, MemorySegment.ofArray(new float[16]), null, MemorySegment.ofArray(y), null));
            assertEquals("x: [T=100000, B=100000, I=3] has 30000000000 elements, more than the supported 2147483647",
                    e.getMessage());
            assertArrayEquals(filled(16), y);
        }
    }

    @Test
    void workspaceTooLargeToIndexIsRejectedByName() {
        try (CallFixture f = new CallFixture(NonFinitePolicy.PROPAGATE)) {
            assertMessage("workspace: (maxSteps + 1) × maxBatch × 4H = 2000002000000 elements, more than the supported "
                    + "2147483647 (maxSteps=1000000, maxBatch=100000, H=5)", () -> f.lstm.newWorkspace(1_000_000, 100_000));
        }
    }

    @Test
    void nullObjectsAreRejectedByName() {
        try (CallFixture f = new CallFixture(NonFinitePolicy.PROPAGATE)) {
            ApiCall fw = f.forward(false), bw = f.backward(), cf = f.cellForward(), cb = f.cellBackward();
            MemorySegment x = fw.args.get("x"), y = fw.args.get("y");
            assertNpe("weights", () -> f.lstm.pack((LstmWeights) null));
            assertNpe("weights", () -> f.lstm.forward(null, T, B, x, null, y, null));
            assertNpe("workspace", () -> f.lstm.forwardTraining(f.weights, T, B, x, null, y, null, null));
            assertNpe("workspace", () -> f.lstm.backward(f.weights, null, bw.args.get("x"), bw.args.get("dy"), null,
                    null, null, null, GradientMode.OVERWRITE));
            assertNpe("mode", () -> f.lstm.backward(f.weights, f.workspace, bw.args.get("x"), bw.args.get("dy"), null,
                    bw.args.get("dx"), null, null, null));
            assertNpe("next", () -> f.lstm.cellForward(f.weights, B, cf.args.get("x"), null, null, null));
            assertNpe("mode", () -> f.lstm.cellBackward(f.weights, B, cb.args.get("x"), null, cb.args.get("gates"),
                    null, cb.args.get("dx"), null, null, null));
            for (ApiCall c : new ApiCall[] {fw, bw, cf, cb}) {
                for (ApiCall.Arg a : c.outputs()) {
                    assertArrayEquals(filled((int) a.floats()), c.read(a.name()), c + ": " + a.name() + " untouched");
                }
            }
        }
    }

    @Test
    void workspaceRecordsTheLastTrainingForward() {
        try (Lstm lstm = Lstm.builder(LstmConfig.of(I, H)).backend(ReferenceBackend.NAME).verify(false).build();
             PackedWeights w = lstm.pack(LstmWeights.of(new float[4 * H * I], new float[4 * H * H], null, null));
             TrainingWorkspace ws = lstm.newWorkspace(T, B)) {
            assertEquals(T, ws.maxSteps());
            assertEquals(B, ws.maxBatch());
            assertEquals(0, ws.steps());
            lstm.forwardTraining(w, 2, 1, MemorySegment.ofArray(new float[2 * I]), null,
                    MemorySegment.ofArray(new float[2 * H]), null, ws);
            assertEquals(2, ws.steps());
            assertEquals(1, ws.batch());
            assertEquals(ReferenceBackend.NAME, w.backend());
            assertEquals(LstmConfig.of(I, H), w.config());
        }
    }

    private static void assertMessage(String message, org.junit.jupiter.api.function.Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertEquals(message, e.getMessage());
    }

    private static void assertNpe(String name, org.junit.jupiter.api.function.Executable call) {
        NullPointerException e = assertThrows(NullPointerException.class, call);
        assertEquals(name, e.getMessage());
    }

    static float[] filled(int n) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, ApiCall.SENTINEL);
        return a;
    }
}
