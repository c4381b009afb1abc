package org.lstmk.cuda;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDeviceTotalMem;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuDriverGetVersion;
import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuGraphDestroy;
import static jcuda.driver.JCudaDriver.cuGraphInstantiate;
import static jcuda.driver.JCudaDriver.cuGraphLaunch;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuLaunchCooperativeKernel;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemAllocHost;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemFreeHost;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemsetD8Async;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;
import static jcuda.driver.JCudaDriver.cuOccupancyMaxActiveBlocksPerMultiprocessor;
import static jcuda.driver.JCudaDriver.cuStreamBeginCapture;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamEndCapture;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;
import static jcuda.driver.JCudaDriver.cuStreamWaitEvent;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.IntSupplier;
import jcuda.CudaException;
import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUfunction;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.JCudaDriver;

/**
 * A real GPU through JCuda's driver API: the device's primary context (shared with other CUDA users in the JVM),
 * the kernels' fatbin loaded from the jar with {@code cuModuleLoadData}, two non-blocking streams per instance (kernels;
 * copies beside them, ordered by events), and pinned host staging for every copy of ordinary memory (so copies are
 * truly asynchronous and heap segments can be copied at all); memory from {@link #allocateHost} is copied directly.
 * Every driver call is checked; a failure is a {@link DeviceException} naming the call. Every operation takes this
 * device's monitor; buffers of other instances on the same context are accepted (shared packed weights).
 *
 * <p>Only loaded once {@link JCudaProbe} has found JCuda, a driver and a device: this class links JCuda.
 */
final class JCudaDevice implements Device {
    private static final int STREAM_NON_BLOCKING = 1;

    private final CUdevice device;
    private final CUcontext context;
    private final CUmodule module;
    private final CUstream stream;
    /** The {@link Stream#COPY} stream: copies beside the kernels. */
    private final CUstream copyStream;
    /** Events for marks: free ones, and those handed out since the last synchronize (free again after it). */
    private final ArrayDeque<CUevent> freeEvents = new ArrayDeque<>();
    private final List<CUevent> markedEvents = new ArrayList<>();
    private long epoch;
    private final String description;
    private final Map<String, CUfunction> functions = new HashMap<>();
    private final Set<Buffer> live = new LinkedHashSet<>();
    private final List<String> launchedSinceSync = new ArrayList<>();
    /** Pinned staging for every copy, and the downloads waiting to be copied out of it (see {@link Staging}). */
    private final Staging<Pointer, Buffer> staging = new Staging<>(new StagingCalls());
    private boolean closed;

    private JCudaDevice(CUdevice device, CUcontext context, CUmodule module, CUstream stream, CUstream copyStream,
                        String description) {
        this.device = device;
        this.context = context;
        this.module = module;
        this.stream = stream;
        this.copyStream = copyStream;
        this.description = description;
    }

    /** Opens device {@code ordinal} and loads {@code fatbin} into its primary context. */
    static JCudaDevice open(int ordinal, byte[] fatbin) {
        check("cuInit", () -> cuInit(0));
        CUdevice dev = new CUdevice();
        check("cuDeviceGet(" + ordinal + ")", () -> cuDeviceGet(dev, ordinal));
        CUcontext ctx = new CUcontext();
        check("cuDevicePrimaryCtxRetain", () -> cuDevicePrimaryCtxRetain(ctx, dev));
        CUmodule mod = null;
        try {
            check("cuCtxSetCurrent", () -> cuCtxSetCurrent(ctx));
            CUmodule m = new CUmodule();
            check("cuModuleLoadData(lstm_kernels.fatbin)", () -> cuModuleLoadData(m, fatbin));
            mod = m;
            CUstream st = new CUstream();
            check("cuStreamCreate", () -> cuStreamCreate(st, STREAM_NON_BLOCKING));
            CUstream copies = new CUstream();
            try {
                check("cuStreamCreate", () -> cuStreamCreate(copies, STREAM_NON_BLOCKING));
            } catch (RuntimeException e) {
                cuStreamDestroy(st);
                throw e;
            }
            return new JCudaDevice(dev, ctx, m, st, copies, describe(dev));
        } catch (RuntimeException e) {
            if (mod != null) cuModuleUnload(mod);
            cuDevicePrimaryCtxRelease(dev);
            throw e;
        }
    }

    /** E.g. {@code NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79 GiB), driver CUDA 13.0}. */
    static String describe(CUdevice dev) {
        byte[] name = new byte[256];
        check("cuDeviceGetName", () -> cuDeviceGetName(name, name.length, dev));
        long[] mem = new long[1];
        check("cuDeviceTotalMem", () -> cuDeviceTotalMem(mem, dev));
        int[] version = new int[1];
        check("cuDriverGetVersion", () -> cuDriverGetVersion(version));
        String n = new String(name).trim();
        int nul = n.indexOf('\0');
        return String.format("%s (sm_%d, %d SMs, %d GiB), driver CUDA %d.%d", nul >= 0 ? n.substring(0, nul) : n,
                computeCapability(dev), attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT),
                mem[0] >> 30, version[0] / 1000, version[0] % 1000 / 10);
    }

    /** Compute capability as major*10 + minor, e.g. 90. */
    static int computeCapability(CUdevice dev) {
        return 10 * attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
                + attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
    }

    private static int attribute(CUdevice dev, int attribute) {
        int[] v = new int[1];
        check("cuDeviceGetAttribute(" + attribute + ")", () -> cuDeviceGetAttribute(v, attribute, dev));
        return v[0];
    }

    @Override
    public String description() {
        return description;
    }

    @Override
    public synchronized DeviceBuffer allocate(long bytes) {
        bind();
        if (bytes < 0) throw new IllegalArgumentException("cuMemAlloc: negative size " + bytes);
        CUdeviceptr p = new CUdeviceptr();
        check("cuMemAlloc(" + bytes + " bytes)", () -> cuMemAlloc(p, Math.max(bytes, 1)));
        Buffer b = new Buffer(p, bytes);
        live.add(b);
        return b;
    }

    @Override
    public synchronized void upload(Stream on, MemorySegment src, DeviceBuffer dst, long dstOffset) {
        Buffer d = own(dst, "cuMemcpyHtoDAsync");
        long n = src.byteSize();
        Device.checkRange(d, dstOffset, n, "cuMemcpyHtoDAsync");
        staging.upload(on, src, d, dstOffset);
    }

    @Override
    public synchronized void download(Stream on, DeviceBuffer src, long srcOffset, MemorySegment dst) {
        download(on, src, srcOffset, dst, false);
    }

    @Override
    public synchronized void downloadAdding(DeviceBuffer src, long srcOffset, MemorySegment dst) {
        download(Stream.MAIN, src, srcOffset, dst, true);
    }

    private void download(Stream on, DeviceBuffer src, long srcOffset, MemorySegment dst, boolean add) {
        Buffer s = own(src, "cuMemcpyDtoHAsync");
        long n = dst.byteSize();
        Device.checkRange(s, srcOffset, n, "cuMemcpyDtoHAsync");
        if (dst.isReadOnly()) throw new IllegalArgumentException("cuMemcpyDtoHAsync: destination is read-only");
        staging.download(on, s, srcOffset, dst, add);
    }

    private CUstream stream(Stream on) {
        return on == Stream.COPY ? copyStream : stream;
    }

    @Override
    public synchronized Mark mark(Stream on) {
        bind();
        CUevent e = freeEvents.poll();
        if (e == null) {
            CUevent made = new CUevent();
            check("cuEventCreate", () -> cuEventCreate(made, EVENT_DISABLE_TIMING));
            e = made;
        }
        markedEvents.add(e);
        CUevent recorded = e;
        check("cuEventRecord", () -> cuEventRecord(recorded, stream(on)));
        return new EventMark(this, on, e, epoch, staging.downloadsIssued(on));
    }

    @Override
    public synchronized void await(Stream on, Mark mark) {
        bind();
        if (!(mark instanceof EventMark m) || m.device != this || m.epoch != epoch) {
            throw new IllegalArgumentException("cuStreamWaitEvent: the mark is not one of this device's since its "
                    + "last synchronize");
        }
        check("cuStreamWaitEvent", () -> cuStreamWaitEvent(stream(on), m.event, 0));
    }

    private static final int EVENT_DISABLE_TIMING = 2;   // CU_EVENT_DISABLE_TIMING: the cheapest event

    /** An event, and how many staged downloads its stream had been given when it was recorded. */
    private record EventMark(JCudaDevice device, Stream stream, CUevent event, long epoch, long downloadsBefore)
            implements Mark {}

    @Override
    public synchronized void complete(Mark mark) {
        bind();
        if (!(mark instanceof EventMark m) || m.device != this || m.epoch != epoch) {
            throw new IllegalArgumentException("cuEventSynchronize: the mark is not one of this device's since its "
                    + "last synchronize");
        }
        check("cuEventSynchronize", () -> cuEventSynchronize(m.event));
        staging.completeDownloads(m.stream, m.downloadsBefore);
    }

    /**
     * Pinned memory ({@code cuMemAllocHost}) that {@link Staging} copies to and from directly, freed when
     * {@code arena} closes (after waiting for this device's streams: a copy may still be reading it).
     */
    @Override
    @SuppressWarnings("restricted")   // the driver's allocation of exactly this size, tied to the caller's arena
    public synchronized MemorySegment allocateHost(long bytes, Arena arena) {
        bind();
        if (bytes < 0) throw new IllegalArgumentException("cuMemAllocHost: negative size " + bytes);
        Staging.Pinned<Pointer> p = new StagingCalls().allocateHost(Math.max(bytes, 1));
        p.segment().fill((byte) 0);
        staging.register(p);
        return MemorySegment.ofAddress(p.segment().address()).reinterpret(bytes, arena, ignored -> freeHost(p));
    }

    private synchronized void freeHost(Staging.Pinned<Pointer> p) {
        if (closed || !staging.unregister(p)) return;   // closed: the context's memory went with it (see close)
        bind();
        staging.synchronize();   // no copy in flight may still read or write it
        check("cuMemFreeHost", () -> cuMemFreeHost(p.handle()));
    }

    @Override
    public synchronized void fillZero(DeviceBuffer dst, long offset, long bytes) {
        Buffer d = own(dst, "cuMemsetD8Async");
        Device.checkRange(d, offset, bytes, "cuMemsetD8Async");
        if (bytes == 0) return;
        check("cuMemsetD8Async(" + bytes + " bytes)",
                () -> cuMemsetD8Async(d.pointer.withByteOffset(offset), (byte) 0, bytes, stream));
    }

    @Override
    public synchronized DeviceKernel kernel(String name) {
        bind();
        Objects.requireNonNull(name, "name");
        CUfunction f = functions.get(name);
        if (f == null) {
            CUfunction found = new CUfunction();
            check("cuModuleGetFunction(" + name + ")", () -> cuModuleGetFunction(found, module, name));
            functions.put(name, f = found);
        }
        return new Kernel(this, name, f);
    }

    @Override
    public synchronized void launchCooperative(DeviceKernel kernel, Dim3 grid, Dim3 block, int sharedBytes,
                                               KernelArgs args) {
        bind();
        if (!(kernel instanceof Kernel k) || k.device != this) {
            throw new IllegalArgumentException("cuLaunchCooperativeKernel: kernel " + kernel.name()
                    + " belongs to another device");
        }
        String call = "cuLaunchCooperativeKernel(" + k.name + ", grid " + grid + ", block " + block + ")";
        Pointer params = Pointer.to(marshal(args, call));
        check(call, () -> cuLaunchCooperativeKernel(k.function, grid.x(), grid.y(), grid.z(), block.x(), block.y(),
                block.z(), sharedBytes, stream, params));
        if (launchedSinceSync.size() < 8) launchedSinceSync.add(k.name);
    }

    /**
     * Blocks per multiprocessor the occupancy calculator allows, times the multiprocessors; 0 without support. Asked
     * of the driver once per kernel and block size (the backend asks before every persistent call).
     */
    @Override
    public synchronized int maxCooperativeBlocks(DeviceKernel kernel, int blockThreads) {
        bind();
        if (!(kernel instanceof Kernel k) || k.device != this) {
            throw new IllegalArgumentException("cuOccupancyMaxActiveBlocksPerMultiprocessor: kernel " + kernel.name()
                    + " belongs to another device");
        }
        return cooperativeLimits.computeIfAbsent(k.name + "/" + blockThreads, key -> {
            if (attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH) == 0) return 0;
            int[] perSm = new int[1];
            check("cuOccupancyMaxActiveBlocksPerMultiprocessor(" + k.name + ")",
                    () -> cuOccupancyMaxActiveBlocksPerMultiprocessor(perSm, k.function, blockThreads, 0));
            return perSm[0] * attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
        });
    }

    /** {@link #maxCooperativeBlocks} by kernel name and block size. */
    private final Map<String, Integer> cooperativeLimits = new HashMap<>();

    @Override
    public synchronized void launch(DeviceKernel kernel, Dim3 grid, Dim3 block, int sharedBytes, KernelArgs args) {
        bind();
        if (!(kernel instanceof Kernel k) || k.device != this) {
            throw new IllegalArgumentException("cuLaunchKernel: kernel " + kernel.name() + " belongs to another device");
        }
        String call = "cuLaunchKernel(" + k.name + ", grid " + grid + ", block " + block + ")";
        NativePointerObject[] params = marshal(args, call);
        check(call, () -> cuLaunchKernel(k.function, grid.x(), grid.y(), grid.z(), block.x(), block.y(), block.z(),
                sharedBytes,
                stream, Pointer.to(params), null));
        if (launchedSinceSync.size() < 8) launchedSinceSync.add(k.name);
    }

    /** Kernel arguments as cuLaunchKernel takes them: one pointer to each value. */
    private NativePointerObject[] marshal(KernelArgs args, String call) {
        List<KernelArgs.Arg> list = args.list();
        NativePointerObject[] params = new NativePointerObject[list.size()];
        for (int i = 0; i < params.length; i++) {
            params[i] = switch (list.get(i)) {
                case KernelArgs.Pointer p -> p.at() == null ? Pointer.to(new long[] {0})
                        : Pointer.to(own(p.at().buffer(), call).pointer.withByteOffset(p.at().byteOffset()));
                case KernelArgs.Int v -> Pointer.to(new int[] {v.value()});
                case KernelArgs.Long v -> Pointer.to(new long[] {v.value()});
                case KernelArgs.Float v -> Pointer.to(new float[] {v.value()});
            };
        }
        return params;
    }

    /** Graphs kept: one per distinct chain recently run (a shape's forward and backward, a few shapes). */
    private static final int GRAPHS_KEPT = 8;
    private final boolean graphs = CudaPaths.on(LaunchChain.GRAPHS_PROPERTY);
    private final LaunchChain.Cache<CUgraphExec> graphCache = new LaunchChain.Cache<>(GRAPHS_KEPT, JCudaDriver::cuGraphExecDestroy);

    /** Whether {@link #run} replays CUDA graphs ({@link LaunchChain#GRAPHS_PROPERTY}). */
    boolean graphs() {
        return graphs;
    }

    @Override
    public synchronized void run(LaunchChain chain) {
        bind();
        if (!graphs) {
            for (LaunchChain.Launch l : chain) launch(l.kernel(), l.grid(), l.block(), l.sharedBytes(), l.args());
            return;
        }
        CUgraphExec exec = graphCache.get(chain, this::instantiate);
        check("cuGraphLaunch(" + chain.size() + " kernels)", () -> cuGraphLaunch(exec, stream));
        if (launchedSinceSync.size() < 8) launchedSinceSync.add("graph of " + chain.size() + " kernels");
    }

    /** A CUDA graph of {@code chain}'s launches, captured from this device's stream (nothing runs meanwhile). */
    private CUgraphExec instantiate(LaunchChain chain) {
        CUgraph graph = new CUgraph();
        check("cuStreamBeginCapture", () -> cuStreamBeginCapture(stream, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
        try {
            for (LaunchChain.Launch l : chain) launch(l.kernel(), l.grid(), l.block(), l.sharedBytes(), l.args());
        } catch (RuntimeException e) {
            // end the capture whatever happened, so that the stream can be used again; the partial graph is dropped
            if (cuStreamEndCapture(stream, graph) == CUresult.CUDA_SUCCESS) cuGraphDestroy(graph);
            throw e;
        }
        check("cuStreamEndCapture", () -> cuStreamEndCapture(stream, graph));
        try {
            CUgraphExec exec = new CUgraphExec();
            check("cuGraphInstantiate(" + chain.size() + " kernels)", () -> cuGraphInstantiate(exec, graph, 0));
            return exec;
        } finally {
            cuGraphDestroy(graph);
        }
    }

    @Override
    public synchronized void synchronize() {
        bind();
        try {
            staging.synchronize();   // cuStreamSynchronize on both streams (StagingCalls), then staged downloads copied out
        } finally {
            freeEvents.addAll(markedEvents);   // every recorded event has completed (or the context is broken)
            markedEvents.clear();
            epoch++;
        }
    }

    /**
     * Milliseconds of device time that {@code work} enqueues on this device's stream, measured with CUDA events;
     * synchronizes. For benchmarks that want device time without the host-side copies.
     */
    float time(Runnable work) {
        bind();
        CUevent start = new CUevent(), stop = new CUevent();
        check("cuEventCreate", () -> cuEventCreate(start, 0));
        try {
            check("cuEventCreate", () -> cuEventCreate(stop, 0));
            try {
                check("cuEventRecord", () -> cuEventRecord(start, stream));
                work.run();
                check("cuEventRecord", () -> cuEventRecord(stop, stream));
                check("cuEventSynchronize", () -> cuEventSynchronize(stop));
                float[] ms = new float[1];
                check("cuEventElapsedTime", () -> cuEventElapsedTime(ms, start, stop));
                return ms[0];
            } finally {
                cuEventDestroy(stop);
            }
        } finally {
            cuEventDestroy(start);
        }
    }

    @Override
    public synchronized long liveAllocations() {
        return live.size();
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        // Release everything whatever fails on the way (the context may already be broken by a kernel fault).
        try {
            cuCtxSetCurrent(context);
            cuStreamSynchronize(stream);
            for (Buffer b : new ArrayList<>(live)) {
                try {
                    b.close();
                } catch (RuntimeException e) {
                    // freed as far as the driver allows; keep releasing the rest
                }
            }
            try {
                graphCache.clear();
            } catch (RuntimeException e) {
                // as for buffers: keep releasing the rest
            }
            cuStreamSynchronize(copyStream);
            Pointer pinned = staging.release();
            if (pinned != null) cuMemFreeHost(pinned);
            // Pinned memory still handed out is left to the context: freeing it under a caller's live segment would
            // turn a misuse (closing the device before the arena) into a crash.
            freeEvents.addAll(markedEvents);
            markedEvents.clear();
            for (CUevent e : freeEvents) cuEventDestroy(e);
            freeEvents.clear();
            cuStreamDestroy(copyStream);
            cuStreamDestroy(stream);
            cuModuleUnload(module);
        } finally {
            closed = true;
            cuDevicePrimaryCtxRelease(device);
        }
    }

    /** The raw driver calls {@link Staging} is written against, each checked and named. */
    private final class StagingCalls implements Staging.Driver<Pointer, Buffer> {
        @Override
        public Staging.Pinned<Pointer> allocateHost(long bytes) {
            Pointer p = new Pointer();
            check("cuMemAllocHost(" + bytes + " bytes)", () -> cuMemAllocHost(p, bytes));
            return new Staging.Pinned<>(p, MemorySegment.ofBuffer(p.getByteBuffer(0, bytes)));
        }

        @Override
        public void freeHost(Pointer host) {
            check("cuMemFreeHost", () -> cuMemFreeHost(host));
        }

        @Override
        public void copyToDevice(Stream on, Buffer dst, long dstOffset, Pointer host, long hostOffset, long bytes) {
            check("cuMemcpyHtoDAsync(" + bytes + " bytes)", () -> cuMemcpyHtoDAsync(
                    dst.pointer.withByteOffset(dstOffset), host.withByteOffset(hostOffset), bytes, stream(on)));
        }

        @Override
        public void copyToHost(Stream on, Pointer host, long hostOffset, Buffer src, long srcOffset, long bytes) {
            check("cuMemcpyDtoHAsync(" + bytes + " bytes)", () -> cuMemcpyDtoHAsync(
                    host.withByteOffset(hostOffset), src.pointer.withByteOffset(srcOffset), bytes, stream(on)));
        }

        /** Names the kernels launched since the last synchronize, where an execution error would come from. */
        @Override
        public void synchronizeStream() {
            String after = launchedSinceSync.isEmpty() ? "" : " (kernels since the last synchronize: "
                    + String.join(", ", launchedSinceSync) + (launchedSinceSync.size() == 8 ? ", ..." : "") + ")";
            launchedSinceSync.clear();
            check("cuStreamSynchronize" + after, () -> cuStreamSynchronize(stream));
            check("cuStreamSynchronize(copy stream)", () -> cuStreamSynchronize(copyStream));
        }
    }

    private void bind() {
        if (closed) throw new IllegalStateException("device has been closed");
        check("cuCtxSetCurrent", () -> cuCtxSetCurrent(context));
    }

    /**
     * {@code b} as a buffer of this context. Buffers of another instance on the same primary context are accepted
     * (a context's memory is valid on all its streams), which is what lets engines share packed weights.
     */
    private Buffer own(DeviceBuffer b, String call) {
        bind();
        if (!(b instanceof Buffer buf) || buf.isClosed() || !buf.owner().context.equals(context)) {
            throw new IllegalArgumentException(call + ": " + (b != null && b.isClosed() ? "buffer has been closed"
                    : "buffer belongs to another device"));
        }
        return buf;
    }

    /** Runs a driver call; a non-success result (or a CudaException, if someone enabled them) names the call. */
    static void check(String call, IntSupplier driverCall) {
        int rc;
        try {
            rc = driverCall.getAsInt();
        } catch (CudaException e) {
            throw new DeviceException(call + " failed: " + e.getMessage());
        }
        if (rc != CUresult.CUDA_SUCCESS) throw new DeviceException(call + " failed: " + CUresult.stringFor(rc));
    }

    private record Kernel(JCudaDevice device, String name, CUfunction function) implements DeviceKernel {}

    private final class Buffer implements DeviceBuffer {
        final CUdeviceptr pointer;
        final long bytes;
        private volatile boolean freed;

        Buffer(CUdeviceptr pointer, long bytes) {
            this.pointer = pointer;
            this.bytes = bytes;
        }

        @Override public long bytes() { return bytes; }

        @Override public boolean isClosed() { return freed; }

        JCudaDevice owner() { return JCudaDevice.this; }

        @Override
        public void close() {
            synchronized (JCudaDevice.this) {   // as HostDevice: waits for a call this device runs on another thread
                if (freed) return;
                freed = true;
                live.remove(this);
                check("cuCtxSetCurrent", () -> cuCtxSetCurrent(context));
                check("cuMemFree(" + bytes + " bytes)", () -> cuMemFree(pointer));
            }
        }
    }
}
