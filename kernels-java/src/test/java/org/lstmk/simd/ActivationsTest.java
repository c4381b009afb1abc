package org.lstmk.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Locale;
import java.util.function.DoubleUnaryOperator;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.Test;
import org.lstmk.reference.ReferenceLstm;

/**
 * Accuracy of the vectorised activations against double precision ({@code ReferenceLstm.sigmoid}, {@code Math.tanh})
 * over a dense sweep: 4M evenly spaced points in [−20, 20], every binade from 2⁻¹⁴⁹ to 2¹²⁷ of both signs with 64
 * mantissas each, ±1e4, ±88, subnormals, and the clamp and range-reduction edges.
 *
 * <p>Measured on this code: sigmoid 2.48 ulp, tanh 2.50 ulp at most, wherever the true result is a normal float;
 * the bounds below are those. Where the true result is not normal (sigmoid below −87.3, tanh of a subnormal), the
 * result is never subnormal: it is zero (within 1.2e-38 of the truth), and exactly zero for −∞, as the reference.
 */
class ActivationsTest {
    static final double SIGMOID_MAX_ULP = 2.5;
    static final double TANH_MAX_ULP = 2.5;

    static float[] sweep() {
        int dense = 1 << 22;
        float[] x = new float[dense + 2 * 277 * 64 + 32];
        int n = 0;
        for (int i = 0; i < dense; i++) x[n++] = -20f + 40f * i / dense;
        for (int e = -149; e <= 127; e++) {
            for (int m = 0; m < 64; m++) {
                float v = (float) Math.scalb(1.0 + m / 64.0, e);
                if (Float.isFinite(v)) {
                    x[n++] = v;
                    x[n++] = -v;
                }
            }
        }
        float[] edges = {0f, -0f, 1e4f, -1e4f, 88f, -88f, 87f, -87f, 87.5f, -87.5f, 9f, -9f, 9.1f, -9.1f,
            Float.MIN_VALUE, -Float.MIN_VALUE, 1e-40f, -1e-42f, Float.MIN_NORMAL, Float.MAX_VALUE, -Float.MAX_VALUE,
            0.17328679f, -0.17328679f, 0.34657359f, -0.34657359f, 1e-3f, -1e-3f};
        for (float v : edges) x[n++] = v;
        return Arrays.copyOf(x, n - n % SimdSpecies.L);
    }

    static float[] apply(float[] x, BiConsumer<float[], float[]> f) {
        float[] y = new float[x.length];
        f.accept(x, y);
        return y;
    }

    /** Largest error in ulps of the correctly rounded result, over points whose true result is a normal float. */
    static double maxUlp(float[] x, float[] y, DoubleUnaryOperator exact, StringBuilder worst) {
        double max = 0;
        for (int i = 0; i < x.length; i++) {
            double r = exact.applyAsDouble(x[i]);
            if (Math.abs(r) < Float.MIN_NORMAL) continue;
            double ulp = Math.ulp((float) r);
            double e = Math.abs(y[i] - r) / ulp;
            if (e > max) {
                max = e;
                worst.setLength(0);
                worst.append(String.format(Locale.ROOT, "x=%s: %s vs %s", x[i], y[i], r));
            }
        }
        return max;
    }

    static void assertNormalOrZero(float[] x, float[] y, String name) {
        for (int i = 0; i < x.length; i++) {
            assertFalse(Float.isNaN(y[i]), name + "(" + x[i] + ") is NaN");
            assertTrue(y[i] == 0 || Math.abs(y[i]) >= Float.MIN_NORMAL, name + "(" + x[i] + ") = " + y[i] + " is subnormal");
        }
    }

    @Test
    void sigmoidIsAccurateToAFewUlp() {
        float[] x = sweep();
        float[] y = apply(x, Activations::sigmoid);
        StringBuilder worst = new StringBuilder();
        double ulp = maxUlp(x, y, ReferenceLstm::sigmoid, worst);
        System.out.printf(Locale.ROOT, "sigmoid: max %.2f ulp (%s) over %d points%n", ulp, worst, x.length);
        assertTrue(ulp <= SIGMOID_MAX_ULP, "sigmoid max error " + ulp + " ulp at " + worst);
        assertNormalOrZero(x, y, "sigmoid");
        for (int i = 0; i < x.length; i++) {
            double r = ReferenceLstm.sigmoid(x[i]);
            if (r < Float.MIN_NORMAL) assertTrue(Math.abs(y[i] - r) < Float.MIN_NORMAL, "sigmoid(" + x[i] + ") = " + y[i]);
        }
    }

    @Test
    void tanhIsAccurateToAFewUlp() {
        float[] x = sweep();
        float[] y = apply(x, Activations::tanh);
        StringBuilder worst = new StringBuilder();
        double ulp = maxUlp(x, y, Math::tanh, worst);
        System.out.printf(Locale.ROOT, "tanh: max %.2f ulp (%s) over %d points%n", ulp, worst, x.length);
        assertTrue(ulp <= TANH_MAX_ULP, "tanh max error " + ulp + " ulp at " + worst);
        assertNormalOrZero(x, y, "tanh");
    }

    @Test
    void infinitiesSaturateAndNanPropagates() {
        float[] x = new float[SimdSpecies.L];
        Arrays.fill(x, Float.POSITIVE_INFINITY);
        x[0] = Float.NEGATIVE_INFINITY;
        if (x.length > 2) x[2] = Float.NaN;
        float[] s = apply(x, Activations::sigmoid), t = apply(x, Activations::tanh);
        assertEquals(1f, s[1]);
        assertEquals(1f, t[1]);
        assertEquals(-1f, t[0]);
        // exactly 0, as the reference's sigmoid(−∞): σ(1−σ) of a gate saturated by −∞ must be 0, not tiny
        assertEquals(0f, s[0]);
        if (x.length > 2) {
            assertTrue(Float.isNaN(s[2]));
            assertTrue(Float.isNaN(t[2]));
        }
    }
}
