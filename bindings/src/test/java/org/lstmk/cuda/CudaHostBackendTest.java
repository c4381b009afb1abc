package org.lstmk.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.lstmk.api.GradientMode;
import org.lstmk.api.Layout;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmGradients;
import org.lstmk.api.LstmState;
import org.lstmk.api.LstmWeights;
import org.lstmk.api.PackedWeights;
import org.lstmk.api.TrainingWorkspace;
import org.lstmk.verify.Comparison;
import org.lstmk.verify.ConformanceSuite;
import org.lstmk.verify.ConformanceSuite.Case;
import org.lstmk.verify.RandomData;
import org.lstmk.verify.Tolerance;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The CUDA backend through the host build, beyond the conformance suite: device memory is released, results do not
 * depend on the order the emulated threads run in (a race would), runs are bit-for-bit repeatable, and layers
 * without bias work.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CudaHostBackendTest {
    private static final String BACKEND = CudaHostProvider.NAME;

    @AfterEach
    void restoreSchedule() {
        HostDevice.schedule(HostDevice.Schedule.ASCENDING);
    }

    /** Everything one training step produces. */
    private record Outputs(float[] y, float[] hT, float[] cT, float[] dx, float[] dh0, float[] dc0, float[] dWih,
                           float[] dWhh, float[] db) {
        float[][] all() { return new float[][] {y, hT, cT, dx, dh0, dc0, dWih, dWhh, db}; }
    }

    private static Outputs trainingStep(Lstm lstm, PackedWeights w, TrainingWorkspace ws, int in, int hid, int t, int b,
                                        long seed) {
        RandomData rnd = new RandomData(seed);
        float[] x = rnd.uniform(t * b * in, 1), dy = rnd.uniform(t * b * hid, 1);
        Outputs o = new Outputs(new float[t * b * hid], new float[b * hid], new float[b * hid], new float[t * b * in],
                new float[b * hid], new float[b * hid], new float[4 * hid * in], new float[4 * hid * hid],
                new float[4 * hid]);
        MemorySegment xs = MemorySegment.ofArray(x);
        lstm.forwardTraining(w, t, b, xs, null, MemorySegment.ofArray(o.y), LstmState.of(o.hT, o.cT), ws);
        lstm.backward(w, ws, xs, MemorySegment.ofArray(dy), null, MemorySegment.ofArray(o.dx),
                LstmState.of(o.dh0, o.dc0), LstmGradients.of(o.dWih, o.dWhh, o.db, new float[4 * hid]),
                GradientMode.OVERWRITE);
        return o;
    }

    @Test
    void repeatedCallsReuseDeviceMemoryAndClosingReleasesIt() {
        long baseline = HostDevice.processLiveAllocations();
        LstmConfig cfg = LstmConfig.of(7, 9);
        Lstm lstm = Lstm.builder(cfg).backend(BACKEND).verify(false).build();
        PackedWeights w = lstm.pack(new RandomData(1).weights(cfg));
        TrainingWorkspace ws = lstm.newWorkspace(6, 4);
        trainingStep(lstm, w, ws, 7, 9, 6, 4, 2);
        long afterFirst = HostDevice.processLiveAllocations();
        for (int i = 0; i < 5; i++) trainingStep(lstm, w, ws, 7, 9, 5 - i % 3, 4 - i % 2, 3 + i);
        assertEquals(afterFirst, HostDevice.processLiveAllocations(), "calls after the first allocate nothing");
        lstm.close();   // weights and workspace stay valid after the engine closes; the device stays until they go
        assertTrue(HostDevice.processLiveAllocations() > baseline, "weights and workspace still hold device memory");
        ws.close();
        w.close();
        assertEquals(baseline, HostDevice.processLiveAllocations(), "everything freed once every owner is closed");
    }

    @Test
    void resultsDoNotDependOnTheThreadSchedule() {
        Case c = new Case("schedules", 19, 21, 4, 18, Layout.TIME_MAJOR, true, 1, GradientMode.ACCUMULATE, 77);
        LstmConfig cfg = LstmConfig.of(19, 21);
        float[][] ascending = null;
        for (HostDevice.Schedule s : HostDevice.Schedule.values()) {
            HostDevice.schedule(s);
            CudaHostConformanceTest.assertPasses(c);
            try (Lstm lstm = Lstm.builder(cfg).backend(BACKEND).verify(false).build();
                 PackedWeights w = lstm.pack(new RandomData(5).weights(cfg));
                 TrainingWorkspace ws = lstm.newWorkspace(4, 18)) {
                float[][] out = trainingStep(lstm, w, ws, 19, 21, 4, 18, 6).all();
                if (ascending == null) ascending = out;
                for (int i = 0; i < out.length; i++) assertArrayEquals(ascending[i], out[i], s + ": output " + i);
            }
        }
    }

    @Test
    void resultsDoNotDependOnTheBlockLanes() {
        // One lane in ascending order is the sequential model, under which a race between blocks of one launch goes
        // unseen; five lanes in another order run neighbouring blocks at once or the other way round.
        LstmConfig cfg = LstmConfig.of(19, 21);
        int lanes = HostDevice.blockLanes();
        try {
            float[][] sequential = null;
            for (int l : new int[] {1, 5}) {
                HostDevice.blockLanes(l);
                HostDevice.schedule(l == 1 ? HostDevice.Schedule.ASCENDING : HostDevice.Schedule.SHUFFLED);
                try (Lstm lstm = Lstm.builder(cfg).backend(BACKEND).verify(false).build();
                     PackedWeights w = lstm.pack(new RandomData(5).weights(cfg));
                     TrainingWorkspace ws = lstm.newWorkspace(8, 40)) {
                    float[][] out = trainingStep(lstm, w, ws, 19, 21, 8, 40, 6).all();
                    if (sequential == null) sequential = out;
                    for (int i = 0; i < out.length; i++) assertArrayEquals(sequential[i], out[i], l + " lanes: output " + i);
                }
            }
        } finally {
            HostDevice.blockLanes(lanes);
            HostDevice.schedule(HostDevice.Schedule.ASCENDING);
        }
    }

    @Test
    void gridStrideLoopsCoverWhatTheGridDoesNot() {
        // With gridDim.y capped at 1, every kernel's y loop must walk all batch and column tiles itself.
        System.setProperty(Kernels.MAX_GRID_Y_PROPERTY, "1");
        try {
            CudaHostConformanceTest.assertPasses(new Case("grid y = 1", 70, 20, 3, 35, Layout.BATCH_MAJOR, true, 1,
                    GradientMode.ACCUMULATE, 91));
        } finally {
            System.clearProperty(Kernels.MAX_GRID_Y_PROPERTY);
        }
    }

    @Test
    void repeatedRunsAreBitForBitEqual() {
        LstmConfig cfg = LstmConfig.builder(13, 30).layout(Layout.BATCH_MAJOR).build();
        try (Lstm lstm = Lstm.builder(cfg).backend(BACKEND).verify(false).build();
             PackedWeights w = lstm.pack(new RandomData(8).weights(cfg));
             TrainingWorkspace ws = lstm.newWorkspace(5, 20)) {
            float[][] first = trainingStep(lstm, w, ws, 13, 30, 5, 20, 9).all();
            float[][] second = trainingStep(lstm, w, ws, 13, 30, 5, 20, 9).all();
            for (int i = 0; i < first.length; i++) assertArrayEquals(first[i], second[i], "output " + i);
        }
    }

    @Test
    void backwardCanRunTwiceOnOneTrainingForward() {
        int in = 9, hid = 14, t = 5, b = 6;
        LstmConfig cfg = LstmConfig.builder(in, hid).layout(Layout.BATCH_MAJOR).build();
        RandomData rnd = new RandomData(12);
        float[] x = rnd.uniform(t * b * in, 1), dy = rnd.uniform(t * b * hid, 1);
        try (Lstm lstm = Lstm.builder(cfg).backend(BACKEND).verify(false).build();
             PackedWeights w = lstm.pack(rnd.weights(cfg));
             TrainingWorkspace ws = lstm.newWorkspace(t, b)) {
            MemorySegment xs = MemorySegment.ofArray(x);
            lstm.forwardTraining(w, t, b, xs, null, MemorySegment.ofArray(new float[t * b * hid]), null, ws);
            float[][] first = null;
            for (int run = 0; run < 2; run++) {
                float[] dx = new float[t * b * in], dWhh = new float[4 * hid * hid], dh0 = new float[b * hid];
                lstm.backward(w, ws, xs, MemorySegment.ofArray(dy), null, MemorySegment.ofArray(dx),
                        LstmState.of(dh0, null), LstmGradients.of(new float[4 * hid * in], dWhh, null, null),
                        GradientMode.OVERWRITE);
                float[][] out = {dx, dWhh, dh0};
                if (first == null) first = out;
                else for (int i = 0; i < out.length; i++) assertArrayEquals(first[i], out[i], "output " + i);
            }
        }
    }

    @Test
    void layerWithoutBiasAgreesWithTheReference() {
        int in = 6, hid = 11, t = 3, b = 4;
        LstmConfig cfg = LstmConfig.of(in, hid);
        RandomData rnd = new RandomData(21);
        LstmWeights full = rnd.weights(cfg);
        LstmWeights noBias = LstmWeights.of(full.wIh(), full.wHh(), null, null);
        float[] x = rnd.uniform(t * b * in, 1), dy = rnd.uniform(t * b * hid, 1);
        float[][] got = noBiasRun(BACKEND, cfg, noBias, x, dy, t, b), want = noBiasRun("reference", cfg, noBias, x, dy, t, b);
        double rtol = Tolerance.forCall(in, hid, t, b);
        String[] names = {"y", "dx", "dWih", "dWhh"};
        for (int i = 0; i < names.length; i++) {
            Comparison.Result r = Comparison.compare(names[i], MemorySegment.ofArray(got[i]), MemorySegment.ofArray(want[i]),
                    got[i].length, rtol, k -> "[" + k + "]");
            assertTrue(r.passed(), r::describe);
        }
    }

    private static float[][] noBiasRun(String backend, LstmConfig cfg, LstmWeights weights, float[] x, float[] dy, int t,
                                       int b) {
        int in = cfg.inputSize(), hid = cfg.hiddenSize();
        float[] y = new float[t * b * hid], dx = new float[t * b * in], dWih = new float[4 * hid * in],
                dWhh = new float[4 * hid * hid];
        try (Lstm lstm = Lstm.builder(cfg).backend(backend).verify(false).build();
             PackedWeights w = lstm.pack(weights);
             TrainingWorkspace ws = lstm.newWorkspace(t, b)) {
            MemorySegment xs = MemorySegment.ofArray(x);
            lstm.forwardTraining(w, t, b, xs, null, MemorySegment.ofArray(y), null, ws);
            lstm.backward(w, ws, xs, MemorySegment.ofArray(dy), null, MemorySegment.ofArray(dx), null,
                    LstmGradients.of(dWih, dWhh, null, null), GradientMode.OVERWRITE);
        }
        return new float[][] {y, dx, dWih, dWhh};
    }

    @Test
    void inferenceAgreesWithTrainingForward() {
        int in = 10, hid = 12, t = 4, b = 3;
        LstmConfig cfg = LstmConfig.of(in, hid);
        RandomData rnd = new RandomData(31);
        LstmWeights weights = rnd.weights(cfg);
        float[] x = rnd.uniform(t * b * in, 1), h0 = rnd.uniform(b * hid, 1), c0 = rnd.uniform(b * hid, 1);
        float[] yInference = new float[t * b * hid], yTraining = new float[t * b * hid];
        float[] hT = new float[b * hid], cT = new float[b * hid], hT2 = new float[b * hid], cT2 = new float[b * hid];
        try (Lstm lstm = Lstm.builder(cfg).backend(BACKEND).verify(false).build();
             PackedWeights w = lstm.pack(weights);
             TrainingWorkspace ws = lstm.newWorkspace(t, b)) {
            lstm.forward(w, t, b, MemorySegment.ofArray(x), LstmState.of(h0, c0), MemorySegment.ofArray(yInference),
                    LstmState.of(hT, cT));
            lstm.forwardTraining(w, t, b, MemorySegment.ofArray(x), LstmState.of(h0, c0),
                    MemorySegment.ofArray(yTraining), LstmState.of(hT2, cT2), ws);
        }
        assertArrayEquals(yTraining, yInference);
        assertArrayEquals(hT2, hT);
        assertArrayEquals(cT2, cT);
        Case c = new Case("inference", in, hid, t, b, Layout.TIME_MAJOR, true, 1, GradientMode.OVERWRITE, 31);
        ConformanceSuite.Outcome o = ConformanceSuite.run(c, BACKEND, 1);
        assertTrue(o.passed(), () -> o.results().stream().filter(r -> !r.passed()).map(Comparison.Result::describe)
                .collect(Collectors.joining("\n")));
    }
}
