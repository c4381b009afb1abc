package org.lstmk.driver;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.lstmk.api.GradientMode;
import org.lstmk.api.Layout;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmGradients;
import org.lstmk.api.LstmState;
import org.lstmk.api.PackedWeights;
import org.lstmk.api.SequenceBatch;
import org.lstmk.api.StackGradients;
import org.lstmk.api.TrainingWorkspace;
import org.lstmk.reference.Floats;
import org.lstmk.reference.ReferenceBackend;
import org.lstmk.reference.ReferenceLstm;
import org.lstmk.reference.StackProblem;

/**
 * The layer driver through the public API, against the independent double-precision stack of {@link StackProblem}
 * (itself checked by finite differences): on the reference (lengths and reverse run natively, one sequence at a
 * time) and on {@link SegmentedReferenceTestProvider} (the same kernels behind the driver's sorting, segmenting and
 * time reversal, for a backend without packed sequences) and on {@link PackedReferenceTestProvider} (the driver's
 * packed path, which the SIMD and CUDA backends take). Both layouts; overwrite and accumulate; every output.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class LayerDriverTest {
    static final int I = 3, H = 5, T = 6;
    /** Float results of a double computation through float layer boundaries: ~1e-7 relative; a wrong index is O(1). */
    static final double BOUND = 2e-6;

    record Outputs(float[] y, float[] hN, float[] cN, float[] dx, float[] dh0, float[] dc0, LstmGradients[] grads) {}

    static Outputs run(String backend, StackProblem sp, Layout layout, GradientMode mode, float[][] prior) {
        LstmConfig cfg = sp.cfg.toBuilder().layout(layout).build();
        int n = cfg.stateLayers(), b = sp.sequences().batch(), out = cfg.outputSize(), hid = cfg.hiddenSize();
        float[] x = toLayout(Floats.of(sp.x), layout, T, b, cfg.inputSize());
        float[] dy = toLayout(Floats.of(sp.dy), layout, T, b, cfg.sequenceOutputSize());
        float[] y = new float[T * b * cfg.sequenceOutputSize()], hN = new float[n * b * out], cN = new float[n * b * hid];
        float[] dx = new float[T * b * cfg.inputSize()], dh0 = new float[n * b * out], dc0 = new float[n * b * hid];
        LstmGradients[] g = new LstmGradients[n];
        StackGradients.Builder gb = StackGradients.builder(cfg);
        int k = 0;
        for (int ld = 0; ld < n; ld++) {
            LstmGradients a = LstmGradients.allocate(cfg, ld / cfg.directions());
            for (MemorySegment s : new MemorySegment[] {a.dWih(), a.dWhh(), a.dbIh(), a.dbHh(), a.dWhr(), a.dPeepholes()}) {
                if (s != null) MemorySegment.copy(prior[k], 0, s, java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, (int) (s.byteSize() / 4));
                k++;
            }
            g[ld] = a;
            gb.set(ld / cfg.directions(), ld % cfg.directions(), a);
        }
        try (Lstm lstm = Lstm.builder(cfg).backend(backend).verify(false).build();
             PackedWeights w = lstm.pack(sp.weights());
             TrainingWorkspace ws = lstm.newWorkspace(T, b)) {
            MemorySegment xs = MemorySegment.ofArray(x);
            lstm.forwardTraining(w, sp.sequences(), xs, LstmState.of(Floats.of(sp.h0), Floats.of(sp.c0)),
                    MemorySegment.ofArray(y), LstmState.of(hN, cN), ws);
            lstm.backward(w, ws, xs, MemorySegment.ofArray(dy), LstmState.of(Floats.of(sp.dhN), Floats.of(sp.dcN)),
                    MemorySegment.ofArray(dx), LstmState.of(dh0, dc0), gb.build(), mode);
            // Inference gives the training forward's outputs, bit for bit.
            float[] y2 = new float[y.length], hN2 = new float[hN.length], cN2 = new float[cN.length];
            lstm.forward(w, sp.sequences(), xs, LstmState.of(Floats.of(sp.h0), Floats.of(sp.c0)),
                    MemorySegment.ofArray(y2), LstmState.of(hN2, cN2));
            assertArrayEquals(y, y2, "inference y");
            assertArrayEquals(hN, hN2, "inference hN");
            assertArrayEquals(cN, cN2, "inference cN");
        }
        return new Outputs(toTimeMajor(y, layout, T, b, cfg.sequenceOutputSize()), hN, cN,
                toTimeMajor(dx, layout, T, b, cfg.inputSize()), dh0, dc0, g);
    }

    @ParameterizedTest(name = "{0}: layers={1} bidirectional={2} lengths={3} P={4} peepholes={5} clip={6} {7} {8}")
    @CsvSource({
            "reference,                1, false, true,  0, false, 0,   TIME_MAJOR,  OVERWRITE",
            "reference,                2, true,  true,  2, true,  0.5, BATCH_MAJOR, ACCUMULATE",
            "reference,                1, true,  false, 0, false, 0,   TIME_MAJOR,  OVERWRITE",
            "test-segmented-reference, 1, false, true,  0, false, 0,   TIME_MAJOR,  OVERWRITE",
            "test-segmented-reference, 1, true,  false, 0, false, 0,   TIME_MAJOR,  ACCUMULATE",
            "test-segmented-reference, 1, true,  true,  0, false, 0,   BATCH_MAJOR, OVERWRITE",
            "test-segmented-reference, 2, false, false, 0, false, 0,   TIME_MAJOR,  OVERWRITE",
            "test-segmented-reference, 3, true,  true,  2, true,  0.5, TIME_MAJOR,  ACCUMULATE",
            "test-segmented-reference, 2, true,  true,  2, true,  0.5, BATCH_MAJOR, OVERWRITE",
            "test-packed-reference,    1, false, true,  0, false, 0,   TIME_MAJOR,  OVERWRITE",
            "test-packed-reference,    1, true,  true,  0, false, 0,   BATCH_MAJOR, ACCUMULATE",
            "test-packed-reference,    3, true,  true,  2, true,  0.5, TIME_MAJOR,  ACCUMULATE",
            "test-packed-reference,    2, true,  false, 2, true,  0.5, BATCH_MAJOR, OVERWRITE"})
    void agreesWithTheDoubleStack(String backend, int layers, boolean bidirectional, boolean lengths, int p,
                                  boolean peepholes, float clip, Layout layout, GradientMode mode) {
        LstmConfig cfg = LstmConfig.builder(I, H).layers(layers).bidirectional(bidirectional).projectionSize(p)
                .peepholes(peepholes).cellClip(clip).build();
        int[] lens = lengths ? new int[] {3, 6, 1, 4, 6, 3, 2} : null;
        int b = lengths ? lens.length : 4;
        StackProblem sp = new StackProblem(cfg, T, b, lens, true, 7 * layers + p);
        float[][] prior = prior(cfg, mode);
        Outputs o = run(backend, sp, layout, mode, prior);
        StackProblem.Run run = sp.forward();
        StackProblem.Grads g = sp.backward();
        close("y", run.y, o.y);
        close("hN", run.hN(), o.hN);
        close("cN", run.cN(), o.cN);
        close("dx", g.dx, o.dx);
        close("dh0", g.dh0, o.dh0);
        close("dc0", g.dc0, o.dc0);
        int k = 0;
        for (int ld = 0; ld < cfg.stateLayers(); ld++) {
            ReferenceLstm.Grads e = g.layers[ld];
            LstmGradients a = o.grads[ld];
            double[][] expected = {e.dWih(), e.dWhh(), e.db(), e.db(), e.dWhr(), e.dPeep()};
            MemorySegment[] actual = {a.dWih(), a.dWhh(), a.dbIh(), a.dbHh(), a.dWhr(), a.dPeepholes()};
            for (int i = 0; i < 6; i++, k++) {
                if (expected[i] == null) continue;
                double[] want = expected[i].clone();
                if (mode == GradientMode.ACCUMULATE) for (int j = 0; j < want.length; j++) want[j] += prior[k][j];
                close("l" + ld + ".grad" + i, want, actual[i].toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT));
            }
        }
    }

    @Test
    void paddingIsZeroNeverReadAndGetsNoGradient() {
        LstmConfig cfg = LstmConfig.builder(I, H).layers(2).bidirectional(true).build();
        int[] lens = {2, 6, 4};
        for (String backend : new String[] {ReferenceBackend.NAME, SegmentedReferenceTestProvider.NAME,
                PackedReferenceTestProvider.NAME}) {
            StackProblem sp = new StackProblem(cfg, T, lens.length, lens, true, 3);
            Outputs clean = run(backend, sp, Layout.TIME_MAJOR, GradientMode.OVERWRITE, prior(cfg, GradientMode.OVERWRITE));
            // Garbage in the padding of x and dy: NaN and infinities.
            for (int b = 0; b < lens.length; b++) {
                for (int t = lens[b]; t < T; t++) {
                    Arrays.fill(sp.x, (t * lens.length + b) * I, (t * lens.length + b + 1) * I, Double.NaN);
                    int w = cfg.sequenceOutputSize();
                    Arrays.fill(sp.dy, (t * lens.length + b) * w, (t * lens.length + b + 1) * w, Double.POSITIVE_INFINITY);
                }
            }
            Outputs dirty = run(backend, sp, Layout.TIME_MAJOR, GradientMode.OVERWRITE, prior(cfg, GradientMode.OVERWRITE));
            assertArrayEquals(clean.y, dirty.y, backend + ": y");
            assertArrayEquals(clean.hN, dirty.hN, backend + ": hN");
            assertArrayEquals(clean.dx, dirty.dx, backend + ": dx");
            assertArrayEquals(clean.dh0, dirty.dh0, backend + ": dh0");
            for (int ld = 0; ld < cfg.stateLayers(); ld++) {
                assertArrayEquals(clean.grads[ld].dWhh().toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT),
                        dirty.grads[ld].dWhh().toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT), backend + ": dWhh " + ld);
            }
            for (int b = 0; b < lens.length; b++) {
                for (int t = lens[b]; t < T; t++) {
                    for (int j = 0; j < cfg.sequenceOutputSize(); j++) {
                        assertEquals(0f, dirty.y[(t * lens.length + b) * cfg.sequenceOutputSize() + j], backend + ": y padding");
                    }
                    for (int j = 0; j < I; j++) assertEquals(0f, dirty.dx[(t * lens.length + b) * I + j], backend + ": dx padding");
                }
            }
        }
    }

    @Test
    void concurrentDirectionsGiveTheSequentialResultBitForBit() throws Exception {
        // threads(2) gives each direction its own reference instance on its own thread; threads(1) runs them one
        // after the other on one. The reference's results do not depend on threads: they must be identical. A
        // confined input cannot be read off the calling thread: the directions then run one after the other.
        LstmConfig cfg = LstmConfig.builder(I, H).layers(2).bidirectional(true).projectionSize(2).build();
        StackProblem sp = new StackProblem(cfg, T, 3, new int[] {6, 2, 4}, true, 21);
        float[][] results = new float[3][];
        assertTrue(Lstm.CONCURRENT_DIRECTIONS_MAX_WEIGHT_BYTES > 4L * 4 * H * (2 * 2 + 2), "small enough to run concurrently");
        for (int k = 0; k < 3; k++) {
            try (Lstm lstm = Lstm.builder(cfg).backend(ReferenceBackend.NAME).threads(k == 0 ? 1 : 2).build();
                 PackedWeights w = lstm.pack(sp.weights());
                 TrainingWorkspace ws = lstm.newWorkspace(T, 3);
                 java.lang.foreign.Arena confined = java.lang.foreign.Arena.ofConfined()) {
                float[] xa = Floats.of(sp.x);
                MemorySegment x = k == 2 ? confined.allocateFrom(java.lang.foreign.ValueLayout.JAVA_FLOAT, xa)
                        : MemorySegment.ofArray(xa);
                float[] y = new float[T * 3 * cfg.sequenceOutputSize()], dx = new float[T * 3 * I];
                lstm.forwardTraining(w, sp.sequences(), x, null, MemorySegment.ofArray(y), null, ws);
                StackGradients g = StackGradients.allocate(cfg);
                lstm.backward(w, ws, x, MemorySegment.ofArray(Floats.of(sp.dy)), null, MemorySegment.ofArray(dx),
                        null, g, GradientMode.OVERWRITE);
                float[] all = Arrays.copyOf(y, y.length + dx.length + 4 * H * cfg.layerInputSize(1));
                System.arraycopy(dx, 0, all, y.length, dx.length);
                MemorySegment.copy(g.get(1, 1).dWih(), java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, all,
                        y.length + dx.length, 4 * H * cfg.layerInputSize(1));
                results[k] = all;
            }
        }
        assertArrayEquals(results[0], results[1], "concurrent directions");
        assertArrayEquals(results[0], results[2], "a confined input: one after the other");
    }

    @Test
    void fullLengthsAreTheUniformBatch() {
        assertTrue(SequenceBatch.of(4, new int[] {4, 4}).uniform());
        assertEquals(SequenceBatch.of(4, 2), SequenceBatch.of(4, new int[] {4, 4}));
    }

    @Test
    void batchSizesOfASortedBatch() {
        SequenceOrder o = new SequenceOrder(SequenceBatch.of(8, new int[] {3, 6, 1, 4, 6, 3, 2}));
        assertArrayEquals(new int[] {7, 6, 5, 3, 2, 2}, o.batchSizes(), "PyTorch's batch_sizes, up to the longest");
    }

    @Test
    void segmentsOfASortedBatch() {
        SequenceOrder o = new SequenceOrder(SequenceBatch.of(6, new int[] {3, 6, 1, 4, 6, 3, 2}));
        assertArrayEquals(new int[] {1, 4, 3, 0, 5, 6, 2}, o.order, "stable descending order");
        assertEquals(java.util.List.of(new SequenceOrder.Segment(0, 1, 7), new SequenceOrder.Segment(1, 2, 6),
                new SequenceOrder.Segment(2, 3, 5), new SequenceOrder.Segment(3, 4, 3),
                new SequenceOrder.Segment(4, 6, 2)), o.segments);
        long work = o.segments.stream().mapToLong(s -> (long) s.steps() * s.rows()).sum();
        assertEquals(3 + 6 + 1 + 4 + 6 + 3 + 2, work, "segments cover exactly the valid steps: padding costs no work");
    }

    static float[][] prior(LstmConfig cfg, GradientMode mode) {
        float[][] p = new float[cfg.stateLayers() * 6][];
        if (mode == GradientMode.OVERWRITE) {
            // Garbage that overwrite must replace.
            for (int i = 0; i < p.length; i++) p[i] = Floats.of(new double[1 << 12]);
            for (float[] a : p) Arrays.fill(a, Float.NaN);
            return p;
        }
        java.util.SplittableRandom r = new java.util.SplittableRandom(5);
        for (int i = 0; i < p.length; i++) {
            p[i] = new float[1 << 12];
            for (int j = 0; j < p[i].length; j++) p[i][j] = (float) (r.nextDouble() - 0.5);
        }
        return p;
    }

    static void close(String name, double[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, name + ": length");
        double scale = 0, worst = 0;
        int at = -1;
        for (double e : expected) scale = Math.max(scale, Math.abs(e));
        for (int i = 0; i < expected.length; i++) {
            double err = Math.abs(actual[i] - expected[i]);
            if (!(err <= worst)) {
                worst = err;
                at = i;
            }
        }
        double bound = BOUND * Math.max(1, scale);
        assertTrue(worst <= bound, String.format(Locale.ROOT, "%s: error %.3g > %.3g at [%d]: %s vs %s", name, worst,
                bound, at, at < 0 ? "" : actual[at], at < 0 ? "" : expected[at]));
    }

    static float[] toLayout(float[] tm, Layout layout, int steps, int batch, int width) {
        if (layout == Layout.TIME_MAJOR) return tm;
        float[] o = new float[tm.length];
        for (int t = 0; t < steps; t++) {
            for (int b = 0; b < batch; b++) System.arraycopy(tm, (t * batch + b) * width, o, layout.row(t, b, steps, batch) * width, width);
        }
        return o;
    }

    static float[] toTimeMajor(float[] s, Layout layout, int steps, int batch, int width) {
        if (layout == Layout.TIME_MAJOR) return s;
        float[] o = new float[s.length];
        for (int t = 0; t < steps; t++) {
            for (int b = 0; b < batch; b++) System.arraycopy(s, layout.row(t, b, steps, batch) * width, o, (t * batch + b) * width, width);
        }
        return o;
    }
}
