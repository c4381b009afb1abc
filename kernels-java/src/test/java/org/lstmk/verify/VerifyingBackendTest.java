package org.lstmk.verify;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.lstmk.api.GradientMode;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmGradients;
import org.lstmk.api.LstmState;
import org.lstmk.api.LstmWeights;
import org.lstmk.api.PackedWeights;
import org.lstmk.api.TrainingWorkspace;
import org.lstmk.dispatch.Dispatcher;
import org.lstmk.dispatch.FlippedGateTestProvider;
import org.lstmk.reference.ReferenceBackend;
import org.lstmk.spi.BackendWeights;
import org.lstmk.spi.BackendWorkspace;
import org.lstmk.spi.Calls;

/**
 * The verifying wrapper catches a wrong backend (the registered {@code test-flipped-gate} double, and a double that
 * spoils one element of any chosen output), names the backend, the call, the output, the element and the errors,
 * and lets a correct backend through untouched.
 */
class VerifyingBackendTest {
    private static final int I = 3, H = 5, T = 4, B = 2;
    private static final LstmConfig CFG = LstmConfig.of(I, H);
    private static final Pattern MISMATCH_LINE = Pattern.compile(
            "\\n  y: MISMATCH, max abs [0-9.e+-]+, max rel [0-9.e+-]+, worst y\\[t=\\d, b=\\d, \\d\\] = \\S+ vs \\S+ \\([0-9.]+ of bound\\)");
    private final RandomData rnd = new RandomData(31);
    private final LstmWeights weights = rnd.weights(CFG);
    private final float[] x = rnd.uniform(T * B * I, 1);
    private String savedVerify;

    @BeforeEach
    void clearProperty() {
        savedVerify = System.clearProperty(Dispatcher.VERIFY_PROPERTY);
    }

    @AfterEach
    void restoreProperty() {
        if (savedVerify == null) System.clearProperty(Dispatcher.VERIFY_PROPERTY);
        else System.setProperty(Dispatcher.VERIFY_PROPERTY, savedVerify);
    }

    @Test
    void flippedGateBackendFailsVerificationNamingBackendOutputLocationAndErrors() {
        float[] y = new float[T * B * H];
        VerificationException e;
        try (Lstm lstm = Lstm.builder(CFG).backend(FlippedGateTestProvider.NAME).verify(true).build();
             PackedWeights w = lstm.pack(weights)) {
            e = assertThrows(VerificationException.class,
                    () -> lstm.forward(w, T, B, MemorySegment.ofArray(x), null, MemorySegment.ofArray(y), null));
        }
        String m = e.getMessage();
        assertTrue(m.startsWith("backend 'test-flipped-gate' forward disagrees with the reference (T=4, B=2, "), m);
        assertTrue(MISMATCH_LINE.matcher(m).find(), m);
        Comparison.Result yResult = e.results().stream().filter(r -> r.name().equals("y")).findFirst().orElseThrow();
        assertFalse(yResult.passed());
        assertTrue(yResult.maxAbs() > 1e-3, "a gate swap is a gross error: " + yResult.describe());
        // The caller still receives the tested backend's (wrong) results: those of the unverified double.
        assertArrayEquals(unverified(FlippedGateTestProvider.NAME), y);
    }

    /**
     * Saturating inputs (x uniform in ±1000) on the SIMD backend: its gradients through gates that float32 rounds
     * to exactly 0 or 1 are 0 where the double reference has values like 1e-14 (and tiny differences where it has
     * 1e-4 of 1 − σ), which is float32 underflow, not a mismatch; the same inputs on a wrong backend still fail.
     */
    @Test
    void float32UnderflowOnSaturatedInputsIsNoMismatchButAWrongBackendStillIs() {
        for (int hid : new int[] {1, 3, 8}) {
            for (double scale : new double[] {100, 1000}) {
                LstmConfig cfg = LstmConfig.of(2, hid);
                int t = 5, b = 2;
                RandomData r = new RandomData(40 + hid);
                LstmWeights w0 = r.weights(cfg);
                float[] xs = r.uniform(t * b * 2, scale), dy = r.uniform(t * b * hid, 1);
                float[] y = new float[t * b * hid], dx = new float[t * b * 2];
                for (int steps : new int[] {1, t}) {
                    try (Lstm lstm = Lstm.builder(cfg).backend("simd").verify(true).build();
                         PackedWeights w = lstm.pack(w0);
                         TrainingWorkspace ws = lstm.newWorkspace(steps, b)) {
                        lstm.forwardTraining(w, steps, b, MemorySegment.ofArray(xs), null, MemorySegment.ofArray(y),
                                null, ws);
                        lstm.backward(w, ws, MemorySegment.ofArray(xs), MemorySegment.ofArray(dy), null,
                                MemorySegment.ofArray(dx), LstmState.allocate(b, hid), LstmGradients.allocate(cfg),
                                GradientMode.OVERWRITE);
                        float[] gates = new float[b * 4 * hid], h = new float[b * hid], c = new float[b * hid];
                        MemorySegment x0 = MemorySegment.ofArray(java.util.Arrays.copyOf(xs, b * 2));
                        lstm.cellForward(w, b, x0, null, LstmState.of(h, c), MemorySegment.ofArray(gates));
                        lstm.cellBackward(w, b, x0, null, MemorySegment.ofArray(gates),
                                LstmState.of(java.util.Arrays.copyOf(dy, b * hid), null),
                                MemorySegment.ofArray(new float[b * 2]),
                                LstmState.allocate(b, hid), LstmGradients.allocate(cfg), GradientMode.OVERWRITE);
                    }
                }
                // (H = 1 is left out: with its two saturated cells, i and f may well hold the same 0 or 1, and
                // swapping them changes nothing)
                if (hid == 1) continue;
                try (Lstm lstm = Lstm.builder(cfg).backend(FlippedGateTestProvider.NAME).verify(true).build();
                     PackedWeights w = lstm.pack(w0)) {
                    assertThrows(VerificationException.class, () -> lstm.forward(w, t, b, MemorySegment.ofArray(xs),
                            null, MemorySegment.ofArray(y), null), "H=" + hid + " x" + scale);
                }
            }
        }
    }

    @Test
    void withoutVerificationTheFlippedGateBackendSilentlyReturnsWrongResults() {
        float[] wrong = unverified(FlippedGateTestProvider.NAME), right = unverified(ReferenceBackend.NAME);
        double maxDiff = 0;
        for (int i = 0; i < wrong.length; i++) maxDiff = Math.max(maxDiff, Math.abs(wrong[i] - right[i]));
        assertTrue(maxDiff > 1e-2, "the double must really be wrong, max difference " + maxDiff);
        // ...and wrong in exactly the intended way: it is the reference run with the i and f gates swapped.
        float[] swapped = new float[wrong.length];
        try (Lstm lstm = Lstm.builder(CFG).backend(ReferenceBackend.NAME).verify(false).build();
             PackedWeights w = lstm.pack(FlippedGateTestProvider.swapInputAndForgetGates(CFG, weights))) {
            lstm.forward(w, T, B, MemorySegment.ofArray(x), null, MemorySegment.ofArray(swapped), null);
        }
        assertArrayEquals(swapped, wrong);
    }

    @Test
    void systemPropertyTurnsVerificationOn() {
        System.setProperty(Dispatcher.VERIFY_PROPERTY, "true");
        try (Lstm lstm = Lstm.builder(CFG).backend(FlippedGateTestProvider.NAME).build();
             PackedWeights w = lstm.pack(weights)) {
            assertTrue(lstm.selection().verified());
            VerificationException e = assertThrows(VerificationException.class, () -> lstm.forward(w, T, B, x));
            assertTrue(e.getMessage().contains("backend 'test-flipped-gate'"), e.getMessage());
        }
        System.setProperty(Dispatcher.VERIFY_PROPERTY, "false");
        try (Lstm lstm = Lstm.builder(CFG).backend(FlippedGateTestProvider.NAME).build();
             PackedWeights w = lstm.pack(weights)) {
            assertFalse(lstm.selection().verified());
            assertEquals(T * B * H, lstm.forward(w, T, B, x).length);
        }
    }

    /** Every call of a correct backend passes verification and returns what it returns unverified, bit for bit. */
    @ParameterizedTest
    @EnumSource(GradientMode.class)
    void correctBackendPassesEveryCallAndIsUnchanged(GradientMode mode) {
        float[][] verified = everyCall(true, mode), plain = everyCall(false, mode);
        assertEquals(plain.length, verified.length);
        for (int k = 0; k < plain.length; k++) assertArrayEquals(plain[k], verified[k], "output " + k);
    }

    /** Forward training, backward, cell forward and cell backward with every output; all outputs, in order. */
    private float[][] everyCall(boolean verify, GradientMode mode) {
        RandomData r = new RandomData(77);
        float[] h0 = r.uniform(B * H, 1), c0 = r.uniform(B * H, 1), dy = r.uniform(T * B * H, 1);
        float[] y = new float[T * B * H], hT = new float[B * H], cT = new float[B * H];
        float[] dx = new float[T * B * I], dh0 = new float[B * H], dc0 = new float[B * H];
        float[][] g = {r.uniform(4 * H * I, 1), r.uniform(4 * H * H, 1), r.uniform(4 * H, 1), r.uniform(4 * H, 1)};
        float[][] cg = {g[0].clone(), g[1].clone(), g[2].clone(), g[3].clone()};
        float[] hn = new float[B * H], cn = new float[B * H], gates = new float[4 * B * H];
        float[] cdx = new float[B * I], cdh = new float[B * H], cdc = new float[B * H];
        try (Lstm lstm = Lstm.builder(CFG).backend(ReferenceBackend.NAME).verify(verify).build();
             PackedWeights w = lstm.pack(weights);
             TrainingWorkspace ws = lstm.newWorkspace(T, B)) {
            MemorySegment xs = MemorySegment.ofArray(x);
            LstmState initial = LstmState.of(h0, c0);
            lstm.forwardTraining(w, T, B, xs, initial, MemorySegment.ofArray(y), LstmState.of(hT, cT), ws);
            lstm.backward(w, ws, xs, MemorySegment.ofArray(dy), LstmState.of(hT, cT), MemorySegment.ofArray(dx),
                    LstmState.of(dh0, dc0), LstmGradients.of(g[0], g[1], g[2], g[3]), mode);
            MemorySegment x0 = xs.asSlice(0, (long) B * I * Float.BYTES);
            lstm.cellForward(w, B, x0, initial, LstmState.of(hn, cn), MemorySegment.ofArray(gates));
            lstm.cellBackward(w, B, x0, initial, MemorySegment.ofArray(gates), LstmState.of(hT, cT),
                    MemorySegment.ofArray(cdx), LstmState.of(cdh, cdc), LstmGradients.of(cg[0], cg[1], cg[2], cg[3]),
                    mode);
        }
        return new float[][] {y, hT, cT, dx, dh0, dc0, g[0], g[1], g[2], g[3], hn, cn, gates, cdx, cdh, cdc,
                cg[0], cg[1], cg[2], cg[3]};
    }

    /**
     * One element of one output spoiled by 1% of the output's scale: the wrapper names the call, the output, and
     * the element ({@link CorruptingBackend#SPOILED_INDEX} = 1). In ACCUMULATE mode too, where the reference must
     * accumulate onto the prior contents, not onto the tested backend's result.
     */
    @ParameterizedTest(name = "{0} {1} ({2})")
    @CsvSource(delimiter = '|', value = {
        "forward | y | y[t=0, b=0, 1] | OVERWRITE", "forward | hT | hT[0, 1] | OVERWRITE",
        "forward | cT | cT[0, 1] | OVERWRITE", "backward | dx | dx[t=0, b=0, 1] | OVERWRITE",
        "backward | dh0 | dh0[0, 1] | OVERWRITE", "backward | dc0 | dc0[0, 1] | OVERWRITE",
        "backward | dWih | dWih[0, 1] | OVERWRITE", "backward | dWhh | dWhh[0, 1] | ACCUMULATE",
        "backward | dbIh | dbIh[0, 1] | ACCUMULATE", "backward | dbHh | dbHh[0, 1] | OVERWRITE",
        "cellForward | hNext | hNext[0, 1] | OVERWRITE", "cellForward | cNext | cNext[0, 1] | OVERWRITE",
        "cellForward | gates | gates[0, 1] | OVERWRITE", "cellBackward | dx | dx[0, 1] | OVERWRITE",
        "cellBackward | dh | dh[0, 1] | OVERWRITE", "cellBackward | dc | dc[0, 1] | OVERWRITE",
        "cellBackward | dWih | dWih[0, 1] | ACCUMULATE", "cellBackward | dWhh | dWhh[0, 1] | OVERWRITE",
        "cellBackward | dbIh | dbIh[0, 1] | OVERWRITE", "cellBackward | dbHh | dbHh[0, 1] | ACCUMULATE"})
    void everyComparedOutputIsCaught(String call, String output, String location, GradientMode mode) {
        VerifyingBackend v = new VerifyingBackend(new CorruptingBackend(call, output), new ReferenceBackend());
        RandomData r = new RandomData(5);
        MemorySegment xs = MemorySegment.ofArray(x), x0 = xs.asSlice(0, (long) B * I * Float.BYTES);
        MemorySegment h0 = seg(r.uniform(B * H, 1)), c0 = seg(r.uniform(B * H, 1));
        MemorySegment y = seg(new float[T * B * H]), hT = seg(new float[B * H]), cT = seg(new float[B * H]);
        MemorySegment gates = seg(new float[4 * B * H]);
        LstmGradients grads = LstmGradients.of(r.uniform(4 * H * I, 1), r.uniform(4 * H * H, 1), r.uniform(4 * H, 1),
                r.uniform(4 * H, 1));
        boolean acc = mode == GradientMode.ACCUMULATE;
        try (BackendWeights w = v.pack(CFG, weights); BackendWorkspace ws = v.newWorkspace(CFG, T, B)) {
            VerificationException e = assertThrows(VerificationException.class, () -> {
                v.forward(new Calls.Forward(CFG, w, T, B, xs, h0, c0, y, hT, cT, ws));
                v.backward(new Calls.Backward(CFG, w, ws, T, B, xs, seg(r.uniform(T * B * H, 1)), hT, cT,
                        seg(new float[T * B * I]), seg(new float[B * H]), seg(new float[B * H]), grads, acc));
                v.cellForward(new Calls.CellForward(CFG, w, B, x0, h0, c0, seg(new float[B * H]), seg(new float[B * H]),
                        gates));
                v.cellBackward(new Calls.CellBackward(CFG, w, B, x0, h0, c0, gates, hT, cT, seg(new float[B * I]),
                        seg(new float[B * H]), seg(new float[B * H]), grads, acc));
            });
            String m = e.getMessage();
            assertTrue(m.startsWith("backend 'test-corrupting' " + call + " disagrees with the reference"), m);
            assertTrue(m.contains("\n  " + output + ": MISMATCH"), m);
            assertTrue(m.contains("worst " + location + " = "), m);
            // Exactly the spoiled output fails; every other output of the call passed.
            assertEquals(java.util.List.of(output),
                    e.results().stream().filter(res -> !res.passed()).map(Comparison.Result::name).toList(), m);
            assertTrue(e.results().size() > 1, "every output was compared");
        }
    }

    private float[] unverified(String backend) {
        try (Lstm lstm = Lstm.builder(CFG).backend(backend).verify(false).build(); PackedWeights w = lstm.pack(weights)) {
            return lstm.forward(w, T, B, x);
        }
    }

    private static MemorySegment seg(float[] a) {
        return MemorySegment.ofArray(a);
    }
}
