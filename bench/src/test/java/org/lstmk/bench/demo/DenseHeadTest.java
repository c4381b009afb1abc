package org.lstmk.bench.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class DenseHeadTest {
    private static final int H = 7, O = 3, N = 5, OFF = 4;

    /** The MSE of the head's output on rows {@code [OFF, OFF + N)} of {@code h} against {@code target}. */
    private static double loss(DenseHead head, float[] h, float[] target) {
        float[] y = new float[N * O];
        head.forward(h, OFF * H, N, y);
        return Mse.loss(y, target, N * O);
    }

    @Test
    void forwardIsTheAffineMap() {
        DenseHead head = new DenseHead(2, 1, new SplittableRandom(1));
        head.weight()[0] = 2f;
        head.weight()[1] = -1f;
        head.bias()[0] = 0.5f;
        float[] y = new float[2];
        head.forward(new float[] {9f, 1f, 3f, 4f, 5f}, 1, 2, y);   // rows (1, 3) and (4, 5)
        assertEquals(2 - 3 + 0.5, y[0], 1e-6);
        assertEquals(8 - 5 + 0.5, y[1], 1e-6);
    }

    @Test
    void gradientsMatchFiniteDifferencesOfTheMse() {
        SplittableRandom rnd = new SplittableRandom(7);
        DenseHead head = new DenseHead(H, O, rnd);
        float[] h = new float[(OFF + N + 2) * H], target = new float[N * O];
        for (int i = 0; i < h.length; i++) h[i] = (float) rnd.nextDouble(-1, 1);
        for (int i = 0; i < target.length; i++) target[i] = (float) rnd.nextDouble(-1, 1);

        float[] y = new float[N * O], dy = new float[N * O], dh = new float[h.length];
        java.util.Arrays.fill(dh, 42f);   // rows outside [OFF, OFF + N) must stay untouched
        head.forward(h, OFF * H, N, y);
        Mse.lossAndGrad(y, target, N * O, dy);
        head.backward(h, OFF * H, N, dy, dh, OFF * H);

        double eps = 1e-2;   // the loss is quadratic in each parameter: central differences are exact but for rounding
        for (int i = 0; i < head.weight().length; i++) {
            assertEquals(numeric(head, h, target, head.weight(), i, eps), head.weightGrad()[i], 2e-4, "dW[" + i + "]");
        }
        for (int i = 0; i < head.bias().length; i++) {
            assertEquals(numeric(head, h, target, head.bias(), i, eps), head.biasGrad()[i], 2e-4, "db[" + i + "]");
        }
        for (int i = 0; i < h.length; i++) {
            boolean inRows = i >= OFF * H && i < (OFF + N) * H;
            double expected = inRows ? numeric(head, h, target, h, i, eps) : 42;
            assertEquals(expected, dh[i], 2e-4, "dh[" + i + "]");
        }
    }

    @Test
    void backwardOverwritesTheWeightGradients() {
        DenseHead head = new DenseHead(H, O, new SplittableRandom(3));
        float[] h = new float[N * H], dy = new float[N * O], dh = new float[N * H];
        java.util.Arrays.fill(h, 1f);
        java.util.Arrays.fill(dy, 1f);
        head.backward(h, 0, N, dy, dh, 0);
        head.backward(h, 0, N, dy, dh, 0);
        assertEquals(N, head.weightGrad()[0], 0);
        assertEquals(N, head.biasGrad()[O - 1], 0);
    }

    private static double numeric(DenseHead head, float[] h, float[] target, float[] param, int i, double eps) {
        float saved = param[i];
        param[i] = (float) (saved + eps);
        double up = loss(head, h, target);
        param[i] = (float) (saved - eps);
        double down = loss(head, h, target);
        param[i] = saved;
        return (up - down) / (2 * eps);
    }
}
