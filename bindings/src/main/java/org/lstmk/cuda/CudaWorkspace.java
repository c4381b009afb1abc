package org.lstmk.cuda;

import java.lang.foreign.MemorySegment;
import java.lang.ref.WeakReference;
import org.lstmk.spi.BackendWorkspace;

/**
 * What a training forward leaves on the device for backward, for up to {@code maxRows = maxSteps·maxBatch}
 * sequence rows, each buffer in the sequence's own row order (time- or batch-major):
 * {@code projected [rows, 4H]} (x·W_ihᵀ + b during forward, reused for the gate gradients dA during backward),
 * {@code gates [rows, 4H]} (activations, packed), {@code hPrev, cPrev [rows, H]} (the states each step started from),
 * and {@code x [rows, I]}, the forward's input, which backward needs for {@code dW_ih}: kept here, it is not copied
 * to the device again when backward is given the same segment ({@link #holdsInput}).
 */
final class CudaWorkspace implements BackendWorkspace {
    final long maxRows;
    final DeviceBuffer projected;
    final DeviceBuffer gates;
    final DeviceBuffer hPrev;
    final DeviceBuffer cPrev;
    final DeviceBuffer x;
    private final SharedDevice device;
    private boolean closed;
    /** The segment the last training forward copied into {@link #x}: its heap array (weakly), address and size. */
    private WeakReference<Object> inputBase;
    private long inputAddress, inputBytes = -1;

    CudaWorkspace(SharedDevice device, long maxRows, DeviceBuffer projected, DeviceBuffer gates, DeviceBuffer hPrev,
                  DeviceBuffer cPrev, DeviceBuffer x) {
        this.device = device;
        this.maxRows = maxRows;
        this.projected = projected;
        this.gates = gates;
        this.hPrev = hPrev;
        this.cPrev = cPrev;
        this.x = x;
    }

    /** Records that {@link #x} holds no caller's input (a forward is under way, or failed). */
    void forgetInput() {
        inputBase = null;
        inputBytes = -1;
    }

    /** Records that {@link #x} now holds the contents of {@code input} (a training forward has copied it). */
    void holdInput(MemorySegment input) {
        inputBase = new WeakReference<>(input.heapBase().orElse(null));
        inputAddress = input.address();
        inputBytes = input.byteSize();
    }

    /**
     * Whether {@code input} is the segment the last training forward copied into {@link #x} (same memory and size).
     * Its contents are taken to be unchanged: {@link org.lstmk.spi.Calls.Backward} requires the forward's input.
     */
    boolean holdsInput(MemorySegment input) {
        if (inputBytes < 0 || input.byteSize() != inputBytes || input.address() != inputAddress) return false;
        Object base = input.heapBase().orElse(null), held = inputBase.get();
        return base == held;   // both null for native memory; a collected array is never held again
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        try {
            DeviceBuffer.closeAll(projected, gates, hPrev, cPrev, x);
        } finally {
            device.release();
        }
    }
}
