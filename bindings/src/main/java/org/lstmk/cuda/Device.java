package org.lstmk.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The narrow view of "a CUDA device" the CUDA backend is written against, with two implementations: {@link
 * JCudaDevice} (a real GPU through JCuda) and {@link HostDevice} (the host build of the same kernels, on the CPU),
 * so that every line of the backend runs in CI without a GPU.
 *
 * <p>Semantics are those of one CUDA stream: operations run in the order they are issued, asynchronously.
 * {@link #upload} has read its source when it returns (the source may be reused at once); {@link #download} has
 * written its destination only when {@link #synchronize()} returns; {@link #launch} throws configuration errors
 * (unknown kernel, bad grid or arguments) itself and execution errors at the next {@link #synchronize()}. Every
 * error is a {@link DeviceException} naming the CUDA call. Not thread-safe: one caller at a time.
 *
 * <p>Copies may also go to a second stream, {@link Stream#COPY}, which runs beside the kernels: ordered with
 * {@link Stream#MAIN} only where one stream {@link #await awaits} a {@link #mark} of the other ({@code cuEventRecord},
 * {@code cuStreamWaitEvent}). That is how the backend overlaps a call's input and output copies with its kernels.
 * {@link #synchronize()} waits for both streams.
 */
public interface Device extends AutoCloseable {
    /** The device's two streams. */
    enum Stream {
        /** Kernels, fills and the copies issued without a stream. */
        MAIN,
        /** Copies that run beside the kernels, ordered with them only by {@link #await}. */
        COPY
    }

    /** A point in one stream's order ({@link #mark}), valid until the next {@link #synchronize()}. */
    interface Mark {
        /** The stream it was recorded on. */
        Stream stream();
    }

    /** What this device is, for messages and {@code lstmk info}. */
    String description();

    /** Device memory of {@code bytes} bytes, contents undefined. Close it to free it. */
    DeviceBuffer allocate(long bytes);

    /** Copies all of {@code src} to {@code dst} at {@code dstOffset} bytes, on {@link Stream#MAIN}. */
    default void upload(MemorySegment src, DeviceBuffer dst, long dstOffset) {
        upload(Stream.MAIN, src, dst, dstOffset);
    }

    /**
     * Copies all of {@code src} to {@code dst} at {@code dstOffset} bytes, on {@code stream}. A source in this
     * device's {@link #allocateHost pinned memory} is read when the copy runs (it must not change before the next
     * {@link #synchronize()}); any other source has been read when this returns.
     */
    void upload(Stream stream, MemorySegment src, DeviceBuffer dst, long dstOffset);

    /** Copies {@code dst.byteSize()} bytes from {@code src} at {@code srcOffset} into {@code dst}, by {@link #synchronize()}. */
    default void download(DeviceBuffer src, long srcOffset, MemorySegment dst) {
        download(Stream.MAIN, src, srcOffset, dst);
    }

    /** As {@link #download(DeviceBuffer, long, MemorySegment)}, on {@code stream}. */
    void download(Stream stream, DeviceBuffer src, long srcOffset, MemorySegment dst);

    /**
     * Adds {@code dst.byteSize() / 4} floats from {@code src} at {@code srcOffset} onto the floats of {@code dst}, by
     * {@link #synchronize()} (on {@link Stream#MAIN}): {@code dst[i] = dst[i] + src[i]}, rounded once, as a kernel's
     * {@code beta = 1} epilogue would, but without copying {@code dst} to the device first.
     */
    void downloadAdding(DeviceBuffer src, long srcOffset, MemorySegment dst);

    /** Records the point {@code stream} has reached ({@code cuEventRecord}). */
    Mark mark(Stream stream);

    /** Makes what is issued to {@code stream} from now on wait for {@code mark} ({@code cuStreamWaitEvent}). */
    void await(Stream stream, Mark mark);

    /**
     * Waits on the host until {@code mark}'s stream has reached it ({@code cuEventSynchronize}) and completes the
     * downloads issued to that stream before it: their destinations hold the data when this returns, while the device
     * goes on with what came after. Reports execution errors as {@link #synchronize()} does. The mark stays valid.
     */
    void complete(Mark mark);

    /**
     * Host memory that this device copies fastest, in the lifetime of {@code arena} (freed when it closes): pinned
     * ({@code cuMemAllocHost}) on a GPU, so copies to and from it skip the staging copy and run truly asynchronously.
     * 64-byte aligned, contents zero. The caller keeps the device open until {@code arena} closes.
     */
    MemorySegment allocateHost(long bytes, Arena arena);

    /** Sets {@code bytes} bytes of {@code dst} from {@code offset} to zero. */
    void fillZero(DeviceBuffer dst, long offset, long bytes);

    /** Looks a kernel up by name ({@code cuModuleGetFunction}). */
    DeviceKernel kernel(String name);

    /**
     * Enqueues a kernel launch ({@code cuLaunchKernel}) with {@code sharedBytes} of dynamic shared memory (our kernels
     * use static shared memory only and pass 0; the host build rejects anything else).
     */
    void launch(DeviceKernel kernel, Dim3 grid, Dim3 block, int sharedBytes, KernelArgs args);

    /**
     * Enqueues a cooperative launch ({@code cuLaunchCooperativeKernel}): every block resident at once, so that the
     * kernel's grid syncs are barriers. The grid may have at most {@link #maxCooperativeBlocks} blocks.
     */
    void launchCooperative(DeviceKernel kernel, Dim3 grid, Dim3 block, int sharedBytes, KernelArgs args);

    /**
     * How many blocks of {@code kernel} with {@code blockThreads} threads can be resident at once (the limit of a
     * cooperative launch); 0 when the device cannot launch cooperatively.
     */
    int maxCooperativeBlocks(DeviceKernel kernel, int blockThreads);

    /**
     * Enqueues the launches of {@code chain} in order, as {@link #launch} would one by one (the same errors), but as
     * one unit: a GPU replays a CUDA graph it made for an equal chain before ({@link LaunchChain}).
     */
    void run(LaunchChain chain);

    /** Waits for everything issued so far on both streams; completes downloads; reports execution errors. */
    void synchronize();

    /** Buffers allocated by this device and not yet closed. */
    long liveAllocations();

    /** Frees what the device itself holds (stream, module, context reference). Buffers must be closed first. */
    @Override
    void close();

    /** Checks that {@code [offset, offset + bytes)} lies inside {@code buffer}. */
    static void checkRange(DeviceBuffer buffer, long offset, long bytes, String call) {
        if (offset < 0 || bytes < 0 || offset > buffer.bytes() - bytes) {
            throw new IllegalArgumentException(call + ": bytes [" + offset + ", " + (offset + bytes)
                    + ") are outside a device buffer of " + buffer.bytes() + " bytes");
        }
    }
}
