package org.lstmk.simd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.lstmk.api.GradientMode;
import org.lstmk.api.Layout;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmGradients;
import org.lstmk.api.LstmState;
import org.lstmk.api.PackedWeights;
import org.lstmk.api.TrainingWorkspace;
import org.lstmk.dispatch.Dispatcher;
import org.lstmk.spi.BackendOptions;
import org.lstmk.verify.Comparison;
import org.lstmk.verify.RandomData;

/** The backend as a component: registration, threads, segment kinds, memory ownership. */
class SimdBackendTest {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    @Test
    void isUsableAndTheDispatchersDefault() {
        SimdProvider p = new SimdProvider();
        assertTrue(p.availability().usable(), p.availability().detail());
        assertTrue(p.availability().detail().matches(".*: \\d+ floats per vector.*, \\d+ threads?"), p.availability().detail());
        assertEquals("simd", Dispatcher.defaultChoice());
    }

    /** One training forward + backward; returns every output, concatenated. */
    private static float[] run(Lstm lstm, LstmConfig cfg, int steps, int batch, boolean nativeSegments) {
        int in = cfg.inputSize(), hid = cfg.hiddenSize(), g = 4 * hid;
        RandomData rnd = new RandomData(42);
        float[] x = rnd.uniform(steps * batch * in, 1), dy = rnd.uniform(steps * batch * hid, 1);
        float[] h0 = rnd.uniform(batch * hid, 1), c0 = rnd.uniform(batch * hid, 1);
        try (Arena arena = Arena.ofConfined();
             PackedWeights w = lstm.pack(rnd.weights(cfg));
             TrainingWorkspace ws = lstm.newWorkspace(steps, batch)) {
            Bufs b = new Bufs(arena, nativeSegments);
            MemorySegment xs = b.of(x), dys = b.of(dy);
            MemorySegment y = b.zeros(steps * batch * hid), hT = b.zeros(batch * hid), cT = b.zeros(batch * hid);
            MemorySegment dx = b.zeros(steps * batch * in), dh0 = b.zeros(batch * hid), dc0 = b.zeros(batch * hid);
            LstmGradients grads = LstmGradients.of(b.zeros(g * in), b.zeros(g * hid), b.zeros(g), b.zeros(g));
            lstm.forwardTraining(w, steps, batch, xs, new LstmState(b.of(h0), b.of(c0)), y, new LstmState(hT, cT), ws);
            lstm.backward(w, ws, xs, dys, null, dx, new LstmState(dh0, dc0), grads, GradientMode.OVERWRITE);
            MemorySegment yInf = b.zeros(steps * batch * hid);
            lstm.forward(w, steps, batch, xs, new LstmState(b.of(h0), b.of(c0)), yInf, null);
            return concat(y, hT, cT, dx, dh0, dc0, grads.dWih(), grads.dWhh(), grads.dbIh(), yInf);
        }
    }

    private record Bufs(Arena arena, boolean nativeSegments) {
        MemorySegment of(float[] a) {
            if (!nativeSegments) return MemorySegment.ofArray(a.clone());
            MemorySegment s = arena.allocate(4L * a.length, 4);
            MemorySegment.copy(a, 0, s, F, 0, a.length);
            return s;
        }

        MemorySegment zeros(int n) { return of(new float[n]); }
    }

    private static float[] concat(MemorySegment... s) {
        int n = 0;
        for (MemorySegment m : s) n += (int) (m.byteSize() / 4);
        float[] out = new float[n];
        int o = 0;
        for (MemorySegment m : s) {
            int k = (int) (m.byteSize() / 4);
            MemorySegment.copy(m, F, 0, out, o, k);
            o += k;
        }
        return out;
    }

    @Test
    void heapAndNativeSegmentsGiveTheSameBits() {
        LstmConfig cfg = LstmConfig.builder(19, 37).layout(Layout.BATCH_MAJOR).build();
        try (Lstm lstm = Lstm.builder(cfg).backend("simd").threads(2).verify(false).build()) {
            assertArrayEquals(run(lstm, cfg, 7, 5, false), run(lstm, cfg, 7, 5, true));
        }
    }

    @Test
    void eachThreadCountIsDeterministicAndAllAgree() {
        // With one thread every sum runs in a fixed order; with more, a step's product over h is split in the
        // thread's own units and the others' (to hide the barrier), which changes rounding but not determinism.
        LstmConfig cfg = LstmConfig.of(40, 70);
        float[] one;
        try (Lstm lstm = Lstm.builder(cfg).backend("simd").threads(1).verify(false).build()) {
            one = run(lstm, cfg, 9, 6, true);
            assertArrayEquals(one, run(lstm, cfg, 9, 6, true));
        }
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try (Lstm two = Lstm.builder(cfg).backend("simd").threads(2).verify(false).build();
             Lstm three = Lstm.builder(cfg).backend("simd").threads(3).executor(pool).verify(false).build()) {
            for (Lstm lstm : new Lstm[] {two, three}) {
                float[] many = run(lstm, cfg, 9, 6, true);
                assertArrayEquals(many, run(lstm, cfg, 9, 6, true), "repeatable with the same thread count");
                Comparison.Result r = Comparison.compare("outputs", MemorySegment.ofArray(many),
                        MemorySegment.ofArray(one), one.length, 1e-5, Comparison.matrix("out", one.length));
                assertTrue(r.passed(), r.describe());
            }
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void closingPackedWeightsAndWorkspacesReleasesTheirMemory() {
        LstmConfig cfg = LstmConfig.of(5, 20);
        SimdBackend backend = new SimdBackend(new BackendOptions(2, null));
        SimdWeights w = (SimdWeights) backend.pack(cfg, new RandomData(1).weights(cfg));
        SimdWorkspace ws = (SimdWorkspace) backend.newWorkspace(cfg, 3, 2);
        MemorySegment packed = w.whh, gates = ws.gates();
        assertTrue(packed.scope().isAlive() && gates.scope().isAlive());
        w.close();
        ws.close();
        w.close(); // idempotent
        ws.close();
        assertFalse(packed.scope().isAlive(), "packed weights' arena must be closed");
        assertFalse(gates.scope().isAlive(), "workspace arena must be closed");
        assertThrows(IllegalStateException.class, () -> packed.get(F, 0));
        backend.close();
    }

    @Test
    void repeatedCallsReuseTheScratchAndCloseFreesIt() {
        LstmConfig cfg = LstmConfig.of(8, 24);
        SimdBackend backend = new SimdBackend(new BackendOptions(2, null));
        try (SimdWeights w = (SimdWeights) backend.pack(cfg, new RandomData(2).weights(cfg))) {
            float[] x = new RandomData(3).uniform(6 * 4 * 8, 1);
            float[] y = new float[6 * 4 * 24];
            MemorySegment first = null;
            for (int call = 0; call < 200; call++) {
                backend.forward(new org.lstmk.spi.Calls.Forward(cfg, w, 6, 4, MemorySegment.ofArray(x), null, null,
                        MemorySegment.ofArray(y), null, null, null));
                MemorySegment now = backend.inferenceGates();
                if (first == null) first = now;
                assertSame(first, now, "scratch reallocated on call " + call);
            }
            backend.close();
            assertFalse(first.scope().isAlive(), "closing the backend frees its scratch");
        }
    }

    /** A stack alternates layer shapes (input I, then D·H_out): each shape keeps its own inference scratch. */
    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void alternatingLayerShapesKeepTheirScratch() {
        LstmConfig first = LstmConfig.of(8, 24), second = LstmConfig.of(48, 24);
        SimdBackend backend = new SimdBackend(new BackendOptions(2, null));
        try (SimdWeights w0 = (SimdWeights) backend.pack(first, new RandomData(2).weights(first));
             SimdWeights w1 = (SimdWeights) backend.pack(second, new RandomData(3).weights(second))) {
            float[] x0 = new RandomData(4).uniform(6 * 4 * 8, 1), x1 = new RandomData(5).uniform(6 * 4 * 48, 1);
            float[] y = new float[6 * 4 * 24];
            MemorySegment s0 = null, s1 = null;
            for (int call = 0; call < 50; call++) {
                backend.forward(new org.lstmk.spi.Calls.Forward(first, w0, 6, 4, MemorySegment.ofArray(x0), null, null,
                        MemorySegment.ofArray(y), null, null, null));
                MemorySegment now0 = backend.inferenceGates();
                backend.forward(new org.lstmk.spi.Calls.Forward(second, w1, 6, 4, MemorySegment.ofArray(x1), null,
                        null, MemorySegment.ofArray(y), null, null, null));
                MemorySegment now1 = backend.inferenceGates();
                if (s0 == null) {
                    s0 = now0;
                    s1 = now1;
                    assertTrue(s0 != s1, "two shapes, two scratch buffers");
                }
                assertSame(s0, now0, "layer 0's scratch reallocated on call " + call);
                assertSame(s1, now1, "layer 1's scratch reallocated on call " + call);
            }
            backend.close();
            assertFalse(s0.scope().isAlive() || s1.scope().isAlive(), "closing the backend frees every scratch");
        }
    }
}
