package org.lstmk.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * A {@link Device} that runs the host build of the kernels on the CPU (see {@link HostLibrary}): the test vehicle
 * that lets CI run the whole CUDA backend without a GPU. "Device memory" is native memory from the host library,
 * filled with NaN when allocated and fenced by guard zones that a kernel writing out of bounds damages (the launch
 * then fails); each allocation ends at an inaccessible page, so a kernel reading past the end of a buffer crashes the
 * JVM (a crashed test fork fails the build) instead of reading a neighbour's data.
 *
 * <p>It keeps the asynchronous contract of a CUDA stream rather than running things as they are issued: uploads are
 * snapshotted (except from {@link #allocateHost pinned memory}, read when they run, as a DMA would), then everything
 * (copies, fills, launches) is queued and runs in order at {@link #synchronize()}, so a caller that reads a download
 * before synchronizing, or forgets to synchronize, gets wrong results here too. The two streams are two queues,
 * interleaved at {@link #synchronize()} only as their marks require and otherwise in the {@link #streamOrder} that
 * puts a missing wait in plain sight.
 *
 * <p>Thread-safe in the way a CUDA context is: every operation takes this device's monitor, and buffers of any
 * {@code HostDevice} may be passed to any other (one address space, like the streams of one context).
 */
public final class HostDevice implements Device {
    /**
     * Order in which a block's threads run between barriers, and in which each block lane runs its share of a
     * launch's blocks (all must give the same results).
     */
    public enum Schedule { ASCENDING, DESCENDING, SHUFFLED }

    private final HostLibrary lib;
    private final Queue[] queues = {new Queue(), new Queue()};   // by Stream ordinal
    /** Start of each {@link #allocateHost} allocation → its end. */
    private final java.util.TreeMap<Long, Long> pinned = new java.util.TreeMap<>();
    private long epoch, synchronizations;
    private final Set<Buffer> live = new LinkedHashSet<>();
    /**
     * Chains run so far: an equal later chain runs the launches of the first one, as a GPU replays the graph it made
     * of the first (so a chain equality that missed a difference gives wrong results here too).
     */
    private final LaunchChain.Cache<LaunchChain> chains = new LaunchChain.Cache<>(CHAINS_KEPT, c -> {});
    private boolean closed;

    /** Chains {@link #run} keeps, as {@code JCudaDevice} keeps graphs. */
    static final int CHAINS_KEPT = 8;

    /** Opens the host build; throws {@link IllegalStateException} with the reason if it cannot be loaded. */
    public HostDevice() {
        this.lib = HostLibrary.get();
    }

    /** Sets the thread schedule of every host-build launch in this process. */
    public static void schedule(Schedule s) {
        HostLibrary.get().setSchedule(s.ordinal());
    }

    /**
     * Sets how many OS threads ("block lanes") every host-build launch in this process runs its blocks on, 1 to 8
     * (clamped; default 3). Each lane runs a contiguous share of the blocks in the {@link #schedule} order, the lanes
     * at the same time, so a kernel whose blocks read what other blocks of the same launch write (a race on a GPU)
     * gives schedule-dependent results. 1 runs the blocks one after another in ascending order on the caller.
     */
    public static void blockLanes(int lanes) {
        HostLibrary.get().setBlockLanes(lanes);
    }

    /** The current number of block lanes. */
    public static int blockLanes() {
        return HostLibrary.get().blockLanes();
    }

    /** Allocations of the host library not yet freed, over the whole process. */
    public static long processLiveAllocations() {
        return HostLibrary.get().liveAllocations();
    }

    @Override
    public String description() {
        return "host build of the CUDA kernels on the CPU (" + lib.kernelCount() + " kernels)";
    }

    @Override
    public synchronized DeviceBuffer allocate(long bytes) {
        open();
        if (bytes < 0) throw new IllegalArgumentException("cuMemAlloc: negative size " + bytes);
        long address = lib.alloc(bytes);
        if (address == 0) throw new DeviceException("cuMemAlloc(" + bytes + " bytes) failed: out of host memory");
        Buffer b = new Buffer(address, bytes);
        live.add(b);
        return b;
    }

    @Override
    public synchronized void upload(Stream stream, MemorySegment src, DeviceBuffer dst, long dstOffset) {
        Buffer d = own(dst, "cuMemcpyHtoDAsync");
        long n = src.byteSize();
        Device.checkRange(d, dstOffset, n, "cuMemcpyHtoDAsync");
        UPLOADED_BYTES.addAndGet(n);
        if (pinned(src)) {   // as a DMA from pinned memory: read when the copy runs
            PINNED_UPLOADS.incrementAndGet();
            enqueue(stream, new Op("cuMemcpyHtoDAsync", null) {
                @Override void run() { MemorySegment.copy(src, 0, d.segment(), dstOffset, n); }
            });
            return;
        }
        Arena arena = Arena.ofShared();
        MemorySegment snapshot = arena.allocate(Math.max(n, 1), 16);
        MemorySegment.copy(src, 0, snapshot, 0, n);
        enqueue(stream, new Op("cuMemcpyHtoDAsync", arena) {
            @Override void run() { MemorySegment.copy(snapshot, 0, d.segment(), dstOffset, n); }
        });
    }

    @Override
    public synchronized void download(Stream stream, DeviceBuffer src, long srcOffset, MemorySegment dst) {
        Buffer s = own(src, "cuMemcpyDtoHAsync");
        long n = dst.byteSize();
        Device.checkRange(s, srcOffset, n, "cuMemcpyDtoHAsync");
        if (dst.isReadOnly()) throw new IllegalArgumentException("cuMemcpyDtoHAsync: destination is read-only");
        enqueue(stream, new Op("cuMemcpyDtoHAsync", null) {
            @Override void run() { MemorySegment.copy(s.segment(), srcOffset, dst, 0, n); }
        });
    }

    @Override
    public synchronized void downloadAdding(DeviceBuffer src, long srcOffset, MemorySegment dst) {
        Buffer s = own(src, "cuMemcpyDtoHAsync");
        long n = dst.byteSize();
        Device.checkRange(s, srcOffset, n, "cuMemcpyDtoHAsync");
        if (dst.isReadOnly()) throw new IllegalArgumentException("cuMemcpyDtoHAsync: destination is read-only");
        enqueue(Stream.MAIN, new Op("cuMemcpyDtoHAsync", null) {
            @Override void run() { HostFloats.addInto(s.segment().asSlice(srcOffset, n), dst); }
        });
    }

    @Override
    public synchronized Mark mark(Stream stream) {
        open();
        return new HostMark(this, stream, queue(stream).issued);
    }

    @Override
    public synchronized void await(Stream stream, Mark mark) {
        HostMark m = mine(mark, "cuStreamWaitEvent");
        enqueue(stream, new Op("cuStreamWaitEvent", null) {
            @Override boolean ready() { return queue(m.stream).done >= m.position; }
            @Override void run() {}
        });
    }

    private HostMark mine(Mark mark, String call) {
        open();
        if (!(mark instanceof HostMark m) || m.device != this || m.epoch != epoch) {
            throw new IllegalArgumentException(call + ": the mark is not one of this device's since its last "
                    + "synchronize");
        }
        return m;
    }

    @Override
    @SuppressWarnings("restricted")   // our own allocation of exactly this size, tied to the caller's arena
    public synchronized MemorySegment allocateHost(long bytes, Arena arena) {
        open();
        if (bytes < 0) throw new IllegalArgumentException("cuMemAllocHost: negative size " + bytes);
        Arena own = Arena.ofShared();
        MemorySegment raw = own.allocate(Math.max(bytes, 1), 64);
        long address = raw.address();
        pinned.put(address, address + bytes);
        return MemorySegment.ofAddress(address).reinterpret(bytes, arena, ignored -> {
            synchronized (HostDevice.this) {
                pinned.remove(address);
            }
            own.close();
        });
    }

    /** Whether {@code segment} lies in memory from {@link #allocateHost} (copies of it are not staged). */
    synchronized boolean pinned(MemorySegment segment) {
        if (!segment.isNative()) return false;
        var range = pinned.floorEntry(segment.address());
        return range != null && segment.address() + segment.byteSize() <= range.getValue();
    }

    @Override
    public synchronized void fillZero(DeviceBuffer dst, long offset, long bytes) {
        Buffer d = own(dst, "cuMemsetD8Async");
        Device.checkRange(d, offset, bytes, "cuMemsetD8Async");
        enqueue(Stream.MAIN, new Op("cuMemsetD8Async", null) {
            @Override void run() { d.segment().asSlice(offset, bytes).fill((byte) 0); }
        });
    }

    @Override
    public synchronized DeviceKernel kernel(String name) {
        open();
        String signature = lib.kernelSignature(Objects.requireNonNull(name, "name"));
        if (signature == null) {
            throw new DeviceException("cuModuleGetFunction(" + name + ") failed: no such kernel in the host build");
        }
        return new Kernel(this, name);
    }

    @Override
    public synchronized void launch(DeviceKernel kernel, Dim3 grid, Dim3 block, int sharedBytes, KernelArgs args) {
        launch("cuLaunchKernel", false, kernel, grid, block, sharedBytes, args);
    }

    @Override
    public synchronized void launchCooperative(DeviceKernel kernel, Dim3 grid, Dim3 block, int sharedBytes,
                                               KernelArgs args) {
        long blocks = (long) grid.x() * grid.y() * grid.z();
        if (blocks > lib.maxCooperativeBlocks()) {   // what cuLaunchCooperativeKernel says at once
            throw new DeviceException("cuLaunchCooperativeKernel(" + kernel.name() + ", grid " + grid
                    + ") failed: cooperative launch too large: " + blocks + " blocks, at most "
                    + lib.maxCooperativeBlocks() + " can be resident at once");
        }
        launch("cuLaunchCooperativeKernel", true, kernel, grid, block, sharedBytes, args);
        COOPERATIVE_LAUNCHES.incrementAndGet();
    }

    private static final ConcurrentHashMap<String, LongAdder> LAUNCHES =
            new ConcurrentHashMap<>();

    /** Launches (cooperative or not) of kernel {@code name} by every {@code HostDevice} of this process (tests). */
    static long processLaunches(String name) {
        LongAdder n = LAUNCHES.get(name);
        return n == null ? 0 : n.sum();
    }

    private void launch(String api, boolean cooperative, DeviceKernel kernel, Dim3 grid, Dim3 block, int sharedBytes,
                        KernelArgs args) {
        open();
        if (!(kernel instanceof Kernel k) || k.device != this) {
            throw new IllegalArgumentException(api + ": kernel " + kernel.name() + " belongs to another device");
        }
        String call = api + "(" + k.name + ", grid " + grid + ", block " + block + ")";
        String rejected = lib.checkLaunch(k.name, args.signature(), grid, block, sharedBytes);
        if (rejected != null) throw new DeviceException(call + " failed: " + rejected);
        LAUNCHES.computeIfAbsent(k.name, n -> new LongAdder()).increment();
        Arena arena = Arena.ofShared();
        MemorySegment params = marshal(args, arena, call);
        enqueue(Stream.MAIN, new Op(call, arena) {
            @Override void run() {
                String failed = cooperative
                        ? lib.launchCooperative(k.name, args.signature(), grid, block, sharedBytes, params)
                        : lib.launch(k.name, args.signature(), grid, block, sharedBytes, params);
                if (failed != null) throw new DeviceException("kernel " + failed);
            }
        });
    }

    /** The host build's co-residency limit, whatever the kernel (it runs every block on its own OS thread). */
    @Override
    public int maxCooperativeBlocks(DeviceKernel kernel, int blockThreads) {
        return lib.maxCooperativeBlocks();
    }

    private static final AtomicLong COOPERATIVE_LAUNCHES = new AtomicLong();

    /** Cooperative launches issued by every {@code HostDevice} of this process (tests). */
    static long processCooperativeLaunches() {
        return COOPERATIVE_LAUNCHES.get();
    }

    @Override
    public synchronized void run(LaunchChain chain) {
        open();
        long hits = chains.hits();
        LaunchChain kept = chains.get(chain, c -> c);
        (chains.hits() > hits ? CHAIN_HITS : CHAIN_MISSES).incrementAndGet();
        for (LaunchChain.Launch l : kept) launch(l.kernel(), l.grid(), l.block(), l.sharedBytes(), l.args());
    }

    private static final AtomicLong CHAIN_HITS = new AtomicLong(), CHAIN_MISSES = new AtomicLong();

    /**
     * Chains that {@link #run} ran from an equal earlier chain (as a GPU replays a graph), and chains it met for the
     * first time, by every {@code HostDevice} of this process (tests).
     */
    static long[] processChainHitsAndMisses() {
        return new long[] {CHAIN_HITS.get(), CHAIN_MISSES.get()};
    }

    /**
     * Runs both streams' operations in an order their marks allow: each turn the preferred stream runs its next
     * operation if it may ({@link #streamOrder}), else the other one, so a missing {@link #await} gives wrong
     * results here (a download that ran before the kernel that writes its source, an upload that overwrote what a
     * kernel was still to read, a kernel that read before its upload) as it would on a GPU, some of the time.
     */
    @Override
    public synchronized void synchronize() {
        open();
        try {
            runUntil(null);
        } finally {
            for (Queue q : queues) {
                q.ops.forEach(Op::release);
                q.ops.clear();
                q.issued = q.done = 0;
            }
            epoch++;   // marks of this round are spent
        }
    }

    @Override
    public synchronized void complete(Mark mark) {
        HostMark m = mine(mark, "cuEventSynchronize");
        try {
            runUntil(m);
        } catch (RuntimeException e) {
            for (Queue q : queues) {   // as synchronize after a failure: nothing issued after it runs
                q.ops.forEach(Op::release);
                q.ops.clear();
                q.issued = q.done = 0;
            }
            epoch++;
            throw e;
        }
    }

    /** Runs queued operations until {@code until} is reached (null: until both queues are empty). */
    private void runUntil(HostMark until) {
        Stream preferred = switch (STREAM_ORDER.get()) {
            case COPY_FIRST -> Stream.COPY;
            case MAIN_FIRST -> Stream.MAIN;
            case ALTERNATE -> (synchronizations++ & 1) == 0 ? Stream.COPY : Stream.MAIN;
        };
        Queue first = queue(preferred), second = queue(preferred == Stream.MAIN ? Stream.COPY : Stream.MAIN);
        while (until == null ? !first.ops.isEmpty() || !second.ops.isEmpty()
                : queue(until.stream).done < until.position) {
            Queue q = first.ready() ? first : second.ready() ? second : null;
            if (q == null) throw new DeviceException("cuStreamSynchronize: the streams wait for each other's marks");
            Op op = q.ops.poll();
            try {
                op.run();
            } catch (RuntimeException e) {
                // Like a CUDA stream after a fault: nothing issued after the failure runs.
                throw new DeviceException("cuStreamSynchronize failed after " + op.call + ": " + e.getMessage());
            } finally {
                op.release();
            }
            q.done++;
        }
    }

    /** Which stream {@link #synchronize()} runs first when both could run. */
    public enum StreamOrder { ALTERNATE, COPY_FIRST, MAIN_FIRST }

    private static final java.util.concurrent.atomic.AtomicReference<StreamOrder> STREAM_ORDER =
            new java.util.concurrent.atomic.AtomicReference<>(StreamOrder.ALTERNATE);

    /**
     * Sets, for every {@code HostDevice} of this process, which stream runs first when both may (default: each
     * synchronize switches), so that tests can make a missing {@link #await} show.
     */
    public static void streamOrder(StreamOrder order) {
        STREAM_ORDER.set(java.util.Objects.requireNonNull(order, "order"));
    }

    @Override
    public synchronized long liveAllocations() {
        return live.size();
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        for (Queue q : queues) {
            q.ops.forEach(Op::release);
            q.ops.clear();
        }
        for (Buffer b : new ArrayList<>(live)) b.close();   // a leak here would be the caller's bug; free anyway
        chains.clear();
        closed = true;
    }

    private void open() {
        if (closed) throw new IllegalStateException("device has been closed");
    }

    private static final AtomicLong UPLOADED_BYTES = new AtomicLong(), COPY_STREAM_OPS = new AtomicLong(),
            PINNED_UPLOADS = new AtomicLong();

    /** Uploads from {@link #allocateHost pinned memory} by every {@code HostDevice} of this process (tests). */
    static long processPinnedUploads() {
        return PINNED_UPLOADS.get();
    }

    /** Bytes uploaded by every {@code HostDevice} of this process (tests: what a call copies up). */
    static long processUploadedBytes() {
        return UPLOADED_BYTES.get();
    }

    /** Operations (copies, waits) issued to {@link Stream#COPY} by every {@code HostDevice} of this process (tests). */
    static long processCopyStreamOps() {
        return COPY_STREAM_OPS.get();
    }

    private void enqueue(Stream stream, Op op) {
        if (stream == Stream.COPY) COPY_STREAM_OPS.incrementAndGet();
        Queue q = queue(stream);
        q.ops.add(op);
        q.issued++;
    }

    private Queue queue(Stream stream) {
        return queues[stream.ordinal()];
    }

    /** One stream's queued operations, and how many it has been given and has run since the last synchronize. */
    private static final class Queue {
        final ArrayDeque<Op> ops = new ArrayDeque<>();
        long issued, done;

        boolean ready() {
            return !ops.isEmpty() && ops.peek().ready();
        }
    }

    /** A point in a stream: after its first {@code position} operations of synchronize round {@code epoch}. */
    private record HostMark(HostDevice device, Stream stream, long position, long epoch) implements Mark {
        HostMark(HostDevice device, Stream stream, long position) {
            this(device, stream, position, device.epoch);
        }
    }

    /**
     * {@code b} as this implementation's buffer. A buffer of another {@code HostDevice} is accepted: all of them are
     * host memory of one library, as all streams of one CUDA context share its memory, which is what lets engines
     * share packed weights.
     */
    private Buffer own(DeviceBuffer b, String call) {
        open();
        if (!(b instanceof Buffer buf) || buf.isClosed()) {
            throw new IllegalArgumentException(call + ": " + (b != null && b.isClosed() ? "buffer has been closed"
                    : "buffer belongs to another kind of device"));
        }
        return buf;
    }

    /** cuLaunchKernel's {@code void** kernelParams}: one 8-byte slot per argument, and the array of their addresses. */
    private MemorySegment marshal(KernelArgs args, Arena arena, String call) {
        List<KernelArgs.Arg> list = args.list();
        MemorySegment slots = arena.allocate(8L * Math.max(1, list.size()), 8);
        MemorySegment params = arena.allocate(ValueLayout.ADDRESS, Math.max(1, list.size()));
        for (int i = 0; i < list.size(); i++) {
            MemorySegment slot = slots.asSlice(8L * i, 8);
            switch (list.get(i)) {
                case KernelArgs.Pointer p -> slot.set(ValueLayout.JAVA_LONG, 0,
                        p.at() == null ? 0 : own(p.at().buffer(), call).address + p.at().byteOffset());
                case KernelArgs.Int v -> slot.set(ValueLayout.JAVA_INT, 0, v.value());
                case KernelArgs.Long v -> slot.set(ValueLayout.JAVA_LONG, 0, v.value());
                case KernelArgs.Float v -> slot.set(ValueLayout.JAVA_FLOAT, 0, v.value());
            }
            params.setAtIndex(ValueLayout.ADDRESS, i, slot);
        }
        return params;
    }

    /** One queued stream operation, with the native memory it keeps alive until it has run. */
    private abstract static class Op {
        final String call;
        private Arena arena;

        Op(String call, Arena arena) {
            this.call = call;
            this.arena = arena;
        }

        abstract void run();

        /** Whether it may run now (a wait for a mark the other stream has not reached may not). */
        boolean ready() {
            return true;
        }

        void release() {
            if (arena != null) {
                arena.close();
                arena = null;
            }
        }
    }

    private record Kernel(HostDevice device, String name) implements DeviceKernel {}

    private final class Buffer implements DeviceBuffer {
        final long address;
        final long bytes;
        private volatile boolean freed;

        Buffer(long address, long bytes) {
            this.address = address;
            this.bytes = bytes;
        }

        @SuppressWarnings("restricted")   // the host library's allocation of exactly this size
        MemorySegment segment() {
            return MemorySegment.ofAddress(address).reinterpret(bytes);
        }

        @Override public long bytes() { return bytes; }

        @Override public boolean isClosed() { return freed; }

        @Override
        public void close() {
            String damaged;
            // The device's monitor: a backend holds it for a whole call, so freeing from another thread waits for
            // the call this device may be running (cuMemFree waits for the device too).
            synchronized (HostDevice.this) {
                if (freed) return;
                try {
                    if (!closed) synchronize();   // cuMemFree waits for the work that may still use the buffer
                } finally {
                    freed = true;
                    live.remove(this);
                    damaged = lib.free(address);   // freed on every path, even after a failed kernel
                }
            }
            if (damaged != null) throw new DeviceException("cuMemFree(" + bytes + " bytes): " + damaged);
        }
    }
}
