package org.lstmk.cuda;

import org.lstmk.spi.BackendWeights;

/**
 * One layer's weights on the device in packed gate order (row 4j+g = PyTorch row g·H+j): {@code wIh [4H, I]},
 * {@code wHh [4H, H_out]}, and {@code bias [4H] = b_ih + b_hh} (zeros for a layer without bias); with peepholes
 * {@code peep [3H]} ({@code P_i, P_o, P_f}, as given); with projection {@code wHr [P, H]} (as given); {@link #cell} the step kernels' cell arguments.
 */
final class CudaWeights implements BackendWeights {
    final DeviceBuffer wIh;
    final DeviceBuffer wHh;
    final DeviceBuffer bias;
    /** {@code [3H]} or null without peepholes. */
    final DeviceBuffer peep;
    /** {@code W_hr [P, H]} (PyTorch layout) or null without projection. */
    final DeviceBuffer wHr;
    final CellArgs cell;
    private final SharedDevice device;
    private boolean closed;

    CudaWeights(SharedDevice device, DeviceBuffer wIh, DeviceBuffer wHh, DeviceBuffer bias, DeviceBuffer peep,
                DeviceBuffer wHr, CellArgs cell) {
        this.device = device;
        this.wIh = wIh;
        this.wHh = wHh;
        this.bias = bias;
        this.peep = peep;
        this.wHr = wHr;
        this.cell = cell;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        try {
            DeviceBuffer.closeAll(wIh, wHh, bias, peep, wHr);
        } finally {
            device.release();
        }
    }
}
