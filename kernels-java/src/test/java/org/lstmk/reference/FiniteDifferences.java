package org.lstmk.reference;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Locale;
import java.util.function.DoubleSupplier;

/**
 * Central finite differences in double, and the comparison of an analytic gradient with them.
 *
 * <p><b>Why step 1e-6, and the two bounds.</b> The central difference has a truncation error of about
 * {@code h²·|L'''|/6 ≈ 1e-12} and a rounding error of about {@code ε·|L|/h ≈ 1.1e-16·10/1e-6 ≈ 1e-9} for the
 * losses here ({@code |L|} of order 10), so it agrees with an exact gradient to about 1e-9 (measured on these
 * problems: at most 1.5e-9 relative to {@code max(|g|, 1)}).
 * <ul>
 *   <li>{@link #DOUBLE_BOUND} = 1e-8, for {@link ReferenceLstm} itself: 7× the measured noise, and tight enough
 *       that a reference that rounded anything to float (errors ~6e-8 and up) would fail: it must be exact in
 *       double.</li>
 *   <li>{@link #FLOAT_BOUND} = 1e-6, for results that went through the float API: rounding a result to float
 *       costs up to 6e-8 of it (measured worst: 6.0e-8), 16× below the bound.</li>
 * </ul>
 * Either way, a wrong term in a backward (a missing {@code tanh'}, a derivative taken at the wrong step, a
 * forgotten path through {@code c}) moves gradients of order 0.01..1 by 1e-3 of themselves or more.
 */
final class FiniteDifferences {
    static final double STEP = 1e-6;
    static final double DOUBLE_BOUND = 1e-8;
    static final double FLOAT_BOUND = 1e-6;

    private FiniteDifferences() {}

    /** {@code ∂loss/∂p[k]} for every {@code k}, perturbing {@code p} in place (and restoring it). */
    static double[] gradient(double[] p, DoubleSupplier loss) {
        double[] g = new double[p.length];
        for (int k = 0; k < p.length; k++) {
            double saved = p[k];
            double up = saved + STEP, down = saved - STEP;
            p[k] = up;
            double lossUp = loss.getAsDouble();
            p[k] = down;
            double lossDown = loss.getAsDouble();
            p[k] = saved;
            g[k] = (lossUp - lossDown) / (up - down); // the steps actually taken, after rounding
        }
        return g;
    }

    /**
     * Asserts {@code |actual[k] − expected[k]| ≤ bound·max(|expected[k]|, 1)} for every {@code k}, naming the worst
     * element; and that the expected gradient is not negligible, so that the check can fail at all.
     */
    static double assertClose(String name, double[] expected, double[] actual, double bound) {
        assertTrue(expected.length == actual.length, name + ": length " + actual.length + " vs " + expected.length);
        double worst = 0, largest = 0;
        int at = -1;
        for (int k = 0; k < expected.length; k++) {
            double err = Math.abs(actual[k] - expected[k]) / Math.max(Math.abs(expected[k]), 1);
            if (!(err <= worst)) { // NaN counts as worst
                worst = err;
                at = k;
            }
            largest = Math.max(largest, Math.abs(expected[k]));
        }
        String where = at < 0 ? "" : String.format(Locale.ROOT, " at [%d]: %.12g vs expected %.12g", at, actual[at],
                expected[at]);
        assertTrue(worst <= bound, String.format(Locale.ROOT, "%s: relative error %.3g > %.1g%s", name, worst, bound, where));
        assertTrue(largest > 1e-3, name + ": the gradient is negligible (max " + largest + "), the check proves nothing");
        return worst;
    }

    static double[] plus(double[] a, double[] b) {
        double[] s = new double[a.length];
        for (int i = 0; i < a.length; i++) s[i] = a[i] + b[i];
        return s;
    }
}
