package org.lstmk.reference;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lstmk.reference.FiniteDifferences.DOUBLE_BOUND;
import static org.lstmk.reference.FiniteDifferences.assertClose;
import static org.lstmk.reference.FiniteDifferences.gradient;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.lstmk.api.LstmConfig;

/**
 * The reference's gradients for every feature and for the combinations that change code paths (layers ×
 * directions × lengths × projection × peepholes × clip), against central finite differences in double, through the
 * independent double-precision stack of {@link StackProblem}.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class StackFiniteDifferenceTest {
    static final int I = 3, H = 4, T = 4, B = 3;
    static final int[] LENGTHS = {4, 2, 3};   // not sorted, one of full length

    static LstmConfig config(int layers, boolean bidirectional, int p, boolean peepholes, float clip) {
        return LstmConfig.builder(I, H).layers(layers).bidirectional(bidirectional).projectionSize(p)
                .peepholes(peepholes).cellClip(clip).build();
    }

    @ParameterizedTest(name = "layers={0} bidirectional={1} lengths={2} P={3} peepholes={4} clip={5} initial={6}")
    @CsvSource({
            "1, false, false, 0, false, 0,   true",
            "1, false, true,  0, false, 0,   true",
            "1, false, false, 2, false, 0,   true",
            "1, false, false, 0, true,  0,   true",
            "1, false, false, 0, false, 0.5, true",
            "1, false, true,  2, true,  0.5, false",
            "2, false, false, 0, false, 0,   true",
            "1, true,  false, 0, false, 0,   true",
            "1, true,  true,  0, false, 0,   true",
            "2, true,  true,  2, true,  0,   true",
            "2, true,  true,  2, true,  0.5, true",
            "2, true,  true,  0, false, 0,   false"})
    void gradientsMatchFiniteDifferences(int layers, boolean bidirectional, boolean lengths, int p, boolean peepholes,
                                         float clip, boolean initial) {
        LstmConfig cfg = config(layers, bidirectional, p, peepholes, clip);
        StackProblem sp = new StackProblem(cfg, T, B, lengths ? LENGTHS : null, initial, 17 + layers * 7 + p);
        StackProblem.Grads g = sp.backward();
        assertClose("dx", gradient(sp.x, sp::loss), g.dx, DOUBLE_BOUND);
        if (initial) {
            assertClose("dh0", gradient(sp.h0, sp::loss), g.dh0, DOUBLE_BOUND);
            assertClose("dc0", gradient(sp.c0, sp::loss), g.dc0, DOUBLE_BOUND);
        }
        for (int ld = 0; ld < cfg.stateLayers(); ld++) {
            String n = "l" + ld / cfg.directions() + (ld % cfg.directions() == 1 ? "_reverse" : "") + ".";
            ReferenceLstm.Grads lg = g.layers[ld];
            assertClose(n + "dWih", gradient(sp.wIh[ld], sp::loss), lg.dWih(), DOUBLE_BOUND);
            assertClose(n + "dWhh", gradient(sp.wHh[ld], sp::loss), lg.dWhh(), DOUBLE_BOUND);
            assertClose(n + "db vs bIh", gradient(sp.bIh[ld], sp::loss), lg.db(), DOUBLE_BOUND);
            assertClose(n + "db vs bHh", gradient(sp.bHh[ld], sp::loss), lg.db(), DOUBLE_BOUND);
            if (p > 0) assertClose(n + "dWhr", gradient(sp.wHr[ld], sp::loss), lg.dWhr(), DOUBLE_BOUND);
            if (peepholes) assertClose(n + "dPeepholes", gradient(sp.peep[ld], sp::loss), lg.dPeep(), DOUBLE_BOUND);
        }
    }

    @Test
    void theClipCasesClampSomeGatesAndNotOthers() {
        // Otherwise the clip rows above would test nothing (all clamped: zero gradients; none: no clip).
        StackProblem sp = new StackProblem(config(1, false, 0, false, 0.5f), T, B, null, true, 18);
        StackProblem.Run run = sp.forward();
        int clamped = 0, free = 0;
        for (int tau = 0; tau < T; tau++) {
            for (int b = 0; b < B; b++) {
                for (int k = 0; k < 4 * H; k++) {
                    if (CellMath.clamped(k / H, run.traces[0].gate(tau, b, k), 0.5f)) clamped++; else free++;
                }
            }
        }
        assertTrue(clamped > 10 && free > 10, "clamped " + clamped + ", free " + free);
    }
}
