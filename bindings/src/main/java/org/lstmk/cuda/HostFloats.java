package org.lstmk.cuda;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Float arithmetic on host segments for the copy paths ({@link Device#downloadAdding}). */
final class HostFloats {
    private HostFloats() {}

    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;

    /**
     * {@code dst[i] = dst[i] + src[i]} for the {@code dst.byteSize() / 4} floats of {@code dst} ({@code src} at least
     * as long): one rounding per element, as a kernel's {@code fmaf(1, dst, v)} epilogue, so the two agree bit for bit.
     */
    static void addInto(MemorySegment src, MemorySegment dst) {
        long n = dst.byteSize() / Float.BYTES;
        if (src.byteSize() < n * Float.BYTES) {
            throw new IllegalArgumentException("src: " + src.byteSize() + " bytes, fewer than dst's " + dst.byteSize());
        }
        for (long i = 0; i < n; i++) {
            dst.setAtIndex(FLOAT, i, dst.getAtIndex(FLOAT, i) + src.getAtIndex(FLOAT, i));
        }
    }
}
