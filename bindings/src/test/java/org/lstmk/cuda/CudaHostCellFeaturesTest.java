package org.lstmk.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import org.lstmk.api.LstmConfig;
import org.lstmk.cuda.FeatureHarness.Case;
import org.lstmk.reference.CellMath;
import org.lstmk.reference.ReferenceLstm;
import org.lstmk.spi.Support;

/**
 * The cell features of the CUDA kernels (peepholes, cell clip, and both), through the host build, against the
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
        Case c = new Case("schedules", 19, 21, 0, true, 0.4f, 4, 18, Layout.TIME_MAJOR, true, 1,
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
            Case c = new Case("grid y = 1", 20, 20, 0, true, 0.4f, 3, 35, Layout.BATCH_MAJOR, true, 1,
                    GradientMode.ACCUMULATE, 391);
            FeatureHarness.Outcome o = FeatureHarness.check(c, BACKEND);
            assertTrue(o.passed(), () -> c + " disagrees with the reference:\n" + o.failures());
        } finally {
            System.clearProperty(Kernels.MAX_GRID_Y_PROPERTY);
        }
    }

    @Test
    void providersDeclareTheCellFeatures() {
        LstmConfig peepClip = LstmConfig.builder(4, 8).peepholes(true).cellClip(2f).build();
        for (var p : List.of(new CudaHostProvider(), new CudaProvider())) {
            assertEquals(Support.YES, p.supports(peepClip), p.name());
            assertEquals(Support.YES, p.supports(LstmConfig.builder(4, 8).layers(2).bidirectional(true)
                    .peepholes(true).build()), p.name());
        }
        assertFalse(new CudaHostProvider().supports(LstmConfig.builder(4, 8).projectionSize(3).build()).supported());
    }
}
