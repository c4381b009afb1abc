package org.lstmk.cuda;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The pinned host staging that {@link JCudaDevice} copies through (except to and from pinned memory it handed out,
 * {@link #register}ed here and copied directly), and the bookkeeping around it: copies are cut
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

        /**
         * Enqueues on {@code stream} a copy of {@code bytes} from {@code host} at {@code hostOffset} to {@code dst}
         * at {@code dstOffset}.
         */
        void copyToDevice(Device.Stream stream, D dst, long dstOffset, H host, long hostOffset, long bytes);

        /**
         * Enqueues on {@code stream} a copy of {@code bytes} from {@code src} at {@code srcOffset} to {@code host} at
         * {@code hostOffset}.
         */
        void copyToHost(Device.Stream stream, H host, long hostOffset, D src, long srcOffset, long bytes);

        /** Waits for everything enqueued so far on both streams ({@code cuStreamSynchronize} each). */
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
    private final List<CopyOut> afterSync = new ArrayList<>();   // staged downloads to copy out, in issue order
    private final long[] downloadsIssued = new long[Device.Stream.values().length];

    /** A staged download's copy out of staging: the stream and issue number of its copy, and the copy itself. */
    private record CopyOut(Device.Stream stream, long number, Runnable copy) {}
    private Pinned<H> pinned;
    private long used;
    /** Pinned memory handed out to callers ({@link #register}), by start address: copied to and from directly. */
    private final java.util.TreeMap<Long, Pinned<H>> handedOut = new java.util.TreeMap<>();

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
     * Enqueues copies of all of {@code src} to {@code dst} at {@code dstOffset} on {@code stream}. A source inside
     * {@link #register registered} memory is copied directly (read when the copy runs); any other has been read into
     * staging when this returns. The caller has checked the range.
     */
    void upload(Device.Stream stream, MemorySegment src, D dst, long dstOffset) {
        long n = src.byteSize();
        Pinned<H> direct = registered(src);
        if (direct != null) {
            if (n > 0) driver.copyToDevice(stream, dst, dstOffset, direct.handle(), offsetIn(direct, src), n);
            return;
        }
        for (long done = 0; done < n; done += chunk) {
            long part = Math.min(chunk, n - done), at = stage(part);
            MemorySegment.copy(src, done, pinned.segment(), at, part);
            driver.copyToDevice(stream, dst, dstOffset + done, pinned.handle(), at, part);
        }
    }

    /**
     * Enqueues copies of {@code dst.byteSize()} bytes from {@code src} at {@code srcOffset} on {@code stream}:
     * directly into {@code dst} when it lies in {@link #register registered} memory and {@code add} is false, else
     * into staging, copied on into {@code dst} (or, with {@code add}, added onto its floats) by the next
     * {@link #synchronize()}. The caller has checked the range and that {@code dst} is writable.
     */
    void download(Device.Stream stream, D src, long srcOffset, MemorySegment dst, boolean add) {
        long n = dst.byteSize();
        Pinned<H> direct = add ? null : registered(dst);
        if (direct != null) {
            if (n > 0) driver.copyToHost(stream, direct.handle(), offsetIn(direct, dst), src, srcOffset, n);
            return;
        }
        for (long done = 0; done < n; done += chunk) {
            long part = Math.min(chunk, n - done), into = done, at = stage(part);
            driver.copyToHost(stream, pinned.handle(), at, src, srcOffset + done, part);
            MemorySegment landing = pinned.segment();   // staging is only replaced after a synchronize has run this
            afterSync.add(new CopyOut(stream, downloadsIssued[stream.ordinal()]++,
                    add ? () -> HostFloats.addInto(landing.asSlice(at, part), dst.asSlice(into, part))
                            : () -> MemorySegment.copy(landing, at, dst, into, part)));
        }
    }

    /** How many staged downloads have been issued to {@code stream} so far (a mark's position among them). */
    long downloadsIssued(Device.Stream stream) {
        return downloadsIssued[stream.ordinal()];
    }

    /**
     * Copies out the staged downloads of {@code stream} issued before the first {@code issued} ones had been
     * ({@link #downloadsIssued} when a mark was recorded), once the caller has waited for that mark: their copies have
     * landed. Staging space is only reclaimed by {@link #synchronize()}.
     */
    void completeDownloads(Device.Stream stream, long issued) {
        for (var it = afterSync.iterator(); it.hasNext(); ) {
            CopyOut c = it.next();
            if (c.stream() == stream && c.number() < issued) {
                it.remove();
                c.copy().run();
            }
        }
    }

    /** Makes copies to and from segments inside {@code p} direct (pinned memory handed out to a caller). */
    void register(Pinned<H> p) {
        handedOut.put(p.segment().address(), p);
    }

    /** Undoes {@link #register}; false if {@code p} was not registered. */
    boolean unregister(Pinned<H> p) {
        return handedOut.remove(p.segment().address(), p);
    }

    /** Registered allocations not yet unregistered. */
    java.util.Collection<Pinned<H>> registered() {
        return java.util.List.copyOf(handedOut.values());
    }

    /** The registered allocation {@code s} lies inside, or null. */
    private Pinned<H> registered(MemorySegment s) {
        if (!s.isNative() || handedOut.isEmpty()) return null;
        var e = handedOut.floorEntry(s.address());
        if (e == null) return null;
        MemorySegment whole = e.getValue().segment();
        return s.address() + s.byteSize() <= whole.address() + whole.byteSize() ? e.getValue() : null;
    }

    private static long offsetIn(Pinned<?> p, MemorySegment s) {
        return s.address() - p.segment().address();
    }

    /**
     * Waits for the stream, then completes the downloads; staging is free again afterwards, even when the wait
     * failed (the downloads it would have completed are dropped).
     */
    void synchronize() {
        try {
            driver.synchronizeStream();
            afterSync.forEach(c -> c.copy().run());
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
