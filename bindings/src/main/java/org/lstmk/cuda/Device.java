package org.lstmk.cuda;

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
 */
public interface Device extends AutoCloseable {
    /** What this device is, for messages and {@code lstmk info}. */
    String description();

    /** Device memory of {@code bytes} bytes, contents undefined. Close it to free it. */
    DeviceBuffer allocate(long bytes);

    /** Copies all of {@code src} to {@code dst} at {@code dstOffset} bytes. */
    void upload(MemorySegment src, DeviceBuffer dst, long dstOffset);

    /** Copies {@code dst.byteSize()} bytes from {@code src} at {@code srcOffset} into {@code dst}, by {@link #synchronize()}. */
    void download(DeviceBuffer src, long srcOffset, MemorySegment dst);

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

    /** Waits for everything issued so far; completes downloads; reports execution errors. */
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
