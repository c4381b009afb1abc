package org.lstmk.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.lstmk.reference.ReferenceBackend;
import org.lstmk.verify.RandomData;

/**
 * The rules of the whole-layer API: weights per layer and direction with exactly the tensors the configuration's
 * features need, states {@code [L·D, B, ·]}, lengths in {@code [1, T]}, single steps only on a single layer. Each
 * rejected call names the argument and leaves the outputs untouched.
 */
class StackValidationTest {
    static final int I = 3, H = 5, P = 2, T = 4, B = 3;
    static final LstmConfig STACK = LstmConfig.builder(I, H).layers(2).bidirectional(true).projectionSize(P)
            .peepholes(true).build();

    static StackWeights weights(LstmConfig cfg, long seed) {
        RandomData r = new RandomData(seed);
        StackWeights.Builder b = StackWeights.builder(cfg);
        for (int l = 0; l < cfg.layers(); l++) {
            for (int d = 0; d < cfg.directions(); d++) b.set(l, d, r.weights(cfg, l));
        }
        return b.build();
    }

    static <T extends Throwable> void assertMessage(Class<T> type, String message, Executable call) {
        assertEquals(message, assertThrows(type, call).getMessage());
    }

    @Test
    void stackWeightsMustBeComplete() {
        assertMessage(IllegalStateException.class, "weights of layer 1 direction 0 are not set",
                () -> StackWeights.builder(STACK).set(0, 0, weights(STACK, 1).get(0, 0))
                        .set(0, 1, weights(STACK, 1).get(0, 1)).build());
        assertMessage(IllegalArgumentException.class, "layers: expected 4 (layers × directions) weight sets for "
                + STACK + ", got 1", () -> StackWeights.of(STACK, weights(STACK, 1).get(0, 0)));
    }

    @Test
    void eachLayerDirectionIsCheckedByName() {
        try (Lstm lstm = Lstm.builder(STACK).backend(ReferenceBackend.NAME).build()) {
            StackWeights good = weights(STACK, 2);
            assertMessage(IllegalArgumentException.class, "weights: this engine runs 2 layer(s) in both directions; "
                    + "pack a StackWeights with one LstmWeights per layer and direction", () -> lstm.pack(good.get(0, 0)));
            // Layer 1 reads [forward | reverse] of layer 0: I_1 = 2·P = 4.
            LstmWeights shortIh = good.get(1, 1).toBuilder().build();
            StackWeights bad = StackWeights.builder(STACK).set(0, 0, good.get(0, 0)).set(0, 1, good.get(0, 1))
                    .set(1, 0, good.get(1, 0)).set(1, 1, LstmWeights.builder(good.get(0, 0).wIh(), shortIh.wHh())
                            .bias(shortIh.bIh(), shortIh.bHh()).projection(shortIh.wHr()).peepholes(shortIh.peepholes())
                            .build()).build();
            assertMessage(IllegalArgumentException.class, "l1_reverse.wIh: expected at least 80 floats for [4H=20, I=4], "
                    + "got 60 (240 bytes)", () -> lstm.pack(bad));
            StackWeights noProjection = replace(good, good.get(0, 1).toBuilder().projection(null).build());
            assertMessage(NullPointerException.class, "l0_reverse.wHr: required [P=2, H=5] input is null",
                    () -> lstm.pack(noProjection));
        }
    }

    @Test
    void featureTensorsWithoutTheFeatureAreRefused() {
        LstmConfig plain = LstmConfig.of(I, H);
        try (Lstm lstm = Lstm.builder(plain).backend(ReferenceBackend.NAME).build()) {
            LstmWeights w = new RandomData(3).weights(plain);
            MemorySegment extra = MemorySegment.ofArray(new float[3 * H]);
            assertMessage(IllegalArgumentException.class, "peepholes: given, but the configuration has no peepholes",
                    () -> lstm.pack(w.toBuilder().peepholes(extra).build()));
            assertMessage(IllegalArgumentException.class, "wHr: given, but the configuration has no projection",
                    () -> lstm.pack(w.toBuilder().projection(extra).build()));
        }
    }

    @Test
    void statesAreLayersTimesDirectionsAndOutputsStayUntouched() {
        try (Lstm lstm = Lstm.builder(STACK).backend(ReferenceBackend.NAME).build();
             PackedWeights w = lstm.pack(weights(STACK, 4))) {
            MemorySegment x = MemorySegment.ofArray(new float[T * B * I]);
            float[] y = new float[T * B * 2 * P];
            java.util.Arrays.fill(y, 7f);
            float[] h0 = new float[B * P]; // one layer-direction's worth: too short for [L·D=4, B=3, P=2]
            assertMessage(IllegalArgumentException.class, "initial.h: expected at least 24 floats for "
                    + "[L·D=4, B=3, P=2], got 6 (24 bytes)",
                    () -> lstm.forward(w, T, B, x, LstmState.of(h0, null), MemorySegment.ofArray(y), null));
            assertArrayEquals(filled(y.length, 7f), y, "y untouched");
            assertMessage(IllegalArgumentException.class, "y: expected at least 48 floats for [T=4, B=3, D·P=4], got 24 "
                    + "(96 bytes)", () -> lstm.forward(w, T, B, x, null, MemorySegment.ofArray(new float[24]), null));
        }
    }

    @Test
    void lengthsAreWithinTheSteps() {
        assertMessage(IllegalArgumentException.class, "lengths[1] must be in [1, steps=4], got 5",
                () -> SequenceBatch.of(4, new int[] {1, 5}));
        assertMessage(IllegalArgumentException.class, "lengths[0] must be in [1, steps=4], got 0",
                () -> SequenceBatch.of(4, new int[] {0}));
        assertMessage(IllegalArgumentException.class, "batch (lengths.length) must be >= 1, got 0",
                () -> SequenceBatch.of(4, new int[0]));
        assertMessage(NullPointerException.class, "lengths", () -> SequenceBatch.of(4, null));
        int[] caller = {3, 1};
        SequenceBatch s = SequenceBatch.of(4, caller);
        caller[0] = 4;
        assertEquals(3, s.length(0), "the lengths are copied");
    }

    @Test
    void singleStepsAndLayerGradientsNeedASingleLayer() {
        try (Lstm lstm = Lstm.builder(STACK).backend(ReferenceBackend.NAME).build();
             PackedWeights w = lstm.pack(weights(STACK, 5));
             TrainingWorkspace ws = lstm.newWorkspace(T, B)) {
            MemorySegment x = MemorySegment.ofArray(new float[T * B * I]);
            assertMessage(IllegalStateException.class, "cellForward: a single step runs one layer in one direction, "
                    + "this engine runs 2 layer(s) in both directions; use one single-layer engine per layer and "
                    + "direction for your own time loop",
                    () -> lstm.cellForward(w, B, x, null, LstmState.allocate(B, H), null));
            lstm.forwardTraining(w, T, B, x, null, MemorySegment.ofArray(new float[T * B * 2 * P]), null, ws);
            assertMessage(IllegalArgumentException.class, "gradients: this engine runs 2 layer(s) in both directions; "
                    + "pass a StackGradients", () -> lstm.backward(w, ws, x, MemorySegment.ofArray(new float[T * B * 2 * P]),
                    null, null, null, LstmGradients.allocate(STACK), GradientMode.OVERWRITE));
            assertMessage(IllegalArgumentException.class, "workspace: sized for steps <= 4 and batch <= 3, got steps=5, "
                    + "batch=3", () -> lstm.forwardTraining(w, SequenceBatch.of(5, new int[] {5, 1, 2}),
                    MemorySegment.ofArray(new float[5 * B * I]), null, MemorySegment.ofArray(new float[5 * B * 2 * P]),
                    null, ws));
        }
    }

    @Test
    void rejectScansOnlyWhatIsRead() {
        LstmConfig cfg = LstmConfig.builder(I, H).nonFinitePolicy(NonFinitePolicy.REJECT).layout(Layout.BATCH_MAJOR).build();
        try (Lstm lstm = Lstm.builder(cfg).backend(ReferenceBackend.NAME).build();
             PackedWeights w = lstm.pack(new RandomData(6).weights(cfg))) {
            SequenceBatch seq = SequenceBatch.of(T, new int[] {2, 4, 1});
            float[] x = new float[T * B * I];
            // Batch-major: sequence 0's steps 2 and 3 are padding; NaN there is never read.
            java.util.Arrays.fill(x, 2 * I, 4 * I, Float.NaN);
            MemorySegment y = MemorySegment.ofArray(new float[T * B * H]);
            lstm.forward(w, seq, MemorySegment.ofArray(x), null, y, null);
            x[(T + 3) * I] = Float.POSITIVE_INFINITY;   // sequence 1, step 3: valid
            assertMessage(IllegalArgumentException.class, "x: element " + (T + 3) * I + " is Infinity (NonFinitePolicy.REJECT)",
                    () -> lstm.forward(w, seq, MemorySegment.ofArray(x), null, y, null));
        }
    }

    @Test
    void sizesThatOverflowALongAreCaughtBeforeAnyAllocation() {
        try (Lstm lstm = Lstm.builder(LstmConfig.of(I, H)).backend(ReferenceBackend.NAME).build()) {
            // (2³¹ − 1 + 1) · 2³⁰ · 20 wraps around in a long; the check must still refuse it by name.
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> lstm.newWorkspace(Integer.MAX_VALUE, 1 << 30));
            assertEquals(true, e.getMessage().startsWith("workspace: (maxSteps + 1) × maxBatch × 4H = 46116860184273880000 elements"),
                    e.getMessage());
        }
        assertMessage(IllegalArgumentException.class, "batch must be >= 1, got -1", () -> LstmState.allocate(-1, 4));
        assertMessage(IllegalArgumentException.class, "state: 65536 × 65536 floats do not fit a Java array",
                () -> LstmState.allocate(1 << 16, 1 << 16));
    }

    @Test
    void aSegmentOfAnotherThreadIsRefusedBeforeAnythingIsWritten() throws Exception {
        LstmConfig cfg = LstmConfig.of(I, H);
        try (Lstm lstm = Lstm.builder(cfg).backend(ReferenceBackend.NAME).build();
             PackedWeights w = lstm.pack(new RandomData(8).weights(cfg));
             java.lang.foreign.Arena confined = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment y = MemorySegment.ofArray(filled(T * B * H, 7f));
            MemorySegment hT = confined.allocate((long) B * H * Float.BYTES);
            java.util.concurrent.atomic.AtomicReference<Throwable> thrown = new java.util.concurrent.atomic.AtomicReference<>();
            Thread other = new Thread(() -> {
                try {
                    lstm.forward(w, T, B, MemorySegment.ofArray(new float[T * B * I]), null, y, new LstmState(hT, null));
                } catch (Throwable t) {
                    thrown.set(t);
                }
            });
            other.start();
            other.join(60_000);
            assertEquals("last.h: memory segment is confined to another thread (allocate it from a shared or global "
                    + "arena, or call from the thread that owns it)", thrown.get().getMessage());
            assertArrayEquals(filled(T * B * H, 7f), y.toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT), "y untouched");
        }
    }

    @Test
    void rejectScansGradientsThatAccumulateReadsBack() {
        LstmConfig cfg = LstmConfig.builder(I, H).nonFinitePolicy(NonFinitePolicy.REJECT).build();
        try (Lstm lstm = Lstm.builder(cfg).backend(ReferenceBackend.NAME).build();
             PackedWeights w = lstm.pack(new RandomData(9).weights(cfg));
             TrainingWorkspace ws = lstm.newWorkspace(T, B)) {
            MemorySegment x = MemorySegment.ofArray(new float[T * B * I]), dy = MemorySegment.ofArray(new float[T * B * H]);
            lstm.forwardTraining(w, T, B, x, null, MemorySegment.ofArray(new float[T * B * H]), null, ws);
            LstmGradients g = LstmGradients.allocate(cfg);
            g.dWhh().setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, 3, Float.NaN);
            lstm.backward(w, ws, x, dy, null, null, null, g, GradientMode.OVERWRITE);   // overwritten: not read
            g.dWhh().setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, 3, Float.NaN);
            assertMessage(IllegalArgumentException.class, "gradients.dWhh: element 3 is NaN (NonFinitePolicy.REJECT)",
                    () -> lstm.backward(w, ws, x, dy, null, null, null, g, GradientMode.ACCUMULATE));
        }
    }

    private static StackWeights replace(StackWeights w, LstmWeights l0Reverse) {
        return StackWeights.builder(STACK).set(0, 0, w.get(0, 0)).set(0, 1, l0Reverse).set(1, 0, w.get(1, 0))
                .set(1, 1, w.get(1, 1)).build();
    }

    private static float[] filled(int n, float v) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, v);
        return a;
    }
}
