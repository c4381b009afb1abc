package org.lstmk.cuda;

import java.lang.foreign.MemorySegment;
import org.lstmk.cuda.CudaBackend.Sequence;

/**
 * One call's sequence input and output copies, cut by {@link StepChunks} and pipelined with the kernels that run the
 * chunks (forward: chunk 0 first; backward: the last chunk first):
 * <ul>
 *   <li>the input of chunk k+1 goes up on the copy stream (the calling thread's staging copy included) while the
 *       kernels of chunk k run, and those of chunk k+1 wait for it ({@link #beforeKernels});</li>
 *   <li>the output of chunk k comes down on the copy stream once its kernels are done, beside chunk k+1's, and the
 *       calling thread completes it (copies it out of staging) while the device runs on ({@link #output}).</li>
 * </ul>
 * Unchunked ({@link StepChunks#overlapped()} false), the input goes up whole on the main stream and the output comes
 * down whole at the call's synchronize, as plain copies do. Results do not depend on any of this: only the order of
 * copies and kernels changes, and the marks keep every read after its write.
 */
final class CopyPipeline {
    private final Device device;
    private final StepChunks chunks;
    private final Sequence seq;
    private final boolean lastFirst;
    private final Device.Mark[] inputs;
    private MemorySegment src;
    private long srcWidth;
    private DeviceBuffer dst;
    private Device.Mark previousOutput;

    /** A pipeline over {@code chunks} of {@code seq}, taken first to last, or last to first ({@code lastFirst}). */
    CopyPipeline(Device device, StepChunks chunks, Sequence seq, boolean lastFirst) {
        this.device = device;
        this.chunks = chunks;
        this.seq = seq;
        this.lastFirst = lastFirst;
        this.inputs = new Device.Mark[chunks.count()];
    }

    /** The order chunks are taken in: the i-th chunk to run. */
    int chunk(int i) {
        return lastFirst ? chunks.count() - 1 - i : i;
    }

    /**
     * The input, {@code width} floats per row, into {@code into}: unchunked, all of it up now on the main stream;
     * chunked, the first chunk to run goes up now and each next one a chunk ahead of the kernels. Null: no input.
     */
    void input(MemorySegment from, long width, DeviceBuffer into) {
        if (from == null) return;
        long bytes = seq.rows() * width * Float.BYTES;
        if (!chunks.overlapped()) {
            device.upload(from.asSlice(0, bytes), into, 0);
            return;
        }
        src = from;
        srcWidth = width;
        dst = into;
        upload(chunk(0));
    }

    /** Before chunk k's kernels are issued: the next chunk's input goes up, and the main stream waits for chunk k's. */
    void beforeKernels(int k) {
        if (src == null) return;
        int next = lastFirst ? k - 1 : k + 1;
        if (next >= 0 && next < chunks.count()) upload(next);
        device.await(Device.Stream.MAIN, inputs[k]);
    }

    /** Before kernels that need the whole input (the persistent backward): every chunk goes up, the main stream waits. */
    void beforeKernelsOnAll() {
        if (src == null) return;
        for (int i = 0; i < chunks.count(); i++) if (inputs[chunk(i)] == null) upload(chunk(i));
        device.await(Device.Stream.MAIN, inputs[chunk(chunks.count() - 1)]);
    }

    /**
     * After chunk k's kernels are issued: chunk k's rows of {@code from} ({@code width} floats each) come down into
     * {@code to} on the copy stream once those kernels are done, and the previous chunk's output is completed on the
     * host (unchunked: everything, at the call's synchronize). Null {@code to}: no output.
     */
    void output(int k, DeviceBuffer from, long width, MemorySegment to) {
        if (to == null) return;
        if (!chunks.overlapped()) {
            device.download(from, 0, to.asSlice(0, seq.rows() * width * Float.BYTES));
            return;
        }
        long first = seq.firstRow(chunks.from(k)) * width * Float.BYTES;
        long bytes = seq.firstRow(chunks.to(k)) * width * Float.BYTES - first;
        device.await(Device.Stream.COPY, device.mark(Device.Stream.MAIN));
        device.download(Device.Stream.COPY, from, first, to.asSlice(first, bytes));
        Device.Mark done = device.mark(Device.Stream.COPY);
        if (previousOutput != null) device.complete(previousOutput);   // while the device runs chunk k
        previousOutput = done;
    }

    private void upload(int k) {
        long first = seq.firstRow(chunks.from(k)) * srcWidth * Float.BYTES;
        long bytes = seq.firstRow(chunks.to(k)) * srcWidth * Float.BYTES - first;
        device.upload(Device.Stream.COPY, src.asSlice(first, bytes), dst, first);
        inputs[k] = device.mark(Device.Stream.COPY);
    }
}
