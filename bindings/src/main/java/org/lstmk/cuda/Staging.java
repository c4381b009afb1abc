package org.lstmk.cuda;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The pinned host staging that {@link JCudaDevice} copies through, and the bookkeeping around it: copies are cut
 * into pieces of at most one chunk, each piece gets an aligned slot of the staging memory, a full staging memory is
 * waited for (a stream synchronize) and then reused, grown first while it is under {@link #MAX_CHUNKS} chunks, and
 * downloads are copied out of staging only once a synchronize has landed them.
 *
 * <p>Written against {@link Driver}, the handful of raw operations it needs, so that it runs without a GPU (and
 * without JCuda): {@code JCudaDevice} implements them with the driver API, the tests with a fake stream. Not
 * thread-safe, like the device that owns it.
 *
 * @param <H> the driver's handle to a pinned host allocation
 * @param <D> a device buffer
 */
final class Staging<H, D> {
    /** Staging slots start at multiples of this many bytes. */
    static final long ALIGN = 256;
    /** Copies go through staging in pieces of at most this much (a ByteBuffer view is limited to 2 GiB). */
    static final long CHUNK = 64L << 20;
    /** The first staging allocation, unless the first piece is larger. */
    static final long FIRST_CAPACITY = 1L << 20;
    /** Staging grows (doubling) while it is under this many chunks. */
    static final int MAX_CHUNKS = 4;

    /** The raw operations, each of which reports its own failure (a {@link DeviceException} naming the call). */
    interface Driver<H, D> {
        /** Pinned host memory of {@code bytes} bytes ({@code cuMemAllocHost}), with a view of it. */
        Pinned<H> allocateHost(long bytes);

        /** Frees what {@link #allocateHost} returned ({@code cuMemFreeHost}). Nothing is in flight on it. */
        void freeHost(H host);

        /** Enqueues a copy of {@code bytes} from {@code host} at {@code hostOffset} to {@code dst} at {@code dstOffset}. */
        void copyToDevice(D dst, long dstOffset, H host, long hostOffset, long bytes);

        /** Enqueues a copy of {@code bytes} from {@code src} at {@code srcOffset} to {@code host} at {@code hostOffset}. */
        void copyToHost(H host, long hostOffset, D src, long srcOffset, long bytes);

        /** Waits for everything enqueued so far ({@code cuStreamSynchronize}). */
        void synchronizeStream();
    }

    /** A pinned host allocation: the driver's handle and a view of its bytes. */
    record Pinned<H>(H handle, MemorySegment segment) {
        Pinned {
            Objects.requireNonNull(handle, "handle");
            Objects.requireNonNull(segment, "segment");
        }
    }

    private final Driver<H, D> driver;
    private final long chunk;
    private final long align;
    private final long firstCapacity;
    private final List<Runnable> afterSync = new ArrayList<>();   // staged downloads to copy out
    private Pinned<H> pinned;
    private long used;

    /** Staging with the production sizes: {@link #CHUNK}, {@link #ALIGN}, {@link #FIRST_CAPACITY}. */
    Staging(Driver<H, D> driver) {
        this(driver, CHUNK, ALIGN, FIRST_CAPACITY);
    }

    /** Staging with other sizes (tests use small ones so that every boundary is cheap to reach). */
    Staging(Driver<H, D> driver, long chunk, long align, long firstCapacity) {
        if (chunk <= 0 || align <= 0 || firstCapacity <= 0) {
            throw new IllegalArgumentException("chunk " + chunk + ", align " + align + ", first " + firstCapacity);
        }
        this.driver = Objects.requireNonNull(driver, "driver");
        this.chunk = chunk;
        this.align = align;
        this.firstCapacity = firstCapacity;
    }

    /**
     * Enqueues copies of all of {@code src} to {@code dst} at {@code dstOffset}; {@code src} has been read when this
     * returns. The caller has checked the range.
     */
    void upload(MemorySegment src, D dst, long dstOffset) {
        long n = src.byteSize();
        for (long done = 0; done < n; done += chunk) {
            long part = Math.min(chunk, n - done), at = stage(part);
            MemorySegment.copy(src, done, pinned.segment(), at, part);
            driver.copyToDevice(dst, dstOffset + done, pinned.handle(), at, part);
        }
    }

    /**
     * Enqueues copies of {@code dst.byteSize()} bytes from {@code src} at {@code srcOffset} into staging, copied on
     * into {@code dst} by the next {@link #synchronize()}. The caller has checked the range and that {@code dst} is
     * writable.
     */
    void download(D src, long srcOffset, MemorySegment dst) {
        long n = dst.byteSize();
        for (long done = 0; done < n; done += chunk) {
            long part = Math.min(chunk, n - done), into = done, at = stage(part);
            driver.copyToHost(pinned.handle(), at, src, srcOffset + done, part);
            MemorySegment landing = pinned.segment();   // staging is only replaced after a synchronize has run this
            afterSync.add(() -> MemorySegment.copy(landing, at, dst, into, part));
        }
    }

    /**
     * Waits for the stream, then completes the downloads; staging is free again afterwards, even when the wait
     * failed (the downloads it would have completed are dropped).
     */
    void synchronize() {
        try {
            driver.synchronizeStream();
            afterSync.forEach(Runnable::run);
        } finally {
            afterSync.clear();
            used = 0;
        }
    }

    /**
     * Forgets the staging memory and returns its handle for the caller to free (null when there is none), for a
     * device that is closing and releases it its own way.
     */
    H release() {
        Pinned<H> p = pinned;
        pinned = null;
        used = 0;
        afterSync.clear();
        return p == null ? null : p.handle();
    }

    /** Bytes of staging memory held now (0 before the first copy). */
    long capacity() {
        return pinned == null ? 0 : pinned.segment().byteSize();
    }

    /** Downloads waiting for a synchronize to be copied out of staging. */
    int pendingDownloads() {
        return afterSync.size();
    }

    /**
     * Reserves {@code bytes} (at most one chunk) of staging. When it is full, waits for what is in flight (a
     * synchronize) and starts over, growing it first while it is under {@link #MAX_CHUNKS} chunks, so that a call's
     * copies usually fit without waiting.
     */
    private long stage(long bytes) {
        long at = (used + align - 1) / align * align;
        if (pinned != null && at + bytes <= pinned.segment().byteSize()) {
            used = at + bytes;
            return at;
        }
        synchronize();   // everything staged so far has landed; used is 0
        long size = capacity();
        if (size < MAX_CHUNKS * chunk || size < bytes) {
            long capacity = Math.max(bytes, size == 0 ? firstCapacity : Math.min(2 * size, MAX_CHUNKS * chunk));
            if (pinned != null) driver.freeHost(pinned.handle());
            pinned = null;
            pinned = driver.allocateHost(capacity);
        }
        used = bytes;
        return 0;
    }
}
