package org.lstmk.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.lstmk.api.GradientMode;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmGradients;
import org.lstmk.api.LstmState;
import org.lstmk.api.LstmWeights;
import org.lstmk.api.PackedWeights;
import org.lstmk.api.TrainingWorkspace;

/**
 * Huge pre-activations saturate every gate exactly (σ to 0 or 1, tanh to ±1) and never produce NaN or infinity:
 * in the activation functions, and through a whole forward and backward.
 */
class SaturationTest {
    @ParameterizedTest(name = "±{0}")
    @ValueSource(doubles = {1e4, 1e30, Float.MAX_VALUE, Double.MAX_VALUE, Double.POSITIVE_INFINITY})
    void activationsSaturateExactly(double v) {
        assertEquals(1.0, ReferenceLstm.sigmoid(v), 0.0, "σ(+v)");
        assertEquals(0.0, ReferenceLstm.sigmoid(-v), 0.0, "σ(−v)");
        assertEquals(1.0, ReferenceLstm.tanh(v), 0.0, "tanh(+v)");
        assertEquals(-1.0, ReferenceLstm.tanh(-v), 0.0, "tanh(−v)");
    }

    @ParameterizedTest(name = "±{0}")
    @ValueSource(doubles = {0, 1e-3, 1, 20, 40, 700, 800})
    void sigmoidIsAccurateAndSymmetricOnTheWayThere(double v) {
        // Both branches of the stable formula: σ(v) + σ(−v) = 1 and σ(v) = 1/(1 + e^−v), never NaN.
        double expected = 1 / (1 + Math.exp(-v));
        assertEquals(expected, ReferenceLstm.sigmoid(v), 1e-16);
        assertEquals(1.0, ReferenceLstm.sigmoid(v) + ReferenceLstm.sigmoid(-v), 1e-15);
        assertTrue(ReferenceLstm.sigmoid(-v) >= 0 && ReferenceLstm.sigmoid(-v) <= 0.5, "σ(−v) in [0, 1/2]");
    }

    /**
     * Inputs of ±{@code scale}, weights of ±1: every pre-activation is huge, so every gate is exactly saturated;
     * outputs are finite (|h| ≤ 1) and every gradient is finite.
     */
    @ParameterizedTest(name = "inputs ±{0}")
    @ValueSource(floats = {1e4f, 1e30f, Float.MAX_VALUE})
    void wholeSequenceForwardAndBackwardStayFinite(float scale) {
        int in = 3, hid = 5, steps = 4, batch = 2, g = 4 * hid;
        SplittableRandom r = new SplittableRandom(17);
        float[] x = new float[steps * batch * in];
        for (int i = 0; i < x.length; i++) x[i] = r.nextBoolean() ? scale : -scale;
        float[] wIh = signs(r, g * in), wHh = signs(r, g * hid), bIh = signs(r, g), bHh = signs(r, g);
        float[] y = new float[steps * batch * hid], hT = new float[batch * hid], cT = new float[batch * hid];
        float[] dx = new float[x.length], dh0 = new float[batch * hid], dc0 = new float[batch * hid];
        float[] gates = new float[batch * g];
        LstmConfig cfg = LstmConfig.of(in, hid);
        LstmGradients grads = LstmGradients.allocate(cfg), cellGrads = LstmGradients.allocate(cfg);
        float[] dy = Floats.filled(steps * batch * hid, 1f);
        try (Lstm lstm = Lstm.builder(cfg).backend(ReferenceBackend.NAME).verify(false).build();
             PackedWeights w = lstm.pack(LstmWeights.of(wIh, wHh, bIh, bHh));
             TrainingWorkspace ws = lstm.newWorkspace(steps, batch)) {
            MemorySegment xs = MemorySegment.ofArray(x);
            lstm.forwardTraining(w, steps, batch, xs, null, MemorySegment.ofArray(y), LstmState.of(hT, cT), ws);
            lstm.backward(w, ws, xs, MemorySegment.ofArray(dy), LstmState.of(Floats.filled(batch * hid, 1f), null),
                    MemorySegment.ofArray(dx), LstmState.of(dh0, dc0), grads, GradientMode.OVERWRITE);
            lstm.cellForward(w, batch, xs, null, LstmState.allocate(batch, hid), MemorySegment.ofArray(gates));
            lstm.cellBackward(w, batch, xs, null, MemorySegment.ofArray(gates), LstmState.of(dy, dy), null, null,
                    cellGrads, GradientMode.OVERWRITE);
        }
        for (float v : gates) {
            assertTrue(v == 0 || v == 1 || v == -1, "every gate exactly saturated, got " + v);
        }
        assertBoundedByOne("y", y);
        assertBoundedByOne("hT", hT);
        assertFinite("cT", cT);
        for (String name : new String[] {"dx", "dh0", "dc0"}) {
            assertFinite(name, switch (name) { case "dx" -> dx; case "dh0" -> dh0; default -> dc0; });
        }
        for (LstmGradients gr : new LstmGradients[] {grads, cellGrads}) {
            assertFinite("dWih", gr.dWih().toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT));
            assertFinite("dWhh", gr.dWhh().toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT));
            assertFinite("dbIh", gr.dbIh().toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT));
        }
        // Saturated gates have zero derivative: no gradient flows to the input-side weights.
        for (float v : grads.dWih().toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT)) assertEquals(0f, v, "dWih");
    }

    /** Directly in double, through step and backwardStep. */
    @ParameterizedTest(name = "x = ±{0}")
    @ValueSource(doubles = {1e4, 1e30, Float.MAX_VALUE})
    void cellStepInDoubleStaysFinite(double scale) {
        int in = 1, hid = 3;
        SplittableRandom r = new SplittableRandom(5);
        // Input weights of ±1 so that no pre-activation can cancel to a moderate value.
        double[] wIh = Floats.widen(signs(r, 4 * hid * in)), wHh = SequenceProblem.uniform(r, 4 * hid * hid, 1);
        ReferenceLstm l = new ReferenceLstm(in, hid, wIh, wHh, null, null);
        double[] x = {scale};
        double[] h = {0.5, -0.5, 0.25}, c = {1, -1, 2};
        double[] gates = new double[4 * hid], hn = new double[hid], cn = new double[hid];
        l.step(x, 0, h, 0, c, 0, gates, 0, hn, 0, cn, 0);
        double[] dx = new double[in], dh = new double[hid], dc = new double[hid];
        double[] dWih = new double[4 * hid * in], dWhh = new double[4 * hid * hid], db = new double[4 * hid];
        l.backwardStep(x, 0, h, 0, c, 0, gates, 0, new double[] {1, 1, 1}, 0, new double[] {1, 1, 1}, 0,
                dx, 0, dh, 0, dc, 0, dWih, dWhh, db);
        for (double v : gates) assertTrue(v == 0 || v == 1 || v == -1, "gate exactly saturated, got " + v);
        for (double[] a : new double[][] {hn, cn, dx, dh, dc, dWih, dWhh, db}) {
            for (double v : a) assertTrue(Double.isFinite(v), "non-finite value " + v);
        }
    }

    private static float[] signs(SplittableRandom r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = r.nextBoolean() ? 1 : -1;
        return a;
    }

    private static void assertFinite(String name, float[] a) {
        for (int i = 0; i < a.length; i++) assertTrue(Float.isFinite(a[i]), name + "[" + i + "] = " + a[i]);
    }

    private static void assertBoundedByOne(String name, float[] a) {
        for (int i = 0; i < a.length; i++) {
            assertTrue(Float.isFinite(a[i]) && Math.abs(a[i]) <= 1, name + "[" + i + "] = " + a[i]);
        }
    }
}
