package org.lstmk.cuda;

import org.lstmk.spi.BackendWorkspace;

/**
 * What a training forward leaves on the device for backward, for up to {@code maxRows = maxSteps·maxBatch}
 * sequence rows, each buffer in the sequence's own row order (time- or batch-major):
 * {@code projected [rows, 4H]} (x·W_ihᵀ + b during forward, reused for the gate gradients dA during backward),
 * {@code gates [rows, 4H]} (activations, packed), {@code hPrev, cPrev [rows, H]} (the states each step started from).
 */
final class CudaWorkspace implements BackendWorkspace {
    final long maxRows;
    final DeviceBuffer projected;
    final DeviceBuffer gates;
    final DeviceBuffer hPrev;
    final DeviceBuffer cPrev;
    private final SharedDevice device;
    private boolean closed;

    CudaWorkspace(SharedDevice device, long maxRows, DeviceBuffer projected, DeviceBuffer gates, DeviceBuffer hPrev,
                  DeviceBuffer cPrev) {
        this.device = device;
        this.maxRows = maxRows;
        this.projected = projected;
        this.gates = gates;
        this.hPrev = hPrev;
        this.cPrev = cPrev;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        try {
            DeviceBuffer.closeAll(projected, gates, hPrev, cPrev);
        } finally {
            device.release();
        }
    }
}
