package org.lstmk.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

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
import org.lstmk.verify.RandomData;

/**
 * One workspace sized for the largest call serves smaller and larger calls in any order, and backward may run
 * twice on one forward: every result equals that of a workspace sized exactly for the call.
 */
class WorkspaceReuseTest {
    private static final int I = 3, H = 5;
    private static final LstmConfig CFG = LstmConfig.of(I, H);
    private final LstmWeights weights = new RandomData(8).weights(CFG);

    @Test
    void oneWorkspaceServesEveryShapeUpToItsMaximum() {
        try (Lstm lstm = Lstm.builder(CFG).backend(ReferenceBackend.NAME).verify(false).build();
             PackedWeights w = lstm.pack(weights);
             TrainingWorkspace shared = lstm.newWorkspace(6, 4)) {
            int[][] shapes = {{2, 1}, {6, 4}, {3, 2}, {1, 4}, {6, 1}};
            for (int[] s : shapes) {
                float[][] fromShared = trainAndBackward(lstm, w, shared, s[0], s[1], 1);
                try (TrainingWorkspace exact = lstm.newWorkspace(s[0], s[1])) {
                    float[][] fromExact = trainAndBackward(lstm, w, exact, s[0], s[1], 1);
                    for (int k = 0; k < fromExact.length; k++) {
                        assertArrayEquals(fromExact[k], fromShared[k], "T=" + s[0] + ", B=" + s[1] + ", output " + k);
                    }
                }
            }
        }
    }

    @Test
    void backwardMayRunTwiceOnOneForward() {
        try (Lstm lstm = Lstm.builder(CFG).backend(ReferenceBackend.NAME).verify(false).build();
             PackedWeights w = lstm.pack(weights);
             TrainingWorkspace ws = lstm.newWorkspace(4, 3)) {
            float[][] once = trainAndBackward(lstm, w, ws, 4, 3, 1);
            float[][] twice = trainAndBackward(lstm, w, ws, 4, 3, 2);
            for (int k = 0; k < once.length; k++) assertArrayEquals(once[k], twice[k], "output " + k);
        }
    }

    /** forwardTraining, then {@code backwards} identical backward calls; the last one's outputs. */
    private static float[][] trainAndBackward(Lstm lstm, PackedWeights w, TrainingWorkspace ws, int t, int b,
                                              int backwards) {
        RandomData r = new RandomData(1000L * t + b);
        MemorySegment x = MemorySegment.ofArray(r.uniform(t * b * I, 1));
        float[] y = new float[t * b * H], hT = new float[b * H], cT = new float[b * H];
        lstm.forwardTraining(w, t, b, x, LstmState.of(r.uniform(b * H, 1), r.uniform(b * H, 1)),
                MemorySegment.ofArray(y), LstmState.of(hT, cT), ws);
        MemorySegment dy = MemorySegment.ofArray(r.uniform(t * b * H, 1));
        float[] dx = new float[t * b * I], dh0 = new float[b * H], dc0 = new float[b * H];
        LstmGradients g = LstmGradients.allocate(CFG);
        for (int k = 0; k < backwards; k++) {
            lstm.backward(w, ws, x, dy, LstmState.of(hT, cT), MemorySegment.ofArray(dx), LstmState.of(dh0, dc0), g,
                    GradientMode.OVERWRITE);
        }
        return new float[][] {y, hT, cT, dx, dh0, dc0, g.dWih().toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT),
                g.dWhh().toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT),
                g.dbIh().toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT)};
    }
}
