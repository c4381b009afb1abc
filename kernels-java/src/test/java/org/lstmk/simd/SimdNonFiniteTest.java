package org.lstmk.simd;

import static java.util.concurrent.TimeUnit.SECONDS;
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
import org.lstmk.reference.ReferenceBackend;
import org.lstmk.verify.Comparison;
import org.lstmk.verify.NonFiniteProblem;
import org.lstmk.verify.NonFiniteProblem.Target;

/**
 * IEEE semantics of the SIMD backend against the reference ({@link NonFiniteProblem}): ±∞ and NaN in {@code x},
 * {@code h0}, {@code c0}, the weights and the bias give NaN exactly where the reference has NaN, the same infinities,
 * and finite values within the usual tolerance, in every output of training forward, backward and inference, for
 * uniform and variable-length batches, the plain cell, peepholes with clip, and projection. H = 7 and 17 are padded
 * at every vector width (the padding units meet the planted value as {@code 0·∞}), H = 16 only at none; I is odd.
 * Runs at 128, 256 and 512 bits (see the module's pom).
 */
@Timeout(value = 120, unit = SECONDS)
class SimdNonFiniteTest {
    static Stream<Arguments> cases() {
        List<Arguments> a = new ArrayList<>();
        int k = 0;
        for (NonFiniteProblem p : NonFiniteProblem.cases(new int[] {7, 17, 16}, 7000)) {
            a.add(Arguments.of(p, k++ % 3 == 2 ? 2 : 1));
        }
        return a.stream();
    }

    @ParameterizedTest(name = "{0}, threads={1}")
    @MethodSource("cases")
    void agreesWithTheReference(NonFiniteProblem p, int threads) {
        NonFiniteProblem.Outputs ref = p.run(ReferenceBackend.NAME, 1);
        NonFiniteProblem.Outputs simd = p.run(SimdBackend.NAME, threads);
        List<Comparison.Result> results = p.compare(simd, ref);
        String failed = NonFiniteProblem.failures(results);
        assertTrue(failed.isEmpty(), "SIMD (" + SimdSpecies.describe() + ") differs from the reference on " + p
                + failed);
    }

    /**
     * The case: {@code x = ±∞} saturates every gate of its row, so the reference's gradients there are
     * exact zeros and only {@code dW_ih}'s column of that input is NaN ({@code ∞·0}); dx, dh0, dc0 and the other
     * gradients stay finite, and so must the SIMD backend's (its padding units used to turn {@code 0·∞} into NaN
     * that {@code W_hhᵀ} spread to the whole row).
     */
    @Test
    void infiniteInputLeavesTheGradientsOfItsRowFinite() {
        for (int hid : new int[] {7, 17}) {
            for (float v : new float[] {Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
                NonFiniteProblem p = new NonFiniteProblem(Target.X, v, 3, hid, 0, false, 0f, 4, 3, null, 7);
                NonFiniteProblem.Outputs simd = p.run(SimdBackend.NAME, 1);
                for (String name : new String[] {"y", "hT", "cT", "dx", "dh0", "dc0", "dWhh", "dbIh", "dbHh"}) {
                    for (float f : simd.get(name)) assertTrue(Float.isFinite(f), p + ": " + name + " has " + f);
                }
                float[] dWih = simd.get("dWih");
                for (int k = 0; k < dWih.length; k++) {
                    assertEquals(k % 3 == 2, Float.isNaN(dWih[k]), p + ": dWih[" + k / 3 + ", " + k % 3 + "]");
                }
            }
        }
    }
}
