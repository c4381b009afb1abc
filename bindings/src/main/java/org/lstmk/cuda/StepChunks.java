package org.lstmk.cuda;

/**
 * How a call's sequence copies are cut by timesteps so that the copy stream ({@link Device.Stream#COPY}) overlaps
 * them with the kernels: chunk k's input goes up while chunk k−1 computes, and its output comes down while chunk
 * k+1 computes. One chunk (no overlap) when the call's rows are not contiguous per step range (batch-major), when
 * there are too few steps, when its copies are small enough that the extra launches and events would cost more than
 * they hide, or when {@link #PROPERTY} is {@code false}.
 */
final class StepChunks {
    /** System property: {@code false} keeps every copy on the main stream, whole (read per call; default true). */
    static final String PROPERTY = "lstmk.cuda.overlap";
    /**
     * System property: the fewest bytes of sequence copies (input and output together) a call must have for its
     * copies to be cut and overlapped (default {@link #DEFAULT_MIN_BYTES}; tests set 0 to run the path on small
     * shapes).
     */
    static final String MIN_BYTES_PROPERTY = "lstmk.cuda.overlapMinBytes";
    /** 1 MiB: about 40 µs of PCIe at 25 GB/s, several launches' worth. */
    static final long DEFAULT_MIN_BYTES = 1L << 20;
    /** Most chunks per call: each costs a launch chain (a graph), two marks and two waits. */
    static final int MAX_CHUNKS = 4;
    /** Fewest steps per chunk. */
    static final int MIN_STEPS = 2;

    private final int[] bounds;   // chunk k is steps [bounds[k], bounds[k+1])

    private StepChunks(int[] bounds) {
        this.bounds = bounds;
    }

    /**
     * The chunks of a call over {@code seq} whose sequence copies total {@code copyBytes}; {@code contiguous}: whether
     * each step range's rows are one block of the sequence buffers (time-major or packed).
     */
    static StepChunks of(int steps, boolean contiguous, long copyBytes) {
        int k = Math.min(MAX_CHUNKS, steps / MIN_STEPS);
        if (!contiguous || k < 2 || !CudaPaths.on(PROPERTY) || copyBytes < minBytes()) k = 1;
        int[] b = new int[k + 1];
        for (int i = 0; i <= k; i++) b[i] = (int) ((long) steps * i / k);
        return new StepChunks(b);
    }

    private static long minBytes() {
        String v = System.getProperty(MIN_BYTES_PROPERTY);
        if (v == null) return DEFAULT_MIN_BYTES;
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("-D" + MIN_BYTES_PROPERTY + "=" + v + " is not a number of bytes");
        }
    }

    int count() { return bounds.length - 1; }

    /** Whether the copies are cut (more than one chunk): they go on the copy stream. */
    boolean overlapped() { return count() > 1; }

    /** First step of chunk k. */
    int from(int k) { return bounds[k]; }

    /** One past the last step of chunk k. */
    int to(int k) { return bounds[k + 1]; }
}
