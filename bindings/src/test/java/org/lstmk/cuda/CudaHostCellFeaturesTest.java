package org.lstmk.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.lstmk.api.GradientMode;
import org.lstmk.api.Layout;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmGradients;
import org.lstmk.api.LstmState;
import org.lstmk.api.LstmWeights;
import org.lstmk.api.PackedWeights;
import org.lstmk.api.StackGradients;
import org.lstmk.api.StackWeights;
import org.lstmk.api.TrainingWorkspace;
import org.lstmk.cuda.FeatureHarness.Case;
import org.lstmk.reference.CellMath;
import org.lstmk.reference.ReferenceBackend;
import org.lstmk.reference.ReferenceLstm;
import org.lstmk.spi.Support;
import org.lstmk.verify.Comparison;
import org.lstmk.verify.RandomData;
import org.lstmk.verify.Tolerance;

/**
 * The cell features of the CUDA kernels (peepholes, cell clip, projection, and combinations), through the host build, against the
 * reference: training forward, inference, backward, one cell step forward and backward, every output compared
 * ({@link FeatureHarness}); clamped gates hold exactly the reference's clamped values; results do not depend on the
 * order the emulated threads run in; the grid-stride loops cover what a small grid does not.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CudaHostCellFeaturesTest {
    private static final String BACKEND = CudaHostProvider.NAME;

    @AfterEach
    void restoreSchedule() {
        HostDevice.schedule(HostDevice.Schedule.ASCENDING);
    }

    /** Odd sizes around the tile edges, T = 1 and 9, B = 1 and 5, each feature, both layouts, modes, initial states. */
    static Stream<Case> peepholeAndClipCases() {
        List<Case> c = new ArrayList<>();
        int[][] shapes = { // I, H, T, B
            {3, 1, 1, 1}, {16, 7, 9, 5}, {3, 17, 9, 1}, {16, 33, 1, 5}, {3, 33, 9, 5}, {16, 17, 9, 5}, {3, 7, 1, 5}};
        String[] features = {"peep", "clip", "peep+clip"};
        long seed = 300;
        for (String f : features) {
            boolean peep = f.contains("peep");
            float clip = f.contains("clip") ? 0.4f : 0f;
            for (int[] s : shapes) {
                c.add(new Case(f, s[0], s[1], 0, peep, clip, s[2], s[3], seed % 2 == 0 ? Layout.TIME_MAJOR
                        : Layout.BATCH_MAJOR, (seed / 2) % 2 == 0, 1, (seed / 4) % 2 == 0 ? GradientMode.OVERWRITE
                        : GradientMode.ACCUMULATE, seed));
                seed++;
            }
        }
        // Saturating inputs: with clip 3 most gates clamp (backward must zero their gradients); peepholes alone saturate.
        c.add(new Case("saturating clip", 16, 17, 0, false, 3f, 9, 5, Layout.TIME_MAJOR, true, 100,
                GradientMode.ACCUMULATE, seed++));
        c.add(new Case("saturating peep+clip", 16, 17, 0, true, 3f, 9, 5, Layout.BATCH_MAJOR, true, 100,
                GradientMode.OVERWRITE, seed++));
        c.add(new Case("saturating peep+clip", 3, 7, 0, true, 3f, 9, 1, Layout.TIME_MAJOR, false, 100,
                GradientMode.ACCUMULATE, seed++));
        c.add(new Case("saturating peep", 16, 33, 0, true, 0f, 9, 5, Layout.TIME_MAJOR, true, 100,
                GradientMode.OVERWRITE, seed++));
        c.add(new Case("large clip", 16, 17, 0, true, 50f, 9, 5, Layout.TIME_MAJOR, true, 1,
                GradientMode.ACCUMULATE, seed++));
        return c.stream();
    }

    /**
     * Projection (LSTMP), alone and with the other features: P below, at and above the 32-column tiles, B above the
     * 16-row tile, H = 2 with P = 1, T = 1 and 9, B = 1 and 5.
     */
    static Stream<Case> projectionCases() {
        List<Case> c = new ArrayList<>();
        long seed = 500;
        int[][] shapes = { // I, H, P, T, B
            {3, 17, 5, 9, 5}, {16, 33, 16, 1, 5}, {16, 17, 5, 9, 1}, {3, 33, 16, 9, 5}, {3, 7, 3, 1, 1},
            {3, 2, 1, 9, 5}, {16, 40, 33, 3, 17}};
        for (int[] s : shapes) {
            c.add(new Case("projection", s[0], s[1], s[2], false, 0f, s[3], s[4], seed % 2 == 0 ? Layout.TIME_MAJOR
                    : Layout.BATCH_MAJOR, (seed / 2) % 2 == 0, 1, (seed / 4) % 2 == 0 ? GradientMode.OVERWRITE
                    : GradientMode.ACCUMULATE, seed));
            seed++;
        }
        c.add(new Case("projection+peep", 16, 17, 5, true, 0f, 9, 5, Layout.BATCH_MAJOR, true, 1,
                GradientMode.ACCUMULATE, seed++));
        c.add(new Case("projection+clip", 3, 33, 16, false, 0.4f, 9, 5, Layout.TIME_MAJOR, false, 1,
                GradientMode.OVERWRITE, seed++));
        c.add(new Case("projection+peep+clip", 16, 33, 16, true, 0.4f, 9, 1, Layout.TIME_MAJOR, true, 1,
                GradientMode.OVERWRITE, seed++));
        c.add(new Case("saturating projection+peep+clip", 16, 17, 5, true, 3f, 9, 5, Layout.TIME_MAJOR, true, 100,
                GradientMode.ACCUMULATE, seed++));
        c.add(new Case("saturating projection+clip", 3, 17, 5, false, 3f, 1, 5, Layout.BATCH_MAJOR, false, 100,
                GradientMode.OVERWRITE, seed++));
        return c.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("projectionCases")
    void projectionAgreesWithTheReference(Case c) {
        agreesWithTheReference(c);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("peepholeAndClipCases")
    void agreesWithTheReference(Case c) {
        FeatureHarness.Outcome o = FeatureHarness.check(c, BACKEND);
        assertTrue(o.passed(), () -> c + " disagrees with the reference:\n" + o.failures());
        if (c.clip() > 0) assertClampedGatesExact(c, o.got().get("cell.gates"), o.want().get("cell.gates"));
    }

    /**
     * A clamped gate holds exactly the reference's clamped value, in both directions, and the case clamps what it is
     * meant to: some gates at ordinary scale with a small clip, most with saturating inputs, none with a clip larger
     * than any pre-activation.
     */
    static void assertClampedGatesExact(Case c, float[] got, float[] want) {
        int hid = c.hiddenSize(), clamped = 0;
        for (int k = 0; k < want.length; k++) {
            int gate = (k % (4 * hid)) / hid;
            boolean wantClamped = CellMath.clamped(gate, want[k], c.clip());
            boolean gotClamped = CellMath.clamped(gate, got[k], c.clip());
            assertEquals(wantClamped, gotClamped, "gate " + k + ": " + got[k] + " vs reference " + want[k]);
            if (wantClamped) {
                assertEquals(Float.floatToRawIntBits(want[k]), Float.floatToRawIntBits(got[k]), "gate " + k);
                clamped++;
            }
        }
        if (c.clip() >= 50) {
            assertEquals(0, clamped, c + ": no pre-activation reaches the clip");
        } else if (c.inputScale() >= 100) {
            assertTrue(clamped > want.length / 2, c + ": only " + clamped + " of " + want.length + " gates clamped");
        } else if (want.length >= 40) {
            assertTrue(clamped > 0, c + ": no gate clamped");
        }
    }

    @Test
    void clampedValuesAreTheReferences() {
        // What CellArgs passes to the kernels: CellMath's floats, the sigma gates sharing one pair.
        LstmConfig cfg = LstmConfig.builder(2, 3).cellClip(3f).build();
        CellArgs a = CellArgs.of(cfg, null);
        assertEquals(CellMath.clampedHigh(ReferenceLstm.GATE_O, 3f), a.sigHi());
        assertEquals(CellMath.clampedHigh(ReferenceLstm.GATE_I, 3f), a.sigHi());
        assertEquals(CellMath.clampedLow(ReferenceLstm.GATE_F, 3f), a.sigLo());
        assertEquals(CellMath.clampedHigh(ReferenceLstm.GATE_G, 3f), a.tanhHi());
        assertEquals(CellMath.clampedLow(ReferenceLstm.GATE_G, 3f), a.tanhLo());
        assertEquals("_clip", CellArgs.VARIANT_SUFFIXES[a.variant()]);
        assertEquals("", CellArgs.VARIANT_SUFFIXES[CellArgs.PLAIN.variant()]);
        assertThrows(IllegalArgumentException.class, () -> CellArgs.of(cfg.toBuilder().peepholes(true).build(), null));
    }

    @Test
    void resultsDoNotDependOnTheThreadSchedule() {
        Case c = new Case("schedules", 19, 21, 9, true, 0.4f, 4, 18, Layout.TIME_MAJOR, true, 1,
                GradientMode.ACCUMULATE, 377);
        Map<String, float[]> ascending = null;
        for (HostDevice.Schedule s : HostDevice.Schedule.values()) {
            HostDevice.schedule(s);
            Map<String, float[]> out = FeatureHarness.run(c, BACKEND);
            if (ascending == null) {
                ascending = out;
                continue;
            }
            for (var e : ascending.entrySet()) assertArrayEquals(e.getValue(), out.get(e.getKey()), s + ": " + e.getKey());
        }
    }

    @Test
    void gridStrideLoopsCoverWhatTheGridDoesNot() {
        System.setProperty(Kernels.MAX_GRID_Y_PROPERTY, "1");
        try {
            for (int p : new int[] {0, 7}) {
                Case c = new Case("grid y = 1", 20, 20, p, true, 0.4f, 3, 35, Layout.BATCH_MAJOR, true, 1,
                        GradientMode.ACCUMULATE, 391);
                FeatureHarness.Outcome o = FeatureHarness.check(c, BACKEND);
                assertTrue(o.passed(), () -> c + " disagrees with the reference:\n" + o.failures());
            }
        } finally {
            System.clearProperty(Kernels.MAX_GRID_Y_PROPERTY);
        }
    }

    @Test
    void providersDeclareTheCellFeatures() {
        List<LstmConfig> configs = List.of(LstmConfig.builder(4, 8).peepholes(true).cellClip(2f).build(),
                LstmConfig.builder(4, 8).projectionSize(3).build(),
                LstmConfig.builder(4, 8).projectionSize(3).peepholes(true).cellClip(1f).build(),
                LstmConfig.builder(4, 8).layers(2).bidirectional(true).projectionSize(5).peepholes(true).build());
        for (var p : List.of(new CudaHostProvider(), new CudaProvider())) {
            for (LstmConfig cfg : configs) assertEquals(Support.YES, p.supports(cfg), p.name() + " " + cfg);
        }
    }

    @Test
    void featureGradientsThatAreNotWantedAreNotNeeded() {
        // dWhr and dPeepholes null: the step kernels get no m or peephole rows; everything else is unchanged.
        LstmConfig cfg = LstmConfig.builder(6, 13).projectionSize(4).peepholes(true).cellClip(0.4f).build();
        int t = 5, b = 3, hid = 13, out = 4, in = 6;
        RandomData rnd = new RandomData(61);
        LstmWeights weights = FeatureHarness.weights(cfg, rnd);
        float[] x = rnd.uniform(t * b * in, 1), dy = rnd.uniform(t * b * out, 1);
        float[][] got = partialGradients(BACKEND, cfg, weights, x, dy, t, b);
        float[][] want = partialGradients(ReferenceBackend.NAME, cfg, weights, x, dy, t, b);
        double rtol = Tolerance.forCall(in, hid, t, b);
        String[] names = {"y", "dx", "dWih", "dWhh", "cell.dx", "cell.dWhh"};
        for (int i = 0; i < names.length; i++) {
            Comparison.Result r = Comparison.compare(names[i], MemorySegment.ofArray(got[i]),
                    MemorySegment.ofArray(want[i]), want[i].length, rtol, k -> "[" + k + "]");
            assertTrue(r.passed(), r::describe);
        }
    }

    private static float[][] partialGradients(String backend, LstmConfig cfg, LstmWeights weights, float[] x,
                                              float[] dy, int t, int b) {
        int in = cfg.inputSize(), hid = cfg.hiddenSize(), out = cfg.outputSize();
        float[] y = new float[t * b * out], dx = new float[t * b * in], dWih = new float[4 * hid * in],
                dWhh = new float[4 * hid * out], cdx = new float[b * in], cdWhh = new float[4 * hid * out],
                gates = new float[4 * hid * b];
        try (Lstm lstm = Lstm.builder(cfg).backend(backend).verify(false).build();
             PackedWeights w = lstm.pack(weights);
             TrainingWorkspace ws = lstm.newWorkspace(t, b)) {
            MemorySegment xs = MemorySegment.ofArray(x);
            lstm.forwardTraining(w, t, b, xs, null, MemorySegment.ofArray(y), null, ws);
            lstm.backward(w, ws, xs, MemorySegment.ofArray(dy), null, MemorySegment.ofArray(dx), null,
                    LstmGradients.of(dWih, dWhh, null, null), GradientMode.OVERWRITE);
            MemorySegment x0 = xs.asSlice(0, (long) b * in * Float.BYTES);
            lstm.cellForward(w, b, x0, null, LstmState.of(new float[b * out], new float[b * hid]),
                    MemorySegment.ofArray(gates));
            lstm.cellBackward(w, b, x0, null, MemorySegment.ofArray(gates),
                    LstmState.of(java.util.Arrays.copyOf(dy, b * out), null), MemorySegment.ofArray(cdx), null,
                    LstmGradients.of(new float[4 * hid * in], cdWhh, null, null), GradientMode.OVERWRITE);
        }
        return new float[][] {y, dx, dWih, dWhh, cdx, cdWhh};
    }

    @Test
    void stackedBidirectionalLayersWithEveryFeatureAgreeWithTheReference() {
        // The layer driver builds the stack from single-layer calls; layer 1 reads 2·P-wide input.
        LstmConfig cfg = LstmConfig.builder(5, 11).layers(2).bidirectional(true).projectionSize(4).peepholes(true)
                .cellClip(0.5f).layout(Layout.BATCH_MAJOR).build();
        int t = 6, b = 3;
        RandomData rnd = new RandomData(71);
        LstmWeights[] layers = new LstmWeights[cfg.stateLayers()];
        for (int i = 0; i < layers.length; i++) layers[i] = FeatureHarness.weights(cfg.layer(i / 2, cfg.layout()), rnd);
        StackWeights weights = StackWeights.of(cfg, layers);
        float[] x = rnd.uniform(t * b * 5, 1), dy = rnd.uniform(t * b * cfg.sequenceOutputSize(), 1);
        List<float[]> got = stackRun(BACKEND, cfg, weights, x, dy, t, b), want = stackRun(ReferenceBackend.NAME, cfg,
                weights, x, dy, t, b);
        double rtol = Tolerance.forCall(8, 11, t, b);
        for (int i = 0; i < want.size(); i++) {
            Comparison.Result r = Comparison.compare("output " + i, MemorySegment.ofArray(got.get(i)),
                    MemorySegment.ofArray(want.get(i)), want.get(i).length, rtol, k -> "[" + k + "]");
            assertTrue(r.passed(), r::describe);
        }
    }

    /** y, dx, then every layer-direction's dWih, dWhh, dbIh, dWhr, dPeepholes. */
    private static List<float[]> stackRun(String backend, LstmConfig cfg, StackWeights weights, float[] x, float[] dy,
                                          int t, int b) {
        List<float[]> out = new ArrayList<>();
        float[] y = new float[t * b * cfg.sequenceOutputSize()], dx = new float[x.length];
        StackGradients g = StackGradients.allocate(cfg);
        try (Lstm lstm = Lstm.builder(cfg).backend(backend).verify(false).build();
             PackedWeights w = lstm.pack(weights);
             TrainingWorkspace ws = lstm.newWorkspace(t, b)) {
            MemorySegment xs = MemorySegment.ofArray(x);
            lstm.forwardTraining(w, t, b, xs, null, MemorySegment.ofArray(y), null, ws);
            lstm.backward(w, ws, xs, MemorySegment.ofArray(dy), null, MemorySegment.ofArray(dx), null, g,
                    GradientMode.OVERWRITE);
        }
        out.add(y);
        out.add(dx);
        for (int l = 0; l < cfg.layers(); l++) {
            for (int d = 0; d < cfg.directions(); d++) {
                LstmGradients lg = g.get(l, d);
                for (MemorySegment m : List.of(lg.dWih(), lg.dWhh(), lg.dbIh(), lg.dWhr(), lg.dPeepholes())) {
                    out.add(m.toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT));
                }
            }
        }
        return out;
    }
}
