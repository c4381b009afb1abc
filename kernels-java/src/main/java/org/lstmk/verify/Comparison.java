package org.lstmk.verify;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Locale;
import java.util.function.LongFunction;
import org.lstmk.api.Layout;

/**
 * Compares one output of a backend with the reference's, elementwise against a bound scaled by the tensor:
 * element {@code i} passes when {@code |a_i − r_i| ≤ rtol·(|r_i| + max_j |r_j|) + max(1e-30, floor)}. The
 * tensor-wide term keeps elements that cancel to near zero (common in gradients) from demanding impossible relative
 * accuracy; {@code floor} is the caller's absolute resolution of the output in float32 (0 when it has none: see
 * {@link Tolerance#float32Floor}). A NaN in the reference must be NaN in the output, an infinity the same infinity;
 * any other NaN fails.
 *
 * <p>The backend computes in float32 and the reference in double (its outputs rounded to float), so the ends of
 * float's range are not mismatches: a reference value that is subnormal or zero in float (below
 * {@link Float#MIN_NORMAL}) against a backend's zero or subnormal passes, whatever flushing either side did; and
 * float overflow passes with the sign of the reference: its ±∞ (the double beyond {@link Float#MAX_VALUE}) against
 * a finite backend value within {@code rtol} of the top of the range, and a backend's ±∞ against a reference within
 * {@code rtol} of it.
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

    /** Compares {@code count} floats of {@code actual} against {@code expected}, without a resolution floor. */
    public static Result compare(String name, MemorySegment actual, MemorySegment expected, long count, double rtol,
                                 LongFunction<String> where) {
        return compare(name, actual, expected, count, rtol, 0, where);
    }

    /**
     * Compares {@code count} floats of {@code actual} against {@code expected}; differences up to {@code floor}
     * are forgiven everywhere (the output's float32 resolution, {@link Tolerance#float32Floor}).
     */
    public static Result compare(String name, MemorySegment actual, MemorySegment expected, long count, double rtol,
                                 double floor, LongFunction<String> where) {
        double absFloor = Math.max(ABS_FLOOR, floor);
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
            if (Double.isNaN(r)) {
                margin = Double.isNaN(a) ? 0 : Double.POSITIVE_INFINITY;
            } else if (Double.isInfinite(r)) {
                margin = a == r || overflows(a, r, rtol) ? 0 : Double.POSITIVE_INFINITY;
            } else if (Double.isNaN(a) || Double.isInfinite(a) && !overflows(r, a, rtol)) {
                margin = Double.POSITIVE_INFINITY;
                maxAbs = Double.POSITIVE_INFINITY;
            } else if (Double.isInfinite(a) || underflow(r) && underflow(a)) {
                margin = 0; // both at the same end of float's range (see the class comment)
            } else {
                double err = Math.abs(a - r);
                maxAbs = Math.max(maxAbs, err);
                if (Math.abs(r) >= 1e-3 * scale && r != 0) maxRel = Math.max(maxRel, err / Math.abs(r));
                margin = err / (rtol * (Math.abs(r) + scale) + absFloor);
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

    /** Whether float32 holds {@code v} only as a subnormal or zero. */
    private static boolean underflow(double v) {
        return Math.abs(v) < Float.MIN_NORMAL;
    }

    /**
     * Whether the finite {@code v} is within {@code rtol} of overflowing to {@code inf} (an infinity): same sign,
     * and {@code |v|·(1 + rtol) ≥ Float.MAX_VALUE}, so that either side rounding past the top of the range is the
     * same answer.
     */
    private static boolean overflows(double v, double inf, double rtol) {
        return Double.isFinite(v) && Math.signum(v) == Math.signum(inf) && Math.abs(v) * (1 + rtol) >= Float.MAX_VALUE;
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
