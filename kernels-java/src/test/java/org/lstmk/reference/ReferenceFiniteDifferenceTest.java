package org.lstmk.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.lstmk.reference.FiniteDifferences.DOUBLE_BOUND;
import static org.lstmk.reference.FiniteDifferences.assertClose;
import static org.lstmk.reference.FiniteDifferences.gradient;
import static org.lstmk.reference.FiniteDifferences.plus;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * Every gradient of {@link ReferenceLstm#backward} and {@link ReferenceLstm#backwardStep} against central finite
 * differences of the forward, in double, for every element of every input and parameter, on a small odd shape.
 */
class ReferenceFiniteDifferenceTest {
    private static final int B = 3, I = 5, H = 7, T = 4;

    @ParameterizedTest(name = "initial states {0}, bias {1}, weight gradients accumulate onto a prior {2}")
    @CsvSource({"true, true, false", "false, true, false", "true, true, true", "false, false, true"})
    void sequenceBackwardMatchesFiniteDifferences(boolean initialState, boolean bias, boolean accumulate) {
        SequenceProblem p = new SequenceProblem(I, H, T, B, bias, initialState, 42);
        // Without initial states the forward starts from zeros: differentiate there, after checking that null
        // really means zeros.
        double[] h0 = initialState ? p.h0 : new double[B * H];
        double[] c0 = initialState ? p.c0 : new double[B * H];
        if (!initialState) assertEquals(p.loss(h0, c0), p.loss(null, null), 0.0, "null initial state must be zeros");

        SplittableRandom r = new SplittableRandom(7);
        double[] priorWih = accumulate ? SequenceProblem.uniform(r, 4 * H * I, 1) : new double[4 * H * I];
        double[] priorWhh = accumulate ? SequenceProblem.uniform(r, 4 * H * H, 1) : new double[4 * H * H];
        double[] priorB = accumulate ? SequenceProblem.uniform(r, 4 * H, 1) : new double[4 * H];
        double[] dWih = priorWih.clone(), dWhh = priorWhh.clone(), db = priorB.clone();
        double[] dx = new double[T * B * I], dh0 = new double[B * H], dc0 = new double[B * H];
        ReferenceLstm.Trace trace = p.forward(initialState ? p.h0 : null, initialState ? p.c0 : null);
        p.lstm().backward(trace, p.x, p.dy, p.dhT, p.dcT, dx, dh0, dc0, dWih, dWhh, db);

        assertClose("dx", gradient(p.x, () -> p.loss(h0, c0)), dx, DOUBLE_BOUND);
        assertClose("dh0", gradient(h0, () -> p.loss(h0, c0)), dh0, DOUBLE_BOUND);
        assertClose("dc0", gradient(c0, () -> p.loss(h0, c0)), dc0, DOUBLE_BOUND);
        // backward adds to the weight gradients: what is there afterwards is the prior plus the gradient.
        assertClose("dWih", plus(priorWih, gradient(p.wIh, () -> p.loss(h0, c0))), dWih, DOUBLE_BOUND);
        assertClose("dWhh", plus(priorWhh, gradient(p.wHh, () -> p.loss(h0, c0))), dWhh, DOUBLE_BOUND);
        if (bias) {
            // Both biases enter as a sum, so the one db is the gradient of each.
            assertClose("db vs bIh", plus(priorB, gradient(p.bIh, () -> p.loss(h0, c0))), db, DOUBLE_BOUND);
            assertClose("db vs bHh", plus(priorB, gradient(p.bHh, () -> p.loss(h0, c0))), db, DOUBLE_BOUND);
        } else {
            // No bias parameter to perturb; db is still the gradient of a bias added to the pre-activations.
            // A zero bias vector must change nothing; then differentiate with respect to it.
            double noBias = p.loss(h0, c0);
            p.bIh = new double[4 * H];
            assertEquals(noBias, p.loss(h0, c0), 0.0, "a null bias must act as zeros");
            assertClose("db (zero bias)", plus(priorB, gradient(p.bIh, () -> p.loss(h0, c0))), db, DOUBLE_BOUND);
        }
    }

    @Test
    void theCheckRejectsAGradientRoundedToFloat() {
        // The harness must be able to fail: the exact gradient passes, the same gradient rounded to float does not.
        SequenceProblem p = new SequenceProblem(I, H, T, B, true, true, 42);
        double[] fd = gradient(p.wHh, () -> p.loss(p.h0, p.c0));
        double[] dWhh = new double[fd.length];
        p.lstm().backward(p.forward(p.h0, p.c0), p.x, p.dy, p.dhT, p.dcT, null, null, null, null, dWhh, null);
        assertClose("dWhh", fd, dWhh, DOUBLE_BOUND);
        double[] rounded = Floats.widen(Floats.of(dWhh));
        org.junit.jupiter.api.Assertions.assertThrows(org.opentest4j.AssertionFailedError.class,
                () -> assertClose("dWhh rounded to float", fd, rounded, DOUBLE_BOUND));
    }

    @Test
    void optionalOutputsOfBackwardMayBeNullWithoutChangingTheOthers() {
        SequenceProblem p = new SequenceProblem(I, H, T, B, true, true, 3);
        ReferenceLstm.Trace trace = p.forward(p.h0, p.c0);
        double[] dx = new double[T * B * I], dh0 = new double[B * H], dc0 = new double[B * H];
        double[] dWih = new double[4 * H * I], dWhh = new double[4 * H * H], db = new double[4 * H];
        p.lstm().backward(trace, p.x, p.dy, p.dhT, p.dcT, dx, dh0, dc0, dWih, dWhh, db);
        double[] dWhhOnly = new double[4 * H * H];
        p.lstm().backward(trace, p.x, p.dy, p.dhT, p.dcT, null, null, null, null, dWhhOnly, null);
        assertArrayEquals(dWhh, dWhhOnly, 0.0);
    }

    @ParameterizedTest(name = "offsets {0}")
    @CsvSource({"0", "3"})
    void cellBackwardStepMatchesFiniteDifferences(int off) {
        // One step of one batch element; every array starts at offset `off` to exercise the offset arguments.
        SplittableRandom r = new SplittableRandom(11 + off);
        double[] wIh = SequenceProblem.uniform(r, 4 * H * I, 0.6), wHh = SequenceProblem.uniform(r, 4 * H * H, 0.6);
        double[] bIh = SequenceProblem.uniform(r, 4 * H, 0.6), bHh = SequenceProblem.uniform(r, 4 * H, 0.6);
        double[] x = SequenceProblem.uniform(r, off + I, 1), h = SequenceProblem.uniform(r, off + H, 1);
        double[] c = SequenceProblem.uniform(r, off + H, 1);
        double[] dhNext = SequenceProblem.uniform(r, off + H, 1), dcNext = SequenceProblem.uniform(r, off + H, 1);
        java.util.function.DoubleSupplier loss = () -> {
            ReferenceLstm l = new ReferenceLstm(I, H, wIh, wHh, bIh, bHh);
            double[] gates = new double[4 * H], hn = new double[H], cn = new double[H];
            l.step(x, off, h, off, c, off, gates, 0, hn, 0, cn, 0);
            double s = 0;
            for (int j = 0; j < H; j++) s += dhNext[off + j] * hn[j] + dcNext[off + j] * cn[j];
            return s;
        };

        ReferenceLstm l = new ReferenceLstm(I, H, wIh, wHh, bIh, bHh);
        double[] gates = new double[off + 4 * H], hn = new double[off + H], cn = new double[off + H];
        l.step(x, off, h, off, c, off, gates, off, hn, off, cn, off);
        double[] dx = new double[off + I], dh = new double[off + H], dc = new double[off + H];
        double[] dWih = new double[4 * H * I], dWhh = new double[4 * H * H], db = new double[4 * H];
        l.backwardStep(x, off, h, off, c, off, gates, off, dhNext, off, dcNext, off, dx, off, dh, off, dc, off,
                dWih, dWhh, db);

        assertClose("dx", tail(gradient(x, loss), off), tail(dx, off), DOUBLE_BOUND);
        assertClose("dhPrev", tail(gradient(h, loss), off), tail(dh, off), DOUBLE_BOUND);
        assertClose("dcPrev", tail(gradient(c, loss), off), tail(dc, off), DOUBLE_BOUND);
        assertClose("dWih", gradient(wIh, loss), dWih, DOUBLE_BOUND);
        assertClose("dWhh", gradient(wHh, loss), dWhh, DOUBLE_BOUND);
        assertClose("db vs bIh", gradient(bIh, loss), db, DOUBLE_BOUND);
        assertClose("db vs bHh", gradient(bHh, loss), db, DOUBLE_BOUND);
        for (int k = 0; k < off; k++) {
            assertEquals(0.0, dx[k], "dx written before its offset");
            assertEquals(0.0, dh[k], "dhPrev written before its offset");
            assertEquals(0.0, dc[k], "dcPrev written before its offset");
        }
    }

    private static double[] tail(double[] a, int from) {
        return java.util.Arrays.copyOfRange(a, from, a.length);
    }
}
