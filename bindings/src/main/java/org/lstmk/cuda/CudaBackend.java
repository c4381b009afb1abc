package org.lstmk.cuda;

import java.lang.foreign.MemorySegment;
import org.lstmk.api.Layout;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmGradients;
import org.lstmk.api.LstmWeights;
import org.lstmk.cuda.Kernels.Gemm;
import org.lstmk.cuda.Scratch.Slot;
import org.lstmk.spi.BackendWeights;
import org.lstmk.spi.BackendWorkspace;
import org.lstmk.spi.Calls;
import org.lstmk.spi.LstmBackend;

/**
 * The CUDA backend, written once against {@link Device}: on a GPU through {@link JCudaDevice} (backend
 * {@code cuda}), and in CI through {@link HostDevice} (backend {@code cuda-host}), which runs the same kernels on the
 * CPU, so every line here is tested without a GPU.
 *
 * <p>Sequence forward: one GEMM projects every timestep's input ({@code x·W_ihᵀ + b}, {@code [T·B, 4H]}), then one
 * fused kernel per step computes {@code h_{t-1}·W_hhᵀ} for all four gates of its hidden units and runs the cell in
 * registers. Backward: one fused kernel per step (the recurrent product {@code dA_{t+1}·W_hh} and the gate
 * gradients of step t), then {@code dh0}, {@code dx}, {@code dW_ih}, {@code dW_hh} as single GEMMs over all T·B rows
 * and the bias gradient as a deterministic column sum. Every call ends with a synchronize: when it returns, the
 * outputs are in the caller's segments.
 *
 * <p>Cell features: peepholes and the cell clip live in the step kernels' cell epilogue ({@link CellArgs} picks the
 * kernel variant and carries the peephole weights and clamped gate values); the peephole gradient is a deterministic
 * column sum of per-row products the backward steps write.
 */
final class CudaBackend implements LstmBackend {
    private final String name;
    private final SharedDevice shared;
    private final Device device;
    private final Kernels kernels;
    private final Scratch scratch;
    private boolean closed;

    /** Takes ownership of {@code device} (closed with the backend, or with the last weights/workspace it made). */
    CudaBackend(String name, Device device) {
        this.name = name;
        this.shared = new SharedDevice(device);
        this.device = device;
        try {
            this.kernels = new Kernels(device);
        } catch (RuntimeException e) {
            shared.release();
            throw e;
        }
        this.scratch = new Scratch(device);
    }

    @Override
    public String name() {
        return name;
    }

    /** The device this backend runs on (for benchmarks that time device work). */
    Device device() {
        return device;
    }

    @Override
    public BackendWeights pack(LstmConfig cfg, LstmWeights w) {
        open();
        int in = cfg.inputSize(), hid = cfg.hiddenSize();
        long gateRows = 4L * hid;
        shared.retain();
        DeviceBuffer wIh = null, wHh = null, bias = null, peep = null;
        try {
            wIh = device.allocate(gateRows * in * Float.BYTES);
            wHh = device.allocate(gateRows * hid * Float.BYTES);
            bias = device.allocate(gateRows * Float.BYTES);
            // PyTorch-layout copies go to a temporary buffer; the pack kernel writes them in packed gate order.
            try (DeviceBuffer raw = device.allocate(gateRows * Math.max(in, hid) * Float.BYTES);
                 DeviceBuffer raw2 = w.hasBias() ? device.allocate(gateRows * Float.BYTES) : null) {
                upload(w.wIh(), gateRows * in, raw);
                kernels.packGateRows(hid, in, raw, null, wIh);
                upload(w.wHh(), gateRows * hid, raw);
                kernels.packGateRows(hid, hid, raw, null, wHh);
                if (w.hasBias()) {
                    upload(w.bIh(), gateRows, raw);
                    upload(w.bHh(), gateRows, raw2);
                    kernels.packGateRows(hid, 1, raw, raw2, bias);
                } else {
                    device.fillZero(bias, 0, bias.bytes());
                }
                if (cfg.peepholes()) {
                    peep = device.allocate(3L * hid * Float.BYTES);
                    upload(w.peepholes(), 3L * hid, peep);
                }
                device.synchronize();
            }
            return new CudaWeights(shared, wIh, wHh, bias, peep, CellArgs.of(cfg, peep));
        } catch (RuntimeException e) {
            try {
                DeviceBuffer.closeAll(wIh, wHh, bias, peep);
            } finally {
                shared.release();
            }
            throw e;
        }
    }

    @Override
    public BackendWorkspace newWorkspace(LstmConfig cfg, int maxSteps, int maxBatch) {
        open();
        long rows = rows(maxSteps, maxBatch);
        long hid = cfg.hiddenSize();
        shared.retain();
        DeviceBuffer projected = null, gates = null, hPrev = null, cPrev = null;
        try {
            projected = device.allocate(Math.multiplyExact(rows, 4 * hid * Float.BYTES));
            gates = device.allocate(Math.multiplyExact(rows, 4 * hid * Float.BYTES));
            hPrev = device.allocate(Math.multiplyExact(rows, hid * Float.BYTES));
            cPrev = device.allocate(Math.multiplyExact(rows, hid * Float.BYTES));
            return new CudaWorkspace(shared, rows, projected, gates, hPrev, cPrev);
        } catch (RuntimeException e) {
            try {
                DeviceBuffer.closeAll(projected, gates, hPrev, cPrev);
            } finally {
                shared.release();
            }
            throw e;
        }
    }

    @Override
    public void forward(Calls.Forward f) {
        open();
        LstmConfig cfg = f.config();
        int steps = f.steps(), batch = f.batch(), in = cfg.inputSize(), hid = cfg.hiddenSize();
        long rows = rows(steps, batch);
        CudaWeights w = (CudaWeights) f.weights();
        CudaWorkspace ws = (CudaWorkspace) f.workspace();

        DeviceBuffer x = upload(Slot.X, f.x(), rows * in);
        DeviceBuffer h0 = f.h0() == null ? null : upload(Slot.H0, f.h0(), (long) batch * hid);
        DeviceBuffer c = uploadOrZero(Slot.C, f.c0(), (long) batch * hid);
        DeviceBuffer y = scratch.floats(Slot.Y, rows * hid);
        DeviceBuffer hLast = f.hT() == null ? null : scratch.floats(Slot.H_LAST, (long) batch * hid);
        forwardOnDevice(cfg, w, ws, steps, batch, x, h0, c, y, hLast);
        download(y, f.y(), rows * hid);
        download(hLast, f.hT(), (long) batch * hid);
        download(c, f.cT(), (long) batch * hid);
        device.synchronize();
    }

    /**
     * The device side of a sequence forward, on arguments already on the device: the input projection, then one
     * fused step per timestep. {@code c} holds c0 and receives cT; {@code y} receives every h_t; {@code hLast} (may be
     * null) receives hT; {@code ws} (null for inference) receives what backward needs. Asynchronous: does not
     * synchronize.
     */
    void forwardOnDevice(LstmConfig cfg, CudaWeights w, CudaWorkspace ws, int steps, int batch, DeviceBuffer x,
                         DeviceBuffer h0, DeviceBuffer c, DeviceBuffer y, DeviceBuffer hLast) {
        int in = cfg.inputSize(), hid = cfg.hiddenSize();
        long rows = rows(steps, batch), gateCols = 4L * hid;
        Sequence seq = new Sequence(cfg.layout(), steps, batch);
        DeviceBuffer projected = ws != null ? ws.projected : scratch.floats(Slot.PROJECTED, rows * gateCols);
        kernels.gemm(Gemm.NT, (int) rows, (int) gateCols, in, x.floatAt(0), in, w.wIh.floatAt(0), in,
                w.bias.floatAt(0), 0f, projected.floatAt(0), gateCols, 0);
        for (int t = 0; t < steps; t++) {
            Rows hPrev = t == 0 ? Rows.dense(h0, hid) : seq.step(y, t - 1, hid);
            kernels.forwardStep(w.cell, batch, hid, hid, hPrev, w.wHh, seq.step(projected, t, gateCols), c,
                    seq.step(y, t, hid),
                    t == steps - 1 ? hLast : null,
                    ws != null ? seq.step(ws.gates, t, gateCols) : Rows.NONE, false,
                    ws != null ? seq.step(ws.hPrev, t, hid) : Rows.NONE,
                    ws != null ? seq.step(ws.cPrev, t, hid) : Rows.NONE);
        }
    }

    @Override
    public void backward(Calls.Backward b) {
        open();
        LstmConfig cfg = b.config();
        int steps = b.steps(), batch = b.batch(), in = cfg.inputSize(), hid = cfg.hiddenSize();
        long rows = rows(steps, batch), gateCols = 4L * hid;
        CudaWeights w = (CudaWeights) b.weights();
        CudaWorkspace ws = (CudaWorkspace) b.workspace();
        Sequence seq = new Sequence(cfg.layout(), steps, batch);

        DeviceBuffer dy = upload(Slot.DY, b.dy(), rows * hid);
        DeviceBuffer dhLast = b.dhT() == null ? null : upload(Slot.DH_LAST, b.dhT(), (long) batch * hid);
        DeviceBuffer dc = uploadOrZero(Slot.DC, b.dcT(), (long) batch * hid);
        DeviceBuffer dA = ws.projected;   // the projection is not needed any more: it becomes the gate gradients
        DeviceBuffer peepRows = peepRows(cfg, b.gradients(), rows);
        for (int t = steps - 1; t >= 0; t--) {
            boolean last = t == steps - 1;
            kernels.backwardStep(w.cell, batch, hid, (int) gateCols, last ? Rows.NONE : seq.step(dA, t + 1, gateCols),
                    w.wHh, last ? dhLast : null, seq.step(dy, t, hid), seq.step(ws.gates, t, gateCols), false,
                    seq.step(ws.cPrev, t, hid), dc, seq.step(dA, t, gateCols), Rows.NONE,
                    peepRows == null ? Rows.NONE : seq.step(peepRows, t, 3L * hid));
        }
        if (b.dh0() != null) {
            DeviceBuffer dh0 = scratch.floats(Slot.DH0, (long) batch * hid);
            Rows first = seq.step(dA, 0, gateCols);
            kernels.gemm(Gemm.NN, batch, hid, (int) gateCols, first.first(), first.strideFloats(), w.wHh.floatAt(0),
                    hid, null, 0f, dh0.floatAt(0), hid, 0);
            download(dh0, b.dh0(), (long) batch * hid);
        }
        download(dc, b.dc0(), (long) batch * hid);
        inputGradient(rows, in, hid, dA, w, b.dx());
        if (b.gradients() != null) {
            DeviceBuffer x = upload(Slot.X, b.x(), rows * in);
            weightGradients(rows, in, hid, dA, x, ws.hPrev, b.gradients(), b.accumulate());
            peepholeGradient(rows, hid, peepRows, b.gradients(), b.accumulate());
        }
        device.synchronize();
    }

    @Override
    public void cellForward(Calls.CellForward f) {
        open();
        LstmConfig cfg = f.config();
        int batch = f.batch(), in = cfg.inputSize(), hid = cfg.hiddenSize();
        long gateCols = 4L * hid, bh = (long) batch * hid;
        CudaWeights w = (CudaWeights) f.weights();

        DeviceBuffer x = upload(Slot.X, f.x(), (long) batch * in);
        DeviceBuffer projected = scratch.floats(Slot.PROJECTED, batch * gateCols);
        kernels.gemm(Gemm.NT, batch, (int) gateCols, in, x.floatAt(0), in, w.wIh.floatAt(0), in, w.bias.floatAt(0),
                0f, projected.floatAt(0), gateCols, 0);
        DeviceBuffer h = f.h() == null ? null : upload(Slot.H0, f.h(), bh);
        DeviceBuffer c = uploadOrZero(Slot.C, f.c(), bh);
        DeviceBuffer hNext = scratch.floats(Slot.Y, bh);
        DeviceBuffer gates = f.gates() == null ? null : scratch.floats(Slot.GATES, batch * gateCols);
        kernels.forwardStep(w.cell, batch, hid, hid, Rows.dense(h, hid), w.wHh, Rows.dense(projected, gateCols), c,
                Rows.dense(hNext, hid), null, Rows.dense(gates, gateCols), true, Rows.NONE, Rows.NONE);
        download(hNext, f.hNext(), bh);
        download(c, f.cNext(), bh);
        download(gates, f.gates(), batch * gateCols);
        device.synchronize();
    }

    @Override
    public void cellBackward(Calls.CellBackward cb) {
        open();
        LstmConfig cfg = cb.config();
        int batch = cb.batch(), in = cfg.inputSize(), hid = cfg.hiddenSize();
        long gateCols = 4L * hid, bh = (long) batch * hid;
        CudaWeights w = (CudaWeights) cb.weights();

        DeviceBuffer gates = upload(Slot.GATES, cb.gates(), batch * gateCols);
        DeviceBuffer c = cb.c() == null ? null : upload(Slot.C, cb.c(), bh);
        DeviceBuffer dhNext = cb.dhNext() == null ? null : upload(Slot.DH_LAST, cb.dhNext(), bh);
        DeviceBuffer dc = uploadOrZero(Slot.DC, cb.dcNext(), bh);
        DeviceBuffer dA = scratch.floats(Slot.DA, batch * gateCols);
        DeviceBuffer peepRows = peepRows(cfg, cb.gradients(), batch);
        kernels.backwardStep(w.cell, batch, hid, (int) gateCols, Rows.NONE, w.wHh, dhNext, Rows.NONE,
                Rows.dense(gates, gateCols), true, Rows.dense(c, hid), dc, Rows.dense(dA, gateCols), Rows.NONE,
                Rows.dense(peepRows, 3L * hid));
        if (cb.dh() != null) {
            DeviceBuffer dh = scratch.floats(Slot.DH0, bh);
            kernels.gemm(Gemm.NN, batch, hid, (int) gateCols, dA.floatAt(0), gateCols, w.wHh.floatAt(0), hid, null,
                    0f, dh.floatAt(0), hid, 0);
            download(dh, cb.dh(), bh);
        }
        download(dc, cb.dc(), bh);
        inputGradient(batch, in, hid, dA, w, cb.dx());
        if (cb.gradients() != null) {
            DeviceBuffer x = upload(Slot.X, cb.x(), (long) batch * in);
            DeviceBuffer h = uploadOrZero(Slot.H0, cb.h(), bh);
            weightGradients(batch, in, hid, dA, x, h, cb.gradients(), cb.accumulate());
            peepholeGradient(batch, hid, peepRows, cb.gradients(), cb.accumulate());
        }
        device.synchronize();
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        try {
            scratch.close();
        } finally {
            shared.release();
        }
    }

    /** {@code dx = dA·W_ih} over {@code rows} rows, if wanted. */
    private void inputGradient(long rows, int in, int hid, DeviceBuffer dA, CudaWeights w, MemorySegment out) {
        if (out == null) return;
        DeviceBuffer dx = scratch.floats(Slot.DX, rows * in);
        kernels.gemm(Gemm.NN, (int) rows, in, 4 * hid, dA.floatAt(0), 4L * hid, w.wIh.floatAt(0), in, null, 0f,
                dx.floatAt(0), in, 0);
        download(dx, out, rows * in);
    }

    /**
     * {@code dW_ih = dAᵀ·x}, {@code dW_hh = dAᵀ·h_prev}, {@code db = Σ_rows dA} over {@code rows} rows, in PyTorch row
     * order; accumulated onto the caller's values when {@code accumulate}.
     */
    private void weightGradients(long rows, int in, int hid, DeviceBuffer dA, DeviceBuffer x, DeviceBuffer hPrev,
                                 LstmGradients g, boolean accumulate) {
        long gateRows = 4L * hid;
        float beta = accumulate ? 1f : 0f;
        DeviceBuffer dWih = accumulate ? upload(Slot.DW_IH, g.dWih(), gateRows * in)
                : scratch.floats(Slot.DW_IH, gateRows * in);
        kernels.gemm(Gemm.TN, (int) gateRows, in, (int) rows, dA.floatAt(0), gateRows, x.floatAt(0), in, null, beta,
                dWih.floatAt(0), in, hid);
        download(dWih, g.dWih(), gateRows * in);
        DeviceBuffer dWhh = accumulate ? upload(Slot.DW_HH, g.dWhh(), gateRows * hid)
                : scratch.floats(Slot.DW_HH, gateRows * hid);
        kernels.gemm(Gemm.TN, (int) gateRows, hid, (int) rows, dA.floatAt(0), gateRows, hPrev.floatAt(0), hid, null,
                beta, dWhh.floatAt(0), hid, hid);
        download(dWhh, g.dWhh(), gateRows * hid);
        if (g.dbIh() != null) {
            DeviceBuffer dbIh = accumulate ? upload(Slot.DB_IH, g.dbIh(), gateRows) : scratch.floats(Slot.DB_IH, gateRows);
            DeviceBuffer dbHh = accumulate ? upload(Slot.DB_HH, g.dbHh(), gateRows) : scratch.floats(Slot.DB_HH, gateRows);
            kernels.biasGradient((int) rows, hid, dA.floatAt(0), beta, dbIh, dbHh);
            download(dbIh, g.dbIh(), gateRows);
            download(dbHh, g.dbHh(), gateRows);
        }
    }

    /**
     * Where the backward steps put their peephole-gradient products ({@code [rows, 3H]}: {@code da_i·c_{t-1},
     * da_o·c_t, da_f·c_{t-1}} per row), or null when no peephole gradient is wanted.
     */
    private DeviceBuffer peepRows(LstmConfig cfg, LstmGradients g, long rows) {
        if (!cfg.peepholes() || g == null || g.dPeepholes() == null) return null;
        return scratch.floats(Slot.PEEP_ROWS, rows * 3L * cfg.hiddenSize());
    }

    /**
     * {@code dP = Σ_rows peepRows} ({@code [3H]}, order {@code P_i, P_o, P_f} as the weights), summed in a fixed
     * order (no atomics); accumulated onto the caller's values when {@code accumulate}. Nothing if not wanted.
     */
    private void peepholeGradient(long rows, int hid, DeviceBuffer peepRows, LstmGradients g, boolean accumulate) {
        if (peepRows == null) return;
        long n = 3L * hid;
        DeviceBuffer dP = accumulate ? upload(Slot.D_PEEP, g.dPeepholes(), n) : scratch.floats(Slot.D_PEEP, n);
        kernels.columnSum((int) rows, (int) n, peepRows.floatAt(0), n, accumulate ? 1f : 0f, dP, null, 0);
        download(dP, g.dPeepholes(), n);
    }

    /** Copies the first {@code floats} floats of {@code src} into the scratch buffer of {@code slot}. */
    private DeviceBuffer upload(Slot slot, MemorySegment src, long floats) {
        DeviceBuffer b = scratch.floats(slot, floats);
        upload(src, floats, b);
        return b;
    }

    /** As {@link #upload(Slot, MemorySegment, long)}, or zeros when {@code src} is null (an absent input). */
    private DeviceBuffer uploadOrZero(Slot slot, MemorySegment src, long floats) {
        if (src != null) return upload(slot, src, floats);
        DeviceBuffer b = scratch.floats(slot, floats);
        device.fillZero(b, 0, floats * Float.BYTES);
        return b;
    }

    private void upload(MemorySegment src, long floats, DeviceBuffer dst) {
        device.upload(src.asSlice(0, floats * Float.BYTES), dst, 0);
    }

    /** Copies {@code floats} floats from {@code src} into {@code dst} at the next synchronize; nothing if dst is null. */
    private void download(DeviceBuffer src, MemorySegment dst, long floats) {
        if (dst == null) return;
        device.download(src, 0, dst.asSlice(0, floats * Float.BYTES));
    }

    private void open() {
        if (closed) throw new IllegalStateException(name + " backend has been closed");
    }

    /** T·B sequence rows; the kernels index rows with 32-bit ints. */
    private static long rows(int steps, int batch) {
        long rows = (long) steps * batch;
        if (rows > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("steps × batch = " + rows + " exceeds the CUDA backend's limit of "
                    + Integer.MAX_VALUE + " sequence rows");
        }
        return rows;
    }

    /**
     * Where timestep t's rows of a {@code [T·B, width]} sequence buffer are, in the call's layout: time-major rows of
     * one step are consecutive, batch-major ones are T rows apart.
     */
    private record Sequence(Layout layout, int steps, int batch) {
        Rows step(DeviceBuffer buffer, int t, long width) {
            long first = layout.row(t, 0, steps, batch);
            long stride = layout == Layout.TIME_MAJOR ? 1 : steps;
            return new Rows(buffer.floatAt(first * width), stride * width);
        }
    }
}
