package org.lstmk.simd;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.lstmk.api.GradientMode;
import org.lstmk.api.Layout;
import org.lstmk.api.LstmConfig;
import org.lstmk.reference.CellMath;
import org.lstmk.reference.ReferenceBackend;
import org.lstmk.verify.Comparison;

/**
 * The SIMD backend's peepholes, cell clip and projection (LSTMP) against the scalar reference, through the public API on the same random
 * problem ({@link FeatureProblem}): training forward, backward (dx, dh0, dc0 and every weight gradient, dPeepholes
 * included, overwritten and accumulated), inference forward, the cell step forward and backward — and the cell
 * backward from the reference's own gates, so that the clamped gates are recognised from values the SIMD forward did
 * not produce. Odd sizes around every vector width (H = 1, 7, 17, 33; I = 3, 16), T = 1 and 9, B = 1 and 5, with and
 * without initial state, 1 and 2 threads; inputs of scale 100 with a clip of 3 clamp many gates. Projection
 * (dWhr included) alone and with the other two, P from 1 to 40 (one column, under and over a vector, several column
 * blocks shared between threads).
 */
@Timeout(value = 120, unit = SECONDS)
class SimdFeaturesTest {
    static final int[] HIDDEN = {1, 7, 17, 33};
    static final int[] INPUT = {3, 16};

    /** Peepholes, clip, both; each over the sizes, with the other axes cycled through. */
    static List<FeatureProblem> problems() {
        List<FeatureProblem> c = new ArrayList<>();
        long seed = 1000;
        int k = 0;
        boolean[][] features = {{true, false}, {false, true}, {true, true}};
        for (boolean[] f : features) {
            for (int hid : HIDDEN) {
                for (int variant = 0; variant < 2; variant++, k++) {
                    boolean peep = f[0];
                    float clip = f[1] ? (k % 3 == 0 ? 1f : 3f) : 0f;
                    int in = INPUT[k % 2];
                    int steps = variant == 0 ? 1 : 9;
                    int batch = (k / 2) % 2 == 0 ? 5 : 1;
                    boolean state = k % 3 != 1;
                    double scale = f[1] && variant == 1 ? 100 : 1;
                    Layout layout = k % 5 == 4 ? Layout.BATCH_MAJOR : Layout.TIME_MAJOR;
                    GradientMode mode = k % 2 == 0 ? GradientMode.OVERWRITE : GradientMode.ACCUMULATE;
                    c.add(new FeatureProblem("features", in, hid, 0, peep, clip, steps, batch, layout, state, scale,
                            mode, seed++));
                }
            }
        }
        // saturating gates under a clip, several tile shapes (B = 7: 4 + 3 rows or 6 + 1; B = 16: 6 + 5 + 5)
        c.add(new FeatureProblem("saturating", 16, 33, 0, true, 3f, 9, 5, Layout.TIME_MAJOR, true, 100,
                GradientMode.ACCUMULATE, seed++));
        c.add(new FeatureProblem("saturating", 3, 17, 0, false, 3f, 9, 7, Layout.BATCH_MAJOR, false, 100,
                GradientMode.OVERWRITE, seed++));
        c.add(new FeatureProblem("saturating", 16, 65, 0, true, 2f, 5, 16, Layout.TIME_MAJOR, true, 100,
                GradientMode.OVERWRITE, seed++));
        // a clip wider than the activations' saturation: clamped σ gates hold exactly 1 (and a tiny LOW)
        c.add(new FeatureProblem("wide clip", 7, 17, 0, true, 50f, 4, 3, Layout.TIME_MAJOR, true, 100,
                GradientMode.ACCUMULATE, seed++));
        // long enough for several projection chunks and both sweep directions
        c.add(new FeatureProblem("long", 8, 48, 0, true, 4f, 40, 2, Layout.TIME_MAJOR, true, 1,
                GradientMode.OVERWRITE, seed++));
        return c;
    }

    /** Projection sizes P < H: one column, under and over a vector, several blocks of columns. */
    static final int[][] PROJECTED = {{2, 1}, {7, 3}, {17, 5}, {33, 16}, {40, 17}, {70, 40}};

    /** Projection alone and with peepholes and clip, over the sizes, the other axes cycled through. */
    static List<FeatureProblem> projectionProblems() {
        List<FeatureProblem> c = new ArrayList<>();
        long seed = 2000;
        int k = 0;
        for (int[] hp : PROJECTED) {
            for (int variant = 0; variant < 3; variant++, k++) {
                boolean peep = variant >= 1;
                float clip = variant == 2 ? 3f : 0f;
                int in = INPUT[k % 2];
                int steps = k % 2 == 0 ? 9 : 1;
                int batch = (k / 2) % 2 == 0 ? 5 : 1;
                boolean state = k % 3 != 2;
                double scale = variant == 2 && k % 2 == 0 ? 100 : 1;
                Layout layout = k % 4 == 3 ? Layout.BATCH_MAJOR : Layout.TIME_MAJOR;
                GradientMode mode = k % 2 == 1 ? GradientMode.OVERWRITE : GradientMode.ACCUMULATE;
                c.add(new FeatureProblem("projection", in, hp[0], hp[1], peep, clip, steps, batch, layout, state,
                        scale, mode, seed++));
            }
        }
        // several column blocks per thread and rows over one register tile; a long sequence
        c.add(new FeatureProblem("projection", 16, 70, 40, false, 0f, 12, 13, Layout.TIME_MAJOR, true, 1,
                GradientMode.ACCUMULATE, seed++));
        c.add(new FeatureProblem("projection", 9, 33, 20, true, 2f, 40, 3, Layout.BATCH_MAJOR, true, 100,
                GradientMode.OVERWRITE, seed++));
        return c;
    }

    static Stream<Arguments> projectionCases() {
        List<Arguments> a = new ArrayList<>();
        int k = 0;
        for (FeatureProblem p : projectionProblems()) a.add(Arguments.of(p, k++ % 2 == 0 ? 2 : 1));
        return a.stream();
    }

    @ParameterizedTest(name = "{0}, threads={1}")
    @MethodSource("projectionCases")
    void projectionAgreesWithTheReference(FeatureProblem p, int threads) {
        assertAgrees(p, threads);
    }

    static Stream<Arguments> cases() {
        List<Arguments> a = new ArrayList<>();
        int k = 0;
        for (FeatureProblem p : problems()) a.add(Arguments.of(p, k++ % 2 == 0 ? 1 : 2));
        return a.stream();
    }

    @ParameterizedTest(name = "{0}, threads={1}")
    @MethodSource("cases")
    void agreesWithTheReference(FeatureProblem p, int threads) {
        assertAgrees(p, threads);
    }

    static void assertAgrees(FeatureProblem p, int threads) {
        FeatureProblem.Inputs in = p.inputs();
        FeatureProblem.Outputs ref = p.run(in, ReferenceBackend.NAME, 1, null);
        FeatureProblem.Outputs simd = p.run(in, SimdBackend.NAME, threads, ref.get("cell.gates"));
        StringBuilder failed = new StringBuilder();
        List<Comparison.Result> results = p.compare(simd, ref);
        for (Comparison.Result r : results) if (!r.passed()) failed.append("\n  ").append(r.describe());
        assertTrue(failed.isEmpty(), "SIMD (" + SimdSpecies.describe() + ") differs from the reference on " + p
                + failed);
        assertEquals(ref.values.size(), results.size());
        if (p.clip() > 0) assertSameClampedGates(p, simd.get("cell.gates"), ref.get("cell.gates"));
    }

    /**
     * Where the reference clamped a gate, the SIMD gate holds the same constant, bit for bit, and nowhere else;
     * and with saturating inputs a good share of the gates is clamped (else the test would prove little).
     */
    static void assertSameClampedGates(FeatureProblem p, float[] simd, float[] ref) {
        int hid = p.hid(), clamped = 0;
        for (int k = 0; k < ref.length; k++) {
            int gate = (k / hid) % 4;
            boolean r = CellMath.clamped(gate, ref[k], p.clip()), s = CellMath.clamped(gate, simd[k], p.clip());
            assertEquals(r, s, "gate " + gate + " of element " + k + ": reference " + ref[k] + ", simd " + simd[k]);
            if (r) {
                assertEquals(Float.floatToRawIntBits(ref[k]), Float.floatToRawIntBits(simd[k]), "clamped value at " + k);
                clamped++;
            }
        }
        if (p.inputScale() >= 100 && p.clip() < 10) {
            assertTrue(clamped * 5 >= ref.length, "only " + clamped + " of " + ref.length + " gates clamped");
        }
    }

    /** The SIMD clamp constants are the reference's, and a pre-activation exactly at ±clip is clamped. */
    @Test
    void preActivationsAtTheClipAreClamped() {
        // W_ih = identity-like on one unit: a = x exactly (no bias, no W_hh contribution from a zero state)
        float clip = 2.5f;
        LstmConfig cfg = LstmConfig.builder(1, 1).cellClip(clip).build();
        float[] wIh = {1, 1, 1, 1}, wHh = {0, 0, 0, 0};
        float[] x = {clip, -clip, Math.nextDown(clip), Float.NaN};
        for (float v : x) {
            float[] gates = new float[4];
            float[] h = new float[1], c = new float[1];
            try (org.lstmk.api.Lstm lstm = org.lstmk.api.Lstm.builder(cfg).backend(SimdBackend.NAME).threads(1)
                    .verify(false).build();
                 org.lstmk.api.PackedWeights w = lstm.pack(org.lstmk.api.LstmWeights.of(wIh, wHh, null, null))) {
                lstm.cellForward(w, 1, FeatureProblem.seg(new float[] {v}), null, org.lstmk.api.LstmState.of(h, c),
                        FeatureProblem.seg(gates));
            }
            for (int gate = 0; gate < 4; gate++) {
                float expected;
                if (Float.isNaN(v)) {
                    assertTrue(Float.isNaN(gates[gate]), "NaN in, NaN out: gate " + gate + " = " + gates[gate]);
                    continue;
                } else if (v >= clip) {
                    expected = CellMath.clampedHigh(gate, clip);
                } else if (v <= -clip) {
                    expected = CellMath.clampedLow(gate, clip);
                } else {
                    expected = (float) CellMath.activation(gate, v);
                    assertTrue(Math.abs(gates[gate] - expected) <= 4 * Math.ulp(expected),
                            "gate " + gate + " at " + v + ": " + gates[gate] + " vs " + expected);
                    continue;
                }
                assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(gates[gate]),
                        "gate " + gate + " at " + v + ": " + gates[gate] + " vs " + expected);
            }
        }
    }

    /**
     * The same call twice on two threads gives the same bits (peephole and projection gradients are summed in a
     * fixed order).
     */
    @ParameterizedTest(name = "P={0}")
    @ValueSource(ints = {0, 24})
    void twoThreadsAreDeterministic(int proj) {
        FeatureProblem p = new FeatureProblem("determinism", 16, 70, proj, true, 3f, 12, 6, Layout.TIME_MAJOR, true,
                3, GradientMode.OVERWRITE, 77);
        FeatureProblem.Inputs in = p.inputs();
        FeatureProblem.Outputs a = p.run(in, SimdBackend.NAME, 2, null), b = p.run(in, SimdBackend.NAME, 2, null);
        for (String name : a.values.keySet()) assertArrayEquals(a.get(name), b.get(name), name);
    }
}
