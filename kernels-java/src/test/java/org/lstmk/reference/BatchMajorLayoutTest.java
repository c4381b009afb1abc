package org.lstmk.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;
import org.lstmk.api.GradientMode;
import org.lstmk.api.Layout;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmGradients;
import org.lstmk.api.LstmState;
import org.lstmk.api.LstmWeights;
import org.lstmk.api.PackedWeights;
import org.lstmk.api.TrainingWorkspace;
import org.lstmk.verify.RandomData;

/**
 * {@link Layout#BATCH_MAJOR} ({@code [B,T,·]}) gives exactly the numbers of {@link Layout#TIME_MAJOR} on the
 * transposed data: the reference computes the same doubles either way, so equality is bit-for-bit.
 */
class BatchMajorLayoutTest {
    private static final int I = 3, H = 5, T = 4, B = 3;

    @Test
    void batchMajorEqualsTimeMajorTransposed() {
        RandomData rnd = new RandomData(99);
        LstmWeights weights = rnd.weights(LstmConfig.of(I, H));
        float[] xTm = rnd.uniform(T * B * I, 1), dyTm = rnd.uniform(T * B * H, 1);
        float[] h0 = rnd.uniform(B * H, 1), c0 = rnd.uniform(B * H, 1);
        float[] dhT = rnd.uniform(B * H, 1), dcT = rnd.uniform(B * H, 1);
        Outputs tm = run(Layout.TIME_MAJOR, weights, xTm, dyTm, h0, c0, dhT, dcT);
        Outputs bm = run(Layout.BATCH_MAJOR, weights, transpose(xTm, T, B, I), transpose(dyTm, T, B, H), h0, c0, dhT, dcT);

        assertArrayEquals(transpose(tm.y, T, B, H), bm.y, "y [B,T,H] = y [T,B,H] transposed");
        assertArrayEquals(transpose(tm.dx, T, B, I), bm.dx, "dx [B,T,I] = dx [T,B,I] transposed");
        // States and weight gradients have no time dimension: identical.
        assertArrayEquals(tm.hT, bm.hT, "hT");
        assertArrayEquals(tm.cT, bm.cT, "cT");
        assertArrayEquals(tm.dh0, bm.dh0, "dh0");
        assertArrayEquals(tm.dc0, bm.dc0, "dc0");
        for (int k = 0; k < 4; k++) assertArrayEquals(tm.grads[k], bm.grads[k], "weight gradient " + k);
        // And the layouts really differ (T ≠ 1, B ≠ 1): the comparison above is not of identical buffers.
        org.junit.jupiter.api.Assertions.assertFalse(java.util.Arrays.equals(tm.y, bm.y), "layouts must differ");
    }

    private record Outputs(float[] y, float[] hT, float[] cT, float[] dx, float[] dh0, float[] dc0, float[][] grads) {}

    private static Outputs run(Layout layout, LstmWeights weights, float[] x, float[] dy, float[] h0, float[] c0,
                               float[] dhT, float[] dcT) {
        LstmConfig cfg = LstmConfig.builder(I, H).layout(layout).build();
        Outputs o = new Outputs(new float[T * B * H], new float[B * H], new float[B * H], new float[T * B * I],
                new float[B * H], new float[B * H],
                new float[][] {new float[4 * H * I], new float[4 * H * H], new float[4 * H], new float[4 * H]});
        try (Lstm lstm = Lstm.builder(cfg).backend(ReferenceBackend.NAME).verify(false).build();
             PackedWeights w = lstm.pack(weights);
             TrainingWorkspace ws = lstm.newWorkspace(T, B)) {
            MemorySegment xs = MemorySegment.ofArray(x);
            lstm.forwardTraining(w, T, B, xs, LstmState.of(h0, c0), MemorySegment.ofArray(o.y),
                    LstmState.of(o.hT, o.cT), ws);
            lstm.backward(w, ws, xs, MemorySegment.ofArray(dy), LstmState.of(dhT, dcT), MemorySegment.ofArray(o.dx),
                    LstmState.of(o.dh0, o.dc0), LstmGradients.of(o.grads[0], o.grads[1], o.grads[2], o.grads[3]),
                    GradientMode.OVERWRITE);
        }
        return o;
    }

    /** {@code [T,B,W]} to {@code [B,T,W]}. */
    private static float[] transpose(float[] a, int steps, int batch, int width) {
        float[] t = new float[a.length];
        for (int s = 0; s < steps; s++) {
            for (int b = 0; b < batch; b++) {
                System.arraycopy(a, (s * batch + b) * width, t, (b * steps + s) * width, width);
            }
        }
        return t;
    }
}
