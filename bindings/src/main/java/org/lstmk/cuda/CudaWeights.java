package org.lstmk.cuda;

import org.lstmk.spi.BackendWeights;

/**
 * One layer's weights on the device in packed gate order (row 4j+g = PyTorch row g·H+j): {@code wIh [4H, I]},
 * {@code wHh [4H, H]}, and {@code bias [4H] = b_ih + b_hh} (zeros for a layer without bias).
 */
final class CudaWeights implements BackendWeights {
    final DeviceBuffer wIh;
    final DeviceBuffer wHh;
    final DeviceBuffer bias;
    private final SharedDevice device;
    private boolean closed;

    CudaWeights(SharedDevice device, DeviceBuffer wIh, DeviceBuffer wHh, DeviceBuffer bias) {
        this.device = device;
        this.wIh = wIh;
        this.wHh = wHh;
        this.bias = bias;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        try {
            DeviceBuffer.closeAll(wIh, wHh, bias);
        } finally {
            device.release();
        }
    }
}
