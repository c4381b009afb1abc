package org.lstmk.driver;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.lstmk.api.Layout;

/** The driver's row copies between layouts, orders and segments; rows of {@code width} floats. */
final class Copies {
    private Copies() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    private static void row(MemorySegment src, long srcRow, MemorySegment dst, long dstRow, int width) {
        long bytes = (long) width * Float.BYTES;
        MemorySegment.copy(src, srcRow * bytes, dst, dstRow * bytes, bytes);
    }

    /** A sequence in {@code layout} into time-major {@code dst}. */
    static void toTimeMajor(MemorySegment src, MemorySegment dst, Layout layout, int steps, int batch, int width) {
        for (int t = 0; t < steps; t++) {
            for (int b = 0; b < batch; b++) row(src, layout.row(t, b, steps, batch), dst, (long) t * batch + b, width);
        }
    }

    /** A time-major sequence into {@code dst} in {@code layout}. */
    static void fromTimeMajor(MemorySegment src, MemorySegment dst, Layout layout, int steps, int batch, int width) {
        if (layout == Layout.TIME_MAJOR) {
            MemorySegment.copy(src, 0, dst, 0, (long) steps * batch * width * Float.BYTES);
            return;
        }
        for (int t = 0; t < steps; t++) {
            for (int b = 0; b < batch; b++) row(src, (long) t * batch + b, dst, layout.row(t, b, steps, batch), width);
        }
    }

    /** Rows of {@code [rows, width]} {@code src} into columns {@code [col, col+width)} of {@code [rows, dstWidth]}. */
    static void columnsInto(MemorySegment src, int width, MemorySegment dst, int dstWidth, int col, long rows) {
        long bytes = (long) width * Float.BYTES;
        for (long r = 0; r < rows; r++) {
            MemorySegment.copy(src, r * bytes, dst, (r * dstWidth + col) * Float.BYTES, bytes);
        }
    }

    /** Columns {@code [col, col+width)} of {@code [rows, srcWidth]} {@code src} into {@code [rows, width]}. */
    static void columnsFrom(MemorySegment src, int srcWidth, int col, MemorySegment dst, int width, long rows) {
        long bytes = (long) width * Float.BYTES;
        for (long r = 0; r < rows; r++) {
            MemorySegment.copy(src, (r * srcWidth + col) * Float.BYTES, dst, r * bytes, bytes);
        }
    }

    /** {@code dst[r] = src[order[r]]} for state rows; zeros when {@code src} is null. */
    static void rowsSorted(MemorySegment src, MemorySegment dst, int[] order, int width) {
        if (src == null) {
            dst.asSlice(0, (long) order.length * width * Float.BYTES).fill((byte) 0);
            return;
        }
        for (int r = 0; r < order.length; r++) row(src, order[r], dst, r, width);
    }

    /** {@code dst[order[r]] = src[r]}; nothing when {@code dst} is null. */
    static void rowsUnsorted(MemorySegment src, MemorySegment dst, int[] order, int width) {
        if (dst == null) return;
        for (int r = 0; r < order.length; r++) row(src, r, dst, order[r], width);
    }

    /**
     * The rows of segment {@code s} out of a time-major {@code [T, batch, width]} sequence into a dense
     * {@code [s.steps, s.rows, width]} one: step {@code τ} of sorted row {@code r} from time
     * {@link SequenceOrder#time}.
     */
    static void gather(MemorySegment src, MemorySegment dst, SequenceOrder o, SequenceOrder.Segment s, boolean reverse,
                       int batch, int width) {
        for (int tau = s.from(); tau < s.to(); tau++) {
            long base = (long) (tau - s.from()) * s.rows();
            for (int r = 0; r < s.rows(); r++) {
                row(src, (long) o.time(tau, r, reverse) * batch + o.order[r], dst, base + r, width);
            }
        }
    }

    /** The inverse of {@link #gather}; with {@code add}, added to what {@code dst} holds. */
    static void scatter(MemorySegment src, MemorySegment dst, SequenceOrder o, SequenceOrder.Segment s, boolean reverse,
                        int batch, int width, boolean add) {
        for (int tau = s.from(); tau < s.to(); tau++) {
            long base = (long) (tau - s.from()) * s.rows();
            for (int r = 0; r < s.rows(); r++) {
                long d = (long) o.time(tau, r, reverse) * batch + o.order[r];
                if (add) addRow(src, base + r, dst, d, width);
                else row(src, base + r, dst, d, width);
            }
        }
    }

    /**
     * A time-major {@code [T, batch, width]} sequence into packed rows: step {@code τ}'s {@code batchSizes[τ]} sorted
     * rows after step {@code τ−1}'s, each from time {@link SequenceOrder#time}.
     */
    static void pack(MemorySegment src, MemorySegment dst, SequenceOrder o, int[] batchSizes, boolean reverse,
                     int batch, int width) {
        long row = 0;
        for (int tau = 0; tau < batchSizes.length; tau++) {
            for (int r = 0; r < batchSizes[tau]; r++, row++) {
                row(src, (long) o.time(tau, r, reverse) * batch + o.order[r], dst, row, width);
            }
        }
    }

    /** The inverse of {@link #pack}; with {@code add}, added to what {@code dst} holds. */
    static void unpack(MemorySegment src, MemorySegment dst, SequenceOrder o, int[] batchSizes, boolean reverse,
                       int batch, int width, boolean add) {
        long row = 0;
        for (int tau = 0; tau < batchSizes.length; tau++) {
            for (int r = 0; r < batchSizes[tau]; r++, row++) {
                long d = (long) o.time(tau, r, reverse) * batch + o.order[r];
                if (add) addRow(src, row, dst, d, width);
                else row(src, row, dst, d, width);
            }
        }
    }

    private static void addRow(MemorySegment src, long srcRow, MemorySegment dst, long dstRow, int width) {
        long so = srcRow * width, dO = dstRow * width;
        for (int k = 0; k < width; k++) {
            dst.setAtIndex(F, dO + k, dst.getAtIndex(F, dO + k) + src.getAtIndex(F, so + k));
        }
    }

    /** {@code dst[0..n) += src[0..n)}. */
    static void addInto(MemorySegment src, MemorySegment dst, long n) {
        for (long i = 0; i < n; i++) dst.setAtIndex(F, i, dst.getAtIndex(F, i) + src.getAtIndex(F, i));
    }
}
