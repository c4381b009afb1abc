package org.lstmk.reference;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.lstmk.api.Layout;

/** Conversions between the callers' float segments and the reference's time-major double arrays. */
final class DoubleBuffers {
    private DoubleBuffers() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    /** {@code n} floats as doubles; null for a null segment. */
    static double[] read(MemorySegment s, int n) {
        if (s == null) return null;
        double[] d = new double[n];
        for (int i = 0; i < n; i++) d[i] = s.getAtIndex(F, i);
        return d;
    }

    /** Writes {@code n} doubles rounded to float; or, with {@code accumulate}, adds them to what is there. */
    static void write(MemorySegment s, double[] d, int n, boolean accumulate) {
        if (s == null) return;
        for (int i = 0; i < n; i++) {
            double v = accumulate ? s.getAtIndex(F, i) + d[i] : d[i];
            s.setAtIndex(F, i, (float) v);
        }
    }

    /** A {@code [steps × batch × width]} sequence in {@code layout} as a time-major double array. */
    static double[] readSequence(MemorySegment s, Layout layout, int steps, int batch, int width) {
        double[] d = new double[steps * batch * width];
        for (int t = 0; t < steps; t++) {
            for (int b = 0; b < batch; b++) {
                long src = (long) layout.row(t, b, steps, batch) * width;
                int dst = (t * batch + b) * width;
                for (int k = 0; k < width; k++) d[dst + k] = s.getAtIndex(F, src + k);
            }
        }
        return d;
    }

    /** Writes a time-major double sequence into {@code s} in {@code layout}, rounded to float. */
    static void writeSequence(MemorySegment s, Layout layout, double[] d, int steps, int batch, int width) {
        if (s == null) return;
        for (int t = 0; t < steps; t++) {
            for (int b = 0; b < batch; b++) {
                long dst = (long) layout.row(t, b, steps, batch) * width;
                int src = (t * batch + b) * width;
                for (int k = 0; k < width; k++) s.setAtIndex(F, dst + k, (float) d[src + k]);
            }
        }
    }
}
