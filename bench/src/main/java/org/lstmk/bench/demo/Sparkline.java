package org.lstmk.bench.demo;

import java.util.List;

/** A one-line text chart: {@code ▁▂▃▄▅▆▇█}, one character per bucket of consecutive values (the bucket's mean). */
public final class Sparkline {
    private static final char[] BARS = {'▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'};

    private Sparkline() {}

    /**
     * @param width at most this many characters (fewer when there are fewer values)
     * @param log   scale by {@code log10} (for losses spanning decades); non-positive values are clamped
     */
    public static String of(List<Double> values, int width, boolean log) {
        int n = values.size(), w = Math.min(width, n);
        if (w <= 0) return "";
        double[] v = new double[w];
        for (int c = 0; c < w; c++) {
            int from = (int) ((long) c * n / w), to = (int) ((long) (c + 1) * n / w);
            double s = 0;
            for (int i = from; i < to; i++) s += values.get(i);
            v[c] = s / (to - from);
            if (log) v[c] = Math.log10(Math.max(v[c], 1e-12));
        }
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (double x : v) {
            if (Double.isFinite(x)) {
                lo = Math.min(lo, x);
                hi = Math.max(hi, x);
            }
        }
        StringBuilder sb = new StringBuilder(w);
        for (double x : v) {
            if (!Double.isFinite(x)) sb.append('?');
            else if (hi - lo < 1e-12) sb.append(BARS[0]);
            else sb.append(BARS[(int) Math.min(BARS.length - 1, Math.floor((x - lo) / (hi - lo) * BARS.length))]);
        }
        return sb.toString();
    }
}
