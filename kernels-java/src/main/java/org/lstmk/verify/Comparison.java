package org.lstmk.verify;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Locale;
import java.util.function.LongFunction;
import org.lstmk.api.Layout;

/**
 * Compares one output of a backend with the reference's, elementwise against a bound scaled by the tensor:
 * element {@code i} passes when {@code |a_i − r_i| ≤ rtol·(|r_i| + max_j |r_j|) + 1e-30}. The tensor-wide term keeps
 * elements that cancel to near zero (common in gradients) from demanding impossible relative accuracy; the tiny
 * absolute floor forgives subnormals that a backend flushes to zero. A NaN in the reference must be NaN in the
 * output, an infinity the same infinity; any other NaN fails.
 */
public final class Comparison {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final double ABS_FLOOR = 1e-30;

    private Comparison() {}

    /**
     * @param name     the output's name
     * @param count    elements compared
     * @param maxAbs   largest {@code |a − r|}
     * @param maxRel   largest {@code |a − r| / |r|} over elements with {@code |r| ≥ 1e-3·max|r|}
     * @param worstAt  where the element closest to (or furthest past) its bound is, e.g. {@code y[t=3, b=0, 17]}
     * @param actual   the output's value there
     * @param expected the reference's value there
     * @param margin   worst {@code |a − r| / bound}: ≤ 1 passes
     */
    public record Result(String name, long count, double maxAbs, double maxRel, String worstAt, double actual,
                         double expected, double margin) {
        public boolean passed() { return margin <= 1.0; }

        public String describe() {
            return String.format(Locale.ROOT, "%s: %s, max abs %.3g, max rel %.3g, worst %s = %.7g vs %.7g (%.2f of bound)",
                    name, passed() ? "ok" : "MISMATCH", maxAbs, maxRel, worstAt, actual, expected, margin);
        }
    }

    /** Compares {@code count} floats of {@code actual} against {@code expected}. */
    public static Result compare(String name, MemorySegment actual, MemorySegment expected, long count, double rtol,
                                 LongFunction<String> where) {
        double scale = 0;
        for (long i = 0; i < count; i++) {
            double r = expected.getAtIndex(F, i);
            if (Double.isFinite(r)) scale = Math.max(scale, Math.abs(r));
        }
        double maxAbs = 0, maxRel = 0, worstMargin = -1;
        long worst = 0;
        for (long i = 0; i < count; i++) {
            double a = actual.getAtIndex(F, i), r = expected.getAtIndex(F, i);
            double margin;
            if (Double.isNaN(r) || Double.isInfinite(r)) {
                margin = (Double.isNaN(r) ? Double.isNaN(a) : a == r) ? 0 : Double.POSITIVE_INFINITY;
            } else if (!Double.isFinite(a)) {
                margin = Double.POSITIVE_INFINITY;
                maxAbs = Double.POSITIVE_INFINITY;
            } else {
                double err = Math.abs(a - r);
                maxAbs = Math.max(maxAbs, err);
                if (Math.abs(r) >= 1e-3 * scale && r != 0) maxRel = Math.max(maxRel, err / Math.abs(r));
                margin = err / (rtol * (Math.abs(r) + scale) + ABS_FLOOR);
            }
            if (margin > worstMargin) {
                worstMargin = margin;
                worst = i;
            }
        }
        if (count == 0) worstMargin = 0;
        return new Result(name, count, maxAbs, maxRel, where.apply(worst),
                count == 0 ? 0 : actual.getAtIndex(F, worst), count == 0 ? 0 : expected.getAtIndex(F, worst),
                worstMargin);
    }

    /** Names element {@code i} of a sequence buffer, e.g. {@code y[t=3, b=0, 17]}. */
    public static LongFunction<String> sequence(String name, Layout layout, int steps, int batch, int width) {
        return i -> {
            long row = i / width;
            int t = (int) (layout == Layout.TIME_MAJOR ? row / batch : row % steps);
            int b = (int) (layout == Layout.TIME_MAJOR ? row % batch : row / steps);
            return name + "[t=" + t + ", b=" + b + ", " + (i % width) + "]";
        };
    }

    /** Names element {@code i} of a row-major matrix with {@code cols} columns, e.g. {@code dWhh[12, 3]}. */
    public static LongFunction<String> matrix(String name, int cols) {
        return i -> name + "[" + (i / cols) + ", " + (i % cols) + "]";
    }
}
