package org.lstmk.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.lstmk.reference.FiniteDifferences.FLOAT_BOUND;
import static org.lstmk.reference.FiniteDifferences.assertClose;
import static org.lstmk.reference.FiniteDifferences.gradient;
import static org.lstmk.reference.FiniteDifferences.plus;
import static org.lstmk.reference.Floats.filled;
import static org.lstmk.reference.Floats.of;
import static org.lstmk.reference.Floats.widen;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.lstmk.api.GradientMode;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmGradients;
import org.lstmk.api.LstmState;
import org.lstmk.api.LstmWeights;
import org.lstmk.api.PackedWeights;
import org.lstmk.api.TrainingWorkspace;

/**
 * The reference backend through the public API ({@link Lstm} with floats) against finite differences of the
 * double equations: checks the float plumbing of {@link ReferenceBackend} (layouts, offsets per batch element,
 * null optional arguments) and {@link GradientMode}: ACCUMULATE adds to the buffers' prior contents, OVERWRITE
 * ignores them. Bound: {@link FiniteDifferences#FLOAT_BOUND}, since every result is rounded to float.
 */
class ReferenceBackendGradientTest {
    private static final int B = 3, I = 5, H = 7, T = 4;
    private static final float SENTINEL = 12345f;

    @ParameterizedTest(name = "initial states {0}, {1}")
    @CsvSource({"true, OVERWRITE", "true, ACCUMULATE", "false, OVERWRITE", "false, ACCUMULATE"})
    void sequenceGradients(boolean initialState, GradientMode mode) {
        SequenceProblem p = new SequenceProblem(I, H, T, B, true, initialState, 5);
        double[] h0 = initialState ? p.h0 : new double[B * H];
        double[] c0 = initialState ? p.c0 : new double[B * H];
        DoubleSupplier loss = () -> p.loss(h0, c0);
        ReferenceLstm.Trace trace = p.forward(h0, c0);
        double[] expectedY = p.y(trace), expectedHT = p.last(trace, false), expectedCT = p.last(trace, true);

        float[][] prior = prior(mode, 9);
        float[] y = filled(T * B * H, SENTINEL), hT = filled(B * H, SENTINEL), cT = filled(B * H, SENTINEL);
        float[] dx = filled(T * B * I, SENTINEL), dh0 = filled(B * H, SENTINEL), dc0 = filled(B * H, SENTINEL);
        float[][] grads = {prior[0].clone(), prior[1].clone(), prior[2].clone(), prior[3].clone()};
        try (Lstm lstm = Lstm.builder(LstmConfig.of(I, H)).backend(ReferenceBackend.NAME).verify(false).build();
             PackedWeights w = lstm.pack(LstmWeights.of(of(p.wIh), of(p.wHh), of(p.bIh), of(p.bHh)));
             TrainingWorkspace ws = lstm.newWorkspace(T, B)) {
            MemorySegment x = MemorySegment.ofArray(of(p.x));
            lstm.forwardTraining(w, T, B, x, initialState ? LstmState.of(of(p.h0), of(p.c0)) : null,
                    MemorySegment.ofArray(y), LstmState.of(hT, cT), ws);
            lstm.backward(w, ws, x, MemorySegment.ofArray(of(p.dy)),
                    initialState ? LstmState.of(of(p.dhT), of(p.dcT)) : null, MemorySegment.ofArray(dx),
                    LstmState.of(dh0, dc0), LstmGradients.of(grads[0], grads[1], grads[2], grads[3]), mode);
        }
        assertClose("y", expectedY, widen(y), FLOAT_BOUND);
        assertClose("hT", expectedHT, widen(hT), FLOAT_BOUND);
        assertClose("cT", expectedCT, widen(cT), FLOAT_BOUND);
        assertClose("dx", gradient(p.x, loss), widen(dx), FLOAT_BOUND);
        assertClose("dh0", gradient(h0, loss), widen(dh0), FLOAT_BOUND);
        assertClose("dc0", gradient(c0, loss), widen(dc0), FLOAT_BOUND);
        assertWeightGradients(mode, prior, grads, gradient(p.wIh, loss), gradient(p.wHh, loss), gradient(p.bIh, loss),
                gradient(p.bHh, loss));
    }

    @ParameterizedTest(name = "previous state given {0}, {1}")
    @CsvSource({"true, OVERWRITE", "true, ACCUMULATE", "false, OVERWRITE", "false, ACCUMULATE"})
    void cellGradients(boolean previousState, GradientMode mode) {
        SequenceProblem p = new SequenceProblem(I, H, 1, B, true, true, 13);
        double[] h = previousState ? p.h0 : new double[B * H];
        double[] c = previousState ? p.c0 : new double[B * H];
        double[] dhNext = p.dhT, dcNext = p.dcT;
        DoubleSupplier loss = () -> {
            ReferenceLstm l = p.lstm();
            double[] gates = new double[4 * H], hn = new double[B * H], cn = new double[B * H];
            double s = 0;
            for (int b = 0; b < B; b++) l.step(p.x, b * I, h, b * H, c, b * H, gates, 0, hn, b * H, cn, b * H);
            for (int k = 0; k < B * H; k++) s += dhNext[k] * hn[k] + dcNext[k] * cn[k];
            return s;
        };
        double[] expectedH = new double[B * H], expectedC = new double[B * H], expectedGates = new double[B * 4 * H];
        for (int b = 0; b < B; b++) {
            p.lstm().step(p.x, b * I, h, b * H, c, b * H, expectedGates, b * 4 * H, expectedH, b * H, expectedC, b * H);
        }

        float[][] prior = prior(mode, 10);
        float[][] grads = {prior[0].clone(), prior[1].clone(), prior[2].clone(), prior[3].clone()};
        float[] hNext = filled(B * H, SENTINEL), cNext = filled(B * H, SENTINEL), gates = filled(B * 4 * H, SENTINEL);
        float[] dx = filled(B * I, SENTINEL), dh = filled(B * H, SENTINEL), dc = filled(B * H, SENTINEL);
        try (Lstm lstm = Lstm.builder(LstmConfig.of(I, H)).backend(ReferenceBackend.NAME).verify(false).build();
             PackedWeights w = lstm.pack(LstmWeights.of(of(p.wIh), of(p.wHh), of(p.bIh), of(p.bHh)))) {
            MemorySegment x = MemorySegment.ofArray(of(p.x));
            LstmState prev = previousState ? LstmState.of(of(p.h0), of(p.c0)) : null;
            lstm.cellForward(w, B, x, prev, LstmState.of(hNext, cNext), MemorySegment.ofArray(gates));
            lstm.cellBackward(w, B, x, prev, MemorySegment.ofArray(gates), LstmState.of(of(dhNext), of(dcNext)),
                    MemorySegment.ofArray(dx), LstmState.of(dh, dc),
                    LstmGradients.of(grads[0], grads[1], grads[2], grads[3]), mode);
        }
        assertClose("hNext", expectedH, widen(hNext), FLOAT_BOUND);
        assertClose("cNext", expectedC, widen(cNext), FLOAT_BOUND);
        assertClose("gates", expectedGates, widen(gates), FLOAT_BOUND);
        assertClose("dx", gradient(p.x, loss), widen(dx), FLOAT_BOUND);
        assertClose("dPrev.h", gradient(h, loss), widen(dh), FLOAT_BOUND);
        assertClose("dPrev.c", gradient(c, loss), widen(dc), FLOAT_BOUND);
        assertWeightGradients(mode, prior, grads, gradient(p.wIh, loss), gradient(p.wHh, loss), gradient(p.bIh, loss),
                gradient(p.bHh, loss));
    }

    /** Random prior contents to accumulate onto; or a sentinel that OVERWRITE must ignore. */
    private static float[][] prior(GradientMode mode, long seed) {
        int[] sizes = {4 * H * I, 4 * H * H, 4 * H, 4 * H};
        SplittableRandom r = new SplittableRandom(seed);
        float[][] prior = new float[4][];
        for (int k = 0; k < 4; k++) {
            prior[k] = mode == GradientMode.ACCUMULATE ? of(SequenceProblem.uniform(r, sizes[k], 1))
                    : filled(sizes[k], SENTINEL);
        }
        return prior;
    }

    private static void assertWeightGradients(GradientMode mode, float[][] prior, float[][] actual, double[]... fd) {
        String[] names = {"dWih", "dWhh", "dbIh", "dbHh"};
        for (int k = 0; k < 4; k++) {
            double[] expected = mode == GradientMode.ACCUMULATE ? plus(widen(prior[k]), fd[k]) : fd[k];
            if (java.util.Arrays.stream(fd[k]).allMatch(v -> v == 0)) {
                // dWhh from a zero previous h is exactly zero: then exactly the prior, or exactly zeros.
                assertArrayEquals(of(expected), actual[k], 0f, names[k] + " (" + mode + ") of a zero gradient");
            } else {
                assertClose(names[k] + " (" + mode + ")", expected, widen(actual[k]), FLOAT_BOUND);
            }
        }
        // Both bias gradients are written, and equal (as in PyTorch).
        assertArrayEquals(mode == GradientMode.ACCUMULATE ? minus(actual[2], prior[2]) : actual[2],
                mode == GradientMode.ACCUMULATE ? minus(actual[3], prior[3]) : actual[3], 1e-6f, "dbIh vs dbHh");
    }

    private static float[] minus(float[] a, float[] b) {
        float[] d = new float[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i] - b[i];
        return d;
    }
}
