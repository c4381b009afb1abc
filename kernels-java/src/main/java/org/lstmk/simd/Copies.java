package org.lstmk.simd;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.lstmk.api.Layout;

/**
 * Moves data between the callers' buffers (heap or native, either layout, unpadded) and the kernels' native,
 * time-major, padded buffers, in contiguous runs. The kernels themselves only ever see native segments, so their
 * hot loops are compiled for one segment type.
 */
final class Copies {
    private Copies() {}

    static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    /**
     * Rows {@code [r0, r1)} (time-major order, {@code r = t·B + b}) of a caller sequence of {@code width} floats
     * into {@code dst} rows of {@code dstRow} bytes, columns {@code [c0, c1)} only.
     */
    static void sequenceIn(MemorySegment src, Layout layout, int steps, int batch, int width, int r0, int r1,
                           int c0, int c1, MemorySegment dst, long dstRow) {
        if (c1 <= c0) return;
        for (int r = r0; r < r1; r++) {
            long row = layout.row(r / batch, r % batch, steps, batch);
            MemorySegment.copy(src, (row * width + c0) * 4, dst, r * dstRow + 4L * c0, 4L * (c1 - c0));
        }
    }

    /** The reverse of {@link #sequenceIn}: rows {@code [r0, r1)}, columns {@code [c0, c1)} of {@code src} out. */
    static void sequenceOut(MemorySegment src, long srcRow, long srcBase, Layout layout, int steps, int batch,
                            int width, int r0, int r1, int c0, int c1, MemorySegment dst) {
        if (c1 <= c0) return;
        for (int r = r0; r < r1; r++) {
            long row = layout.row(r / batch, r % batch, steps, batch);
            MemorySegment.copy(src, srcBase + r * srcRow + 4L * c0, dst, (row * width + c0) * 4, 4L * (c1 - c0));
        }
    }

    /**
     * Columns {@code [c0, c1)} of a {@code [B][width]} caller matrix (or zeros if {@code src} is null) into rows of
     * {@code dst} at {@code dstBase}; columns {@code [max(c0,width), pad1)} are zeroed (padding units).
     */
    static void stateIn(MemorySegment src, int batch, int width, int c0, int c1, int pad1, MemorySegment dst,
                        long dstBase, long dstRow) {
        for (int b = 0; b < batch; b++) {
            long d = dstBase + b * dstRow;
            if (src != null && c1 > c0) {
                MemorySegment.copy(src, (long) (b * width + c0) * 4, dst, d + 4L * c0, 4L * (c1 - c0));
            } else if (c1 > c0) {
                dst.asSlice(d + 4L * c0, 4L * (c1 - c0)).fill((byte) 0);
            }
            int z0 = Math.max(c0, c1);
            if (pad1 > z0) dst.asSlice(d + 4L * z0, 4L * (pad1 - z0)).fill((byte) 0);
        }
    }

    /** Columns {@code [c0, c1)} of rows of {@code src} into a {@code [B][width]} caller matrix. */
    static void stateOut(MemorySegment src, long srcBase, long srcRow, int batch, int width, int c0, int c1,
                         MemorySegment dst) {
        if (dst == null || c1 <= c0) return;
        for (int b = 0; b < batch; b++) {
            MemorySegment.copy(src, srcBase + b * srcRow + 4L * c0, dst, (long) (b * width + c0) * 4, 4L * (c1 - c0));
        }
    }

    /**
     * Columns {@code [c0, c1)} of {@code n} rows of {@code src} from {@code srcBase} into rows {@code dstRow0..} of a
     * caller matrix of {@code width} floats per row.
     */
    static void rowsOut(MemorySegment src, long srcBase, long srcRow, int n, int width, int c0, int c1,
                        MemorySegment dst, long dstRow0) {
        if (dst == null || c1 <= c0) return;
        for (int r = 0; r < n; r++) {
            MemorySegment.copy(src, srcBase + r * srcRow + 4L * c0, dst, ((dstRow0 + r) * width + c0) * 4,
                    4L * (c1 - c0));
        }
    }

    /** Zeroes columns {@code [c0, c1)} of {@code rows} rows of {@code row} bytes of {@code dst}. */
    static void zeroColumns(MemorySegment dst, int rows, long row, int c0, int c1) {
        if (c1 <= c0) return;
        for (int r = 0; r < rows; r++) dst.asSlice(r * row + 4L * c0, 4L * (c1 - c0)).fill((byte) 0);
    }
}
