package org.lstmk.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;
import org.lstmk.api.GradientMode;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmGradients;
import org.lstmk.api.LstmState;
import org.lstmk.api.LstmWeights;
import org.lstmk.api.PackedWeights;
import org.lstmk.api.TrainingWorkspace;

/**
 * One LSTM step worked out by hand, through the public API on the reference backend. Pre-activations are chosen
 * as 0, ±ln 3 and ln 2, where the activations are simple fractions:
 * σ(0) = 1/2, σ(ln 3) = 1/(1 + 1/3) = 3/4, σ(−ln 3) = 1/4, tanh(ln 2) = (2 − 1/2)/(2 + 1/2) = 3/5,
 * tanh(ln 3) = (3 − 1/3)/(3 + 1/3) = 4/5.
 * Tolerance 1e-6: the weights are floats, so {@code ln 3} is off by up to 3e-8 and the results by a few 1e-8;
 * a wrong gate order, formula or sign is off by 0.05 or more.
 */
class HandWorkedExampleTest {
    private static final double EPS = 1e-6;
    private static final float LN2 = (float) Math.log(2), LN3 = (float) Math.log(3);

    /**
     * I = 1, H = 1, x = 1, h0 = 0, c0 = 2·ln 3 − 0.9, no bias; W_ih = (ln 3, 0, ln 2, ln 3) for gates (i, f, g, o).
     * <pre>
     *   a = W_ih·x + W_hh·h0     = (ln 3, 0, ln 2, ln 3)       (h0 = 0: W_hh plays no part forward)
     *   i = 3/4   f = 1/2   g = 3/5   o = 3/4
     *   c1 = f·c0 + i·g          = (ln 3 − 0.45) + 0.45 = ln 3
     *   h1 = o·tanh(c1)          = 3/4 · 4/5 = 3/5
     * </pre>
     * Backward with dy = 1 (dhT = dcT = 0), W_hh = (0.5, −0.5, 0.25, 1):
     * <pre>
     *   dc    = dh·o·(1 − tanh²c1)  = 3/4 · 9/25 = 0.27
     *   da_i  = dc·g·i(1 − i)       = 0.27 · 0.6 · 3/16 = 0.030375
     *   da_f  = dc·c0·f(1 − f)      = 0.0675·c0 = 0.087562659
     *   da_g  = dc·i·(1 − g²)       = 0.27 · 0.75 · 0.64 = 0.1296
     *   da_o  = dh·tanh(c1)·o(1−o)  = 0.8 · 3/16 = 0.15
     *   dc0   = dc·f                = 0.135
     *   dh0   = W_hhᵀ·da            = 0.0151875 − 0.043781329 + 0.0324 + 0.15 = 0.153806171
     *   dx    = W_ihᵀ·da            = ln3·0.030375 + ln2·0.1296 + ln3·0.15 = 0.287994066
     *   dW_ih = da·x = da           dW_hh = da·h0 = 0           db_ih = db_hh = da
     * </pre>
     */
    @Test
    void oneInputOneUnit() {
        float c0 = (float) (2 * Math.log(3) - 0.9);
        float[] wIh = {LN3, 0, LN2, LN3};
        float[] wHh = {0.5f, -0.5f, 0.25f, 1};
        float[] y = new float[1], hT = new float[1], cT = new float[1];
        float[] dx = new float[1], dh0 = new float[1], dc0 = new float[1];
        LstmGradients grads = LstmGradients.allocate(LstmConfig.of(1, 1));
        try (Lstm lstm = Lstm.builder(LstmConfig.of(1, 1)).backend(ReferenceBackend.NAME).verify(false).build();
             PackedWeights w = lstm.pack(LstmWeights.of(wIh, wHh, null, null));
             TrainingWorkspace ws = lstm.newWorkspace(1, 1)) {
            MemorySegment x = MemorySegment.ofArray(new float[] {1});
            lstm.forwardTraining(w, 1, 1, x, LstmState.of(new float[] {0}, new float[] {c0}), MemorySegment.ofArray(y),
                    LstmState.of(hT, cT), ws);
            lstm.backward(w, ws, x, MemorySegment.ofArray(new float[] {1}), null, MemorySegment.ofArray(dx),
                    LstmState.of(dh0, dc0), LstmGradients.of(grads.dWih(), grads.dWhh(), null, null),
                    GradientMode.OVERWRITE);
        }
        assertEquals(0.6, y[0], EPS, "h1 = o·tanh(c1) = 3/4 · 4/5");
        assertEquals(0.6, hT[0], EPS, "hT = h1");
        assertEquals(Math.log(3), cT[0], EPS, "c1 = f·c0 + i·g = ln 3");
        assertEquals(0.287994066, dx[0], EPS, "dx = W_ihᵀ·da");
        assertEquals(0.153806171, dh0[0], EPS, "dh0 = W_hhᵀ·da");
        assertEquals(0.135, dc0[0], EPS, "dc0 = dc·f");
        double[] da = {0.030375, 0.0675 * c0, 0.1296, 0.15};
        assertArrayEquals(da, Floats.widen(floats(grads.dWih(), 4)), EPS, "dW_ih = da·x with x = 1");
        assertArrayEquals(new double[4], Floats.widen(floats(grads.dWhh(), 4)), 0, "dW_hh = da·h0 with h0 = 0");
    }

    /**
     * I = 2, H = 1, x = (1, 2), h0 = 1, c0 = 4·(ln 2 − 0.45): the recurrent weights and both biases take part.
     * <pre>
     *   gate  W_ih       W_hh    b_ih      b_hh    a
     *   i     (ln3, 0)   0       0         0       ln 3          → i = 3/4
     *   f     (1, −0.5)  −ln3    0         0       1 − 1 − ln 3  → f = 1/4
     *   g     (0, 0)     0       ln2 + 1   −1      ln 2          → g = 3/5
     *   o     (0, ln3/2) 0       0.5       −0.5    ln 3          → o = 3/4
     *   c1 = f·c0 + i·g = (ln 2 − 0.45) + 0.45 = ln 2;   h1 = o·tanh(ln 2) = 3/4 · 3/5 = 0.45
     * </pre>
     * The cell step (cellForward) gives the same, and its saved gates are (i, f, g, o) in that order.
     */
    @Test
    void twoInputsOneUnitWithRecurrenceAndBothBiases() {
        float[] wIh = {LN3, 0, 1, -0.5f, 0, 0, 0, LN3 / 2};
        float[] wHh = {0, -LN3, 0, 0};
        float[] bIh = {0, 0, LN2 + 1, 0.5f};
        float[] bHh = {0, 0, -1, -0.5f};
        float c0 = (float) (4 * (Math.log(2) - 0.45));
        float[] y = new float[1], hT = new float[1], cT = new float[1];
        float[] hNext = new float[1], cNext = new float[1], gates = new float[4];
        try (Lstm lstm = Lstm.builder(LstmConfig.of(2, 1)).backend(ReferenceBackend.NAME).verify(false).build();
             PackedWeights w = lstm.pack(LstmWeights.of(wIh, wHh, bIh, bHh))) {
            MemorySegment x = MemorySegment.ofArray(new float[] {1, 2});
            LstmState initial = LstmState.of(new float[] {1}, new float[] {c0});
            lstm.forward(w, 1, 1, x, initial, MemorySegment.ofArray(y), LstmState.of(hT, cT));
            lstm.cellForward(w, 1, x, initial, LstmState.of(hNext, cNext), MemorySegment.ofArray(gates));
        }
        assertEquals(0.45, y[0], EPS, "h1 = 3/4 · tanh(ln 2)");
        assertEquals(0.45, hT[0], EPS);
        assertEquals(Math.log(2), cT[0], EPS, "c1 = ln 2");
        assertEquals(0.45, hNext[0], EPS, "cell step h");
        assertEquals(Math.log(2), cNext[0], EPS, "cell step c");
        assertArrayEquals(new double[] {0.75, 0.25, 0.6, 0.75}, Floats.widen(gates), EPS, "gates i, f, g, o");
    }

    private static float[] floats(MemorySegment s, int n) {
        return s.asSlice(0, n * 4L).toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
    }
}
