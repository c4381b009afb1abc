package org.lstmk.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;
import org.lstmk.api.Layout;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmGradients;
import org.lstmk.api.LstmWeights;
import org.lstmk.api.MatmulPrecision;
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
 * and the bias gradient as a deterministic column sum. The forward's launches and the backward's step launches are
 * each recorded as one {@link LaunchChain} and run by {@link Device#run} (a CUDA graph on a GPU, replayed by repeated
 * calls). Every call ends with a synchronize: when it returns, the outputs are in the caller's segments.
 *
 * <p>Cell features: peepholes and the cell clip live in the step kernels' cell epilogue ({@link CellArgs} picks the
 * kernel variant and carries the peephole weights and clamped gate values); the peephole gradient is a deterministic
 * column sum of per-row products the backward steps write. Projection (LSTMP) is its own phase per step: forward,
 * the step writes {@code m_t = o·tanh(c_t)} and a GEMM writes {@code h_t = m_t·W_hrᵀ} into y (the recurrent product's
 * K becomes P); backward, {@code lstmk_lstm_backward_dh} computes {@code dh_t = dA_{t+1}·W_hh + dy_t} (P wide), and
 * the backward step's product becomes {@code dm_t = dh_t·W_hr} before the same cell epilogue, which also recomputes
 * {@code m_t} for {@code dW_hr = Σ dh_tᵀ·m_t} (one GEMM over all rows after the loop).
 *
 * <p>Packed sequences ({@link #packedSequences()}, PyTorch's PackedSequence): the same launches, with step t's kernels
 * over its {@code B_t} live rows (a prefix of step t−1's, so {@code h_{t-1}} is read where step t−1 wrote it) and the
 * whole-sequence GEMMs and column sums over the {@code Σ B_t} packed rows: no work in the padding, one call per
 * layer-direction. The recurrent state ({@code c}, {@code dc}, {@code hT}) lives in dense {@code [B, ·]} buffers that
 * only live rows touch, so each sequence leaves its own final state there; backward, the rows at their own last step
 * take {@code dh_T} instead of a recurrent product ({@link Sequence}, the step kernels' {@code dInRows}).
 *
 * <p>Threads: every call holds the device's monitor from its first operation to its final synchronize. Packed
 * weights are shared by every instance on the same kind of device (the engine above keeps them open while a call
 * reads them), so another thread may free a buffer this device allocated while this instance runs a call for
 * someone else; freeing takes the same monitor, so it waits for that call, as {@code cuMemFree} waits for the
 * device.
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

    /**
     * Pinned memory of this backend's device ({@link Device#allocateHost}), which keeps the device open until
     * {@code arena} frees it.
     */
    @Override
    @SuppressWarnings("restricted")   // the device's own allocation of exactly this size, tied to the caller's arena
    public MemorySegment allocateHost(long bytes, Arena arena) {
        Objects.requireNonNull(arena, "arena");
        synchronized (device) {
            open();
            shared.retain();
            Arena own = Arena.ofShared();   // closing it frees the pinned memory
            try {
                MemorySegment pinned = device.allocateHost(bytes, own);
                return pinned.reinterpret(bytes, arena, ignored -> {
                    try {
                        own.close();
                    } finally {
                        shared.release();
                    }
                });
            } catch (RuntimeException e) {
                try {
                    own.close();
                } finally {
                    shared.release();
                }
                throw e;
            }
        }
    }

    @Override
    public BackendWeights pack(LstmConfig cfg, LstmWeights w) {
        synchronized (device) {   // see the class comment: buffers may be freed from other threads
            open();
            int in = cfg.inputSize(), hid = cfg.hiddenSize(), out = cfg.outputSize();
            long gateRows = 4L * hid;
            shared.retain();
            DeviceBuffer wIh = null, wHh = null, bias = null, peep = null, wHr = null;
            try {
                wIh = device.allocate(gateRows * in * Float.BYTES);
                wHh = device.allocate(gateRows * out * Float.BYTES);
                bias = device.allocate(gateRows * Float.BYTES);
                // PyTorch-layout copies go to a temporary buffer; the pack kernel writes them in packed gate order.
                try (DeviceBuffer raw = device.allocate(gateRows * Math.max(in, out) * Float.BYTES);
                     DeviceBuffer raw2 = w.hasBias() ? device.allocate(gateRows * Float.BYTES) : null) {
                    upload(w.wIh(), gateRows * in, raw);
                    kernels.packGateRows(hid, in, raw, null, wIh);
                    upload(w.wHh(), gateRows * out, raw);
                    kernels.packGateRows(hid, out, raw, null, wHh);
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
                    if (cfg.hasProjection()) {   // W_hr [P, H] stays in PyTorch layout: it has no gate rows
                        wHr = device.allocate((long) out * hid * Float.BYTES);
                        upload(w.wHr(), (long) out * hid, wHr);
                    }
                    device.synchronize();
                }
                return new CudaWeights(shared, wIh, wHh, bias, peep, wHr, CellArgs.of(cfg, peep));
            } catch (RuntimeException e) {
                try {
                    DeviceBuffer.closeAll(wIh, wHh, bias, peep, wHr);
                } finally {
                    shared.release();
                }
                throw e;
            }
        }
    }

    @Override
    public BackendWorkspace newWorkspace(LstmConfig cfg, int maxSteps, int maxBatch) {
        synchronized (device) {   // see the class comment: buffers may be freed from other threads
            open();
            long rows = rows(maxSteps, maxBatch);
            long hid = cfg.hiddenSize(), out = cfg.outputSize();
            shared.retain();
            DeviceBuffer projected = null, gates = null, hPrev = null, cPrev = null, x = null;
            try {
                projected = device.allocate(Math.multiplyExact(rows, 4 * hid * Float.BYTES));
                gates = device.allocate(Math.multiplyExact(rows, 4 * hid * Float.BYTES));
                hPrev = device.allocate(Math.multiplyExact(rows, out * Float.BYTES));
                cPrev = device.allocate(Math.multiplyExact(rows, hid * Float.BYTES));
                x = device.allocate(Math.multiplyExact(rows, (long) cfg.inputSize() * Float.BYTES));
                return new CudaWorkspace(shared, rows, projected, gates, hPrev, cPrev, x);
            } catch (RuntimeException e) {
                try {
                    DeviceBuffer.closeAll(projected, gates, hPrev, cPrev, x);
                } finally {
                    shared.release();
                }
                throw e;
            }
        }
    }

    /**
     * Packed sequences run natively: step t launches its kernels for its {@code batchSizes[t]} live rows only, and the
     * whole-sequence GEMMs cover the {@code Σ batchSizes} packed rows; one call per layer-direction.
     */
    @Override
    public boolean packedSequences() {
        return true;
    }

    @Override
    public void forward(Calls.Forward f) {
        synchronized (device) {   // see the class comment: buffers may be freed from other threads
            open();
            LstmConfig cfg = f.config();
            int steps = f.steps(), batch = f.batch(), in = cfg.inputSize(), hid = cfg.hiddenSize(), out = cfg.outputSize();
            Sequence seq = Sequence.of(cfg.layout(), steps, batch, f.sequences());
            long rows = seq.rows();
            CudaWeights w = (CudaWeights) f.weights();
            CudaWorkspace ws = (CudaWorkspace) f.workspace();

            StepChunks chunks = StepChunks.of(steps, seq.contiguousSteps(), rows * (in + out) * Float.BYTES);
            // A training forward keeps x in the workspace: its backward needs it again (Calls.Backward.x).
            DeviceBuffer x = ws != null ? ws.x : scratch.floats(Slot.X, rows * in);
            if (ws != null) ws.forgetInput();   // until this forward has succeeded
            CopyPipeline copies = new CopyPipeline(device, chunks, seq, false);
            copies.input(f.x(), in, x);
            DeviceBuffer h0 = f.h0() == null ? null : upload(Slot.H0, f.h0(), (long) batch * out);
            DeviceBuffer c = uploadOrZero(Slot.C, f.c0(), (long) batch * hid);
            DeviceBuffer y = scratch.floats(Slot.Y, rows * out);
            DeviceBuffer hLast = f.hT() == null ? null : scratch.floats(Slot.H_LAST, (long) batch * out);
            boolean persistent = persistent(cfg, w, seq);
            for (int k = 0; k < chunks.count(); k++) {
                int from = chunks.from(k), to = chunks.to(k);
                copies.beforeKernels(k);
                if (persistent) {
                    forwardPersistent(cfg, w, ws, seq, x, h0, c, y, hLast, from, to);
                } else {
                    // the projection and the steps as one chain of launches: one CUDA graph launch on a GPU
                    device.run(kernels.record(() -> forwardOnDevice(cfg, w, ws, seq, x, h0, c, y, hLast, from, to)));
                }
                copies.output(k, y, out, f.y());
            }
            download(hLast, f.hT(), (long) batch * out);
            download(c, f.cT(), (long) batch * hid);
            device.synchronize();
            if (ws != null) ws.holdInput(f.x());
        }
    }

    /** {@link #forwardOnDevice(LstmConfig, CudaWeights, CudaWorkspace, Sequence, DeviceBuffer, DeviceBuffer,
     *  DeviceBuffer, DeviceBuffer, DeviceBuffer)} of a uniform batch. */
    void forwardOnDevice(LstmConfig cfg, CudaWeights w, CudaWorkspace ws, int steps, int batch, DeviceBuffer x,
                         DeviceBuffer h0, DeviceBuffer c, DeviceBuffer y, DeviceBuffer hLast) {
        forwardOnDevice(cfg, w, ws, Sequence.uniform(cfg.layout(), steps, batch), x, h0, c, y, hLast, 0, steps);
    }

    /**
     * The device side of a sequence forward, on arguments already on the device: the input projection, then one
     * fused step per timestep (with projection, each followed by its {@code h_t = m_t·W_hrᵀ} GEMM). {@code c} holds
     * c0 and receives cT; {@code y} receives every h_t; {@code hLast} (may be null) receives hT; {@code ws} (null for
     * inference) receives what backward needs. Asynchronous: does not synchronize.
     *
     * <p>Packed ({@code seq}): step t runs its {@code B_t} live rows, which read {@code h_{t-1}} from the first
     * {@code B_t} rows of step t−1 (sorted by decreasing length, a sequence keeps its row). {@code c} is updated in
     * place for those rows, so a finished sequence keeps its last c (cT). The rows {@code [B_{t+1}, B_t)} end at step
     * t: the step writes every live row's h into {@code hLast} (the last write of a row is its own last step), and
     * with projection their {@code m_t} rows are projected into {@code hLast}. A uniform batch is the case
     * {@code B_t = B}, where only the last step ends rows.
     *
     * <p>Steps {@code [from, to)} only (a chunk of {@link StepChunks}; {@code 0, T} for all): the input projection of
     * their rows, then their steps, the first reading {@code h_{from-1}} from {@code y}.
     */
    void forwardOnDevice(LstmConfig cfg, CudaWeights w, CudaWorkspace ws, Sequence seq, DeviceBuffer x,
                         DeviceBuffer h0, DeviceBuffer c, DeviceBuffer y, DeviceBuffer hLast, int from, int to) {
        int hid = cfg.hiddenSize(), out = cfg.outputSize();
        boolean projection = cfg.hasProjection();
        long gateCols = 4L * hid;
        DeviceBuffer projected = projectInput(cfg, w, ws, seq, x, from, to);
        // With projection the step writes m_t = o·tanh(c_t) here, and the projection GEMM turns it into h_t.
        DeviceBuffer m = projection ? scratch.floats(Slot.M, (long) seq.batch() * hid) : null;
        for (int t = from; t < to; t++) {
            int live = seq.batch(t), goOn = seq.next(t);   // rows [goOn, live) have their last step here
            boolean rowsEnd = goOn < live;
            Rows hPrev = t == 0 ? Rows.dense(h0, out) : seq.step(y, t - 1, out);
            Rows yt = seq.step(y, t, out);
            kernels.forwardStep(w.cell, live, hid, out, hPrev, w.wHh, seq.step(projected, t, gateCols), c,
                    projection ? Rows.dense(m, hid) : yt, !projection && rowsEnd ? hLast : null,
                    ws != null ? seq.step(ws.gates, t, gateCols) : Rows.NONE, false,
                    ws != null ? seq.step(ws.hPrev, t, out) : Rows.NONE,
                    ws != null ? seq.step(ws.cPrev, t, hid) : Rows.NONE);
            if (projection) {
                project(live, hid, out, m.floatAt(0), w, yt);
                if (rowsEnd && hLast != null) {
                    project(live - goOn, hid, out, m.floatAt((long) goOn * hid), w,
                            new Rows(hLast.floatAt((long) goOn * out), out));
                }
            }
        }
    }

    /**
     * {@code x·W_ihᵀ + b} for the rows of steps {@code [from, to)} (all rows when that is every step), into the
     * workspace's buffer (training) or scratch. Each row's result does not depend on which rows share the GEMM.
     */
    private DeviceBuffer projectInput(LstmConfig cfg, CudaWeights w, CudaWorkspace ws, Sequence seq, DeviceBuffer x,
                                      int from, int to) {
        int in = cfg.inputSize();
        long gateCols = 4L * cfg.hiddenSize(), first = seq.firstRow(from), rows = seq.firstRow(to) - first;
        DeviceBuffer projected = ws != null ? ws.projected : scratch.floats(Slot.PROJECTED, seq.rows() * gateCols);
        kernels.gemm(Gemm.NT, cfg.matmulPrecision(), (int) rows, (int) gateCols, in, x.floatAt(first * in), in,
                w.wIh.floatAt(0), in, w.bias.floatAt(0), 0f, projected.floatAt(first * gateCols), gateCols, 0);
        return projected;
    }

    /**
     * System property: {@code false} keeps every forward and backward on the step launches (read per call; default
     * true). See {@link #persistent}.
     */
    static final String PERSISTENT_PROPERTY = "lstmk.cuda.persistent";

    /**
     * Whether this forward runs its time loop as one persistent cooperative kernel ({@link #forwardPersistent}): a
     * uniform batch of at most one batch tile (B ≤ 16, where a step's work is smallest against a launch), more than one
     * step, no projection (its GEMM sits between the steps), and a grid the device can hold at once.
     */
    boolean persistent(LstmConfig cfg, CudaWeights w, Sequence seq) {
        return persistentShape(cfg, seq) && kernels.forwardSequenceFits(w.cell, cfg.hiddenSize(), seq.batch());
    }

    /** {@link #persistent}'s conditions for the backward time loop ({@code lstmk_lstm_backward_sequence*}). */
    private boolean persistentBackward(LstmConfig cfg, CudaWeights w, Sequence seq) {
        return persistentShape(cfg, seq) && kernels.backwardSequenceFits(w.cell, cfg.hiddenSize(), seq.batch());
    }

    /** What both persistent kernels need of a call, besides a grid that fits. */
    private boolean persistentShape(LstmConfig cfg, Sequence seq) {
        return CudaPaths.on(PERSISTENT_PROPERTY) && seq.uniform() && seq.steps() > 1
                && seq.batch() <= kernels.forwardBatchTile() && !cfg.hasProjection();
    }

    /**
     * The device side of a uniform forward as two launches: the input projection, then every step in one persistent
     * cooperative kernel (a grid sync between steps instead of a launch), bit for bit what
     * {@link #forwardOnDevice} computes.
     */
    void forwardPersistent(LstmConfig cfg, CudaWeights w, CudaWorkspace ws, Sequence seq, DeviceBuffer x,
                           DeviceBuffer h0, DeviceBuffer c, DeviceBuffer y, DeviceBuffer hLast) {
        forwardPersistent(cfg, w, ws, seq, x, h0, c, y, hLast, 0, seq.steps());
    }

    /** {@link #forwardPersistent} of steps {@code [from, to)} only, as {@link #forwardOnDevice} cuts them. */
    private void forwardPersistent(LstmConfig cfg, CudaWeights w, CudaWorkspace ws, Sequence seq, DeviceBuffer x,
                                   DeviceBuffer h0, DeviceBuffer c, DeviceBuffer y, DeviceBuffer hLast, int from,
                                   int to) {
        int hid = cfg.hiddenSize(), out = cfg.outputSize();
        long gateCols = 4L * hid;
        DeviceBuffer projected = projectInput(cfg, w, ws, seq, x, from, to);
        kernels.forwardSequence(w.cell, to - from, seq.batch(), hid, out,
                from == 0 ? Rows.dense(h0, out) : seq.step(y, from - 1, out), w.wHh,
                seq.step(projected, from, gateCols), seq.stepFloats(gateCols), c, seq.step(y, from, out),
                seq.stepFloats(out), to == seq.steps() ? hLast : null,
                ws != null ? seq.step(ws.gates, from, gateCols) : Rows.NONE, seq.stepFloats(gateCols),
                ws != null ? seq.step(ws.hPrev, from, out) : Rows.NONE, seq.stepFloats(out),
                ws != null ? seq.step(ws.cPrev, from, hid) : Rows.NONE, seq.stepFloats(hid));
    }

    /** The launches {@code launches} makes through this backend's kernels, recorded as one chain (for GpuTiming). */
    LaunchChain record(Runnable launches) {
        return kernels.record(launches);
    }

    /** {@code h = m·W_hrᵀ}: {@code [rows, H] × [H, P]} from the dense rows at {@code m} into the rows {@code h}. */
    private void project(int rows, int hid, int out, DevicePointer m, CudaWeights w, Rows h) {
        kernels.gemm(Gemm.NT, rows, out, hid, m, hid, w.wHr.floatAt(0), hid, null, 0f, h.first(), h.strideFloats(), 0);
    }

    @Override
    public void backward(Calls.Backward b) {
        synchronized (device) {   // see the class comment: buffers may be freed from other threads
            open();
            LstmConfig cfg = b.config();
            int steps = b.steps(), batch = b.batch(), in = cfg.inputSize(), hid = cfg.hiddenSize(), out = cfg.outputSize();
            boolean projection = cfg.hasProjection();
            Sequence seq = Sequence.of(cfg.layout(), steps, batch, b.sequences());
            long rows = seq.rows(), gateCols = 4L * hid;
            CudaWeights w = (CudaWeights) b.weights();
            CudaWorkspace ws = (CudaWorkspace) b.workspace();
            LstmGradients g = b.gradients();

            // dy goes up and dx comes down in chunks of steps, last chunk first, beside the kernels (StepChunks)
            StepChunks chunks = StepChunks.of(steps, seq.contiguousSteps(),
                    rows * ((b.dy() != null ? out : 0) + (b.dx() != null ? in : 0)) * Float.BYTES);
            DeviceBuffer dy = b.dy() == null ? null : scratch.floats(Slot.DY, rows * out);
            CopyPipeline copies = new CopyPipeline(device, chunks, seq, true);
            copies.input(b.dy(), out, dy);
            DeviceBuffer dhLast = b.dhT() == null ? null : upload(Slot.DH_LAST, b.dhT(), (long) batch * out);
            DeviceBuffer dc = uploadOrZero(Slot.DC, b.dcT(), (long) batch * hid);
            DeviceBuffer dA = ws.projected;   // the projection is not needed any more: it becomes the gate gradients
            DeviceBuffer dx = b.dx() == null ? null : scratch.floats(Slot.DX, rows * in);
            DeviceBuffer peepRows = peepRows(cfg, g, rows);
            // Projection: every step's dh_t [rows, P] (the cell's input through W_hr, and dW_hr's left factor) and, if
            // dW_hr is wanted, every m_t [rows, H] (its right factor, recomputed by the cell epilogue).
            DeviceBuffer dhRows = projection ? scratch.floats(Slot.DH_ROWS, rows * out) : null;
            DeviceBuffer mRows = wantsProjectionGradient(cfg, g) ? scratch.floats(Slot.M_ROWS, rows * hid) : null;
            // Step t runs its B_t live rows. Rows [0, B_{t+1}) receive dh from step t+1 (dA_{t+1}·W_hh); the rows
            // [B_{t+1}, B_t) are at their own last step and receive dh_T instead (the kernels' row bound), and their dc
            // (still dc_T: no later step touched it) from the dense dc. Uniform: B_{t+1} = B except at the last step.
            if (persistentBackward(cfg, w, seq)) {
                copies.beforeKernelsOnAll();
                kernels.backwardSequence(w.cell, steps, batch, hid, w.wHh, dhLast,
                        dy == null ? Rows.NONE : seq.step(dy, 0, out), seq.stepFloats(out),
                        seq.step(ws.gates, 0, gateCols), seq.stepFloats(gateCols), seq.step(ws.cPrev, 0, hid),
                        seq.stepFloats(hid), dc, seq.step(dA, 0, gateCols), seq.stepFloats(gateCols),
                        peepRows == null ? Rows.NONE : seq.step(peepRows, 0, 3L * hid), seq.stepFloats(3L * hid));
                for (int i = 0; i < chunks.count(); i++) {
                    inputGradient(cfg, chunks, copies.chunk(i), seq, dA, w, dx, b.dx(), copies);
                }
            } else {
                for (int i = 0; i < chunks.count(); i++) {
                    int k = copies.chunk(i), from = chunks.from(k), to = chunks.to(k);
                    copies.beforeKernels(k);
                    device.run(kernels.record(() -> backwardSteps(cfg, seq, w, ws, dy, dhLast, dc, dA, peepRows,
                            dhRows, mRows, from, to)));
                    inputGradient(cfg, chunks, k, seq, dA, w, dx, b.dx(), copies);   // its dA rows are final
                }
            }
            if (b.dh0() != null) {
                DeviceBuffer dh0 = scratch.floats(Slot.DH0, (long) batch * out);
                Rows first = seq.step(dA, 0, gateCols);
                kernels.gemm(Gemm.NN, batch, out, (int) gateCols, first.first(), first.strideFloats(), w.wHh.floatAt(0),
                        out, null, 0f, dh0.floatAt(0), out, 0);
                download(dh0, b.dh0(), (long) batch * out);
            }
            download(dc, b.dc0(), (long) batch * hid);
            if (g != null) {
                // the forward's x is still on the device unless backward was given another segment
                DeviceBuffer x = ws.holdsInput(b.x()) ? ws.x : upload(Slot.X, b.x(), rows * in);
                weightGradients(cfg.matmulPrecision(), rows, in, hid, out, dA, x, ws.hPrev, g, b.accumulate());
                peepholeGradient(rows, hid, peepRows, g, b.accumulate());
                projectionGradient(cfg.matmulPrecision(), rows, hid, out, dhRows, mRows, g, b.accumulate());
            }
            device.synchronize();
        }
    }

    /**
     * The backward time loop, from the last step to the first: per step the fused backward step (with projection,
     * {@code backward_dh} first), for steps {@code [from, to)} (a chunk of {@link StepChunks}). Only launches:
     * {@link #backward} records them as one chain.
     */
    private void backwardSteps(LstmConfig cfg, Sequence seq, CudaWeights w, CudaWorkspace ws, DeviceBuffer dy,
                               DeviceBuffer dhLast, DeviceBuffer dc, DeviceBuffer dA, DeviceBuffer peepRows,
                               DeviceBuffer dhRows, DeviceBuffer mRows, int from, int to) {
        int hid = cfg.hiddenSize(), out = cfg.outputSize();
        boolean projection = cfg.hasProjection();
        long gateCols = 4L * hid;
        for (int t = to - 1; t >= from; t--) {
            int live = seq.batch(t), goOn = seq.next(t);
            Rows dANext = goOn == 0 ? Rows.NONE : seq.step(dA, t + 1, gateCols);
            Rows dyT = dy == null ? Rows.NONE : seq.step(dy, t, out);
            Rows peepT = peepRows == null ? Rows.NONE : seq.step(peepRows, t, 3L * hid);
            if (projection) {
                Rows dh = seq.step(dhRows, t, out);
                kernels.backwardDh(live, out, hid, dANext, goOn, w.wHh, dhLast, dyT, dh);
                kernels.backwardStep(w.cell, live, hid, out, dh, live, w.wHr, null, Rows.NONE,
                        seq.step(ws.gates, t, gateCols), false, seq.step(ws.cPrev, t, hid), dc, seq.step(dA, t, gateCols),
                        mRows == null ? Rows.NONE : seq.step(mRows, t, hid), peepT);
            } else {
                kernels.backwardStep(w.cell, live, hid, (int) gateCols, dANext, goOn, w.wHh, dhLast, dyT,
                        seq.step(ws.gates, t, gateCols), false, seq.step(ws.cPrev, t, hid), dc, seq.step(dA, t, gateCols),
                        Rows.NONE, peepT);
            }
        }
    }

    @Override
    public void cellForward(Calls.CellForward f) {
        synchronized (device) {   // see the class comment: buffers may be freed from other threads
            open();
            LstmConfig cfg = f.config();
            int batch = f.batch(), in = cfg.inputSize(), hid = cfg.hiddenSize(), out = cfg.outputSize();
            boolean projection = cfg.hasProjection();
            long gateCols = 4L * hid, bh = (long) batch * hid, bo = (long) batch * out;
            CudaWeights w = (CudaWeights) f.weights();

            DeviceBuffer x = upload(Slot.X, f.x(), (long) batch * in);
            DeviceBuffer projected = scratch.floats(Slot.PROJECTED, batch * gateCols);
            kernels.gemm(Gemm.NT, cfg.matmulPrecision(), batch, (int) gateCols, in, x.floatAt(0), in, w.wIh.floatAt(0), in, w.bias.floatAt(0),
                    0f, projected.floatAt(0), gateCols, 0);
            DeviceBuffer h = f.h() == null ? null : upload(Slot.H0, f.h(), bo);
            DeviceBuffer c = uploadOrZero(Slot.C, f.c(), bh);
            DeviceBuffer hNext = scratch.floats(Slot.Y, bo);
            DeviceBuffer m = projection ? scratch.floats(Slot.M, bh) : hNext;
            DeviceBuffer gates = f.gates() == null ? null : scratch.floats(Slot.GATES, batch * gateCols);
            kernels.forwardStep(w.cell, batch, hid, out, Rows.dense(h, out), w.wHh, Rows.dense(projected, gateCols), c,
                    Rows.dense(m, hid), null, Rows.dense(gates, gateCols), true, Rows.NONE, Rows.NONE);
            if (projection) project(batch, hid, out, m.floatAt(0), w, Rows.dense(hNext, out));
            download(hNext, f.hNext(), bo);
            download(c, f.cNext(), bh);
            download(gates, f.gates(), batch * gateCols);
            device.synchronize();
        }
    }

    @Override
    public void cellBackward(Calls.CellBackward cb) {
        synchronized (device) {   // see the class comment: buffers may be freed from other threads
            open();
            LstmConfig cfg = cb.config();
            int batch = cb.batch(), in = cfg.inputSize(), hid = cfg.hiddenSize(), out = cfg.outputSize();
            long gateCols = 4L * hid, bh = (long) batch * hid, bo = (long) batch * out;
            CudaWeights w = (CudaWeights) cb.weights();
            LstmGradients g = cb.gradients();

            DeviceBuffer gates = upload(Slot.GATES, cb.gates(), batch * gateCols);
            DeviceBuffer c = cb.c() == null ? null : upload(Slot.C, cb.c(), bh);
            DeviceBuffer dhNext = cb.dhNext() == null ? null : upload(Slot.DH_LAST, cb.dhNext(), bo);
            DeviceBuffer dc = uploadOrZero(Slot.DC, cb.dcNext(), bh);
            DeviceBuffer dA = scratch.floats(Slot.DA, batch * gateCols);
            DeviceBuffer peepRows = peepRows(cfg, g, batch);
            DeviceBuffer mRows = wantsProjectionGradient(cfg, g) ? scratch.floats(Slot.M_ROWS, bh) : null;
            if (cfg.hasProjection()) {   // dm = dhNext·W_hr in the step's product, then the cell epilogue
                kernels.backwardStep(w.cell, batch, hid, out, Rows.dense(dhNext, out), batch, w.wHr, null, Rows.NONE,
                        Rows.dense(gates, gateCols), true, Rows.dense(c, hid), dc, Rows.dense(dA, gateCols),
                        Rows.dense(mRows, hid), Rows.dense(peepRows, 3L * hid));
            } else {
                kernels.backwardStep(w.cell, batch, hid, (int) gateCols, Rows.NONE, 0, w.wHh, dhNext, Rows.NONE,
                        Rows.dense(gates, gateCols), true, Rows.dense(c, hid), dc, Rows.dense(dA, gateCols), Rows.NONE,
                        Rows.dense(peepRows, 3L * hid));
            }
            if (cb.dh() != null) {
                DeviceBuffer dh = scratch.floats(Slot.DH0, bo);
                kernels.gemm(Gemm.NN, batch, out, (int) gateCols, dA.floatAt(0), gateCols, w.wHh.floatAt(0), out, null,
                        0f, dh.floatAt(0), out, 0);
                download(dh, cb.dh(), bo);
            }
            download(dc, cb.dc(), bh);
            inputGradient(cfg.matmulPrecision(), batch, in, hid, dA, w, cb.dx());
            if (g != null) {
                DeviceBuffer x = upload(Slot.X, cb.x(), (long) batch * in);
                DeviceBuffer h = uploadOrZero(Slot.H0, cb.h(), bo);
                weightGradients(cfg.matmulPrecision(), batch, in, hid, out, dA, x, h, g, cb.accumulate());
                peepholeGradient(batch, hid, peepRows, g, cb.accumulate());
                projectionGradient(cfg.matmulPrecision(), batch, hid, out, dhNext, mRows, g, cb.accumulate());
            }
            device.synchronize();
        }
    }

    @Override
    public void close() {
        synchronized (device) {   // see the class comment: buffers may be freed from other threads
            if (closed) return;
            closed = true;
            try {
                scratch.close();
            } finally {
                shared.release();
            }
        }
    }

    /**
     * {@code dx = dA·W_ih} for the rows of chunk k into {@code dx} (null: not wanted), in the configured precision,
     * and down to {@code out} beside the next chunk's kernels ({@link CopyPipeline#output}).
     */
    private void inputGradient(LstmConfig cfg, StepChunks chunks, int k, Sequence seq, DeviceBuffer dA, CudaWeights w,
                               DeviceBuffer dx, MemorySegment out, CopyPipeline copies) {
        if (dx == null) return;
        int in = cfg.inputSize();
        long gateCols = 4L * cfg.hiddenSize();
        long first = seq.firstRow(chunks.from(k)), rows = seq.firstRow(chunks.to(k)) - first;
        kernels.gemm(Gemm.NN, cfg.matmulPrecision(), (int) rows, in, (int) gateCols, dA.floatAt(first * gateCols),
                gateCols, w.wIh.floatAt(0), in, null, 0f, dx.floatAt(first * in), in, 0);
        copies.output(k, dx, in, out);
    }

    /** {@code dx = dA·W_ih} over {@code rows} rows, if wanted, in {@code p} (one step: the cell call). */
    private void inputGradient(MatmulPrecision p, long rows, int in, int hid, DeviceBuffer dA, CudaWeights w, MemorySegment out) {
        if (out == null) return;
        DeviceBuffer dx = scratch.floats(Slot.DX, rows * in);
        kernels.gemm(Gemm.NN, p, (int) rows, in, 4 * hid, dA.floatAt(0), 4L * hid, w.wIh.floatAt(0), in, null, 0f,
                dx.floatAt(0), in, 0);
        download(dx, out, rows * in);
    }

    /**
     * {@code dW_ih = dAᵀ·x}, {@code dW_hh = dAᵀ·h_prev} ({@code h_prev} is {@code out} = H_out wide),
     * {@code db = Σ_rows dA} over {@code rows} rows, in PyTorch row order; added onto the caller's values as they
     * come down when {@code accumulate} ({@link #downloadGradient}); the two products in {@code p}.
     */
    private void weightGradients(MatmulPrecision p, long rows, int in, int hid, int out, DeviceBuffer dA, DeviceBuffer x,
                                 DeviceBuffer hPrev, LstmGradients g, boolean accumulate) {
        long gateRows = 4L * hid;
        DeviceBuffer dWih = scratch.floats(Slot.DW_IH, gateRows * in);
        kernels.gemm(Gemm.TN, p, (int) gateRows, in, (int) rows, dA.floatAt(0), gateRows, x.floatAt(0), in, null, 0f,
                dWih.floatAt(0), in, hid);
        downloadGradient(dWih, g.dWih(), gateRows * in, accumulate);
        DeviceBuffer dWhh = scratch.floats(Slot.DW_HH, gateRows * out);
        kernels.gemm(Gemm.TN, p, (int) gateRows, out, (int) rows, dA.floatAt(0), gateRows, hPrev.floatAt(0), out, null,
                0f, dWhh.floatAt(0), out, hid);
        downloadGradient(dWhh, g.dWhh(), gateRows * out, accumulate);
        if (g.dbIh() != null) {
            DeviceBuffer dbIh = scratch.floats(Slot.DB_IH, gateRows);
            DeviceBuffer dbHh = scratch.floats(Slot.DB_HH, gateRows);
            kernels.biasGradient((int) rows, hid, dA.floatAt(0), 0f, dbIh, dbHh);
            downloadGradient(dbIh, g.dbIh(), gateRows, accumulate);
            downloadGradient(dbHh, g.dbHh(), gateRows, accumulate);
        }
    }

    private static boolean wantsProjectionGradient(LstmConfig cfg, LstmGradients g) {
        return cfg.hasProjection() && g != null && g.dWhr() != null;
    }

    /**
     * {@code dW_hr = Σ_rows dh·mᵀ} ({@code [P, H]}: {@code dhRows [rows, P]}ᵀ·{@code mRows [rows, H]}, one GEMM
     * over all rows, in {@code p}); a null {@code dhRows} (no gradient reached h) contributes zeros. Nothing if not
     * wanted.
     */
    private void projectionGradient(MatmulPrecision p, long rows, int hid, int out, DeviceBuffer dhRows, DeviceBuffer mRows,
                                    LstmGradients g, boolean accumulate) {
        if (mRows == null) return;
        long n = (long) out * hid;
        DeviceBuffer dWhr = scratch.floats(Slot.DW_HR, n);
        kernels.gemm(Gemm.TN, p, out, hid, (int) rows, dhRows == null ? null : dhRows.floatAt(0), out, mRows.floatAt(0),
                hid, null, 0f, dWhr.floatAt(0), hid, 0);
        downloadGradient(dWhr, g.dWhr(), n, accumulate);
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
        DeviceBuffer dP = scratch.floats(Slot.D_PEEP, n);
        kernels.columnSum((int) rows, (int) n, peepRows.floatAt(0), n, 0f, dP, null, 0);
        downloadGradient(dP, g.dPeepholes(), n, accumulate);
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

    /**
     * A weight gradient to the caller: copied, or with {@code accumulate} added onto the caller's values as it comes
     * down ({@link Device#downloadAdding}: the same single rounding as a {@code beta = 1} epilogue, without first
     * copying the caller's gradients up).
     */
    private void downloadGradient(DeviceBuffer src, MemorySegment dst, long floats, boolean accumulate) {
        if (!accumulate) {
            download(src, dst, floats);
        } else if (dst != null) {
            device.downloadAdding(src, 0, dst.asSlice(0, floats * Float.BYTES));
        }
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
        return checkRows((long) steps * batch, "steps × batch");
    }

    private static long checkRows(long rows, String what) {
        if (rows > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(what + " = " + rows + " exceeds the CUDA backend's limit of "
                    + Integer.MAX_VALUE + " sequence rows");
        }
        return rows;
    }

    /**
     * The rows of a call's sequence buffers: how many each timestep has and where they are. Uniform ({@code [T·B,
     * width]} in the call's layout): B rows per step, time-major ones consecutive, batch-major ones T rows apart.
     * Packed ({@link Calls.Sequences}, PyTorch's PackedSequence): step t has {@code batchSizes[t]} consecutive rows
     * starting at row {@code Σ_{s<t} batchSizes[s]}, whatever the layout.
     */
    static final class Sequence {
        private final Layout layout;
        private final int steps, batch;
        private final int[] batchSizes;   // null: uniform
        private final long[] offsets;     // packed: first row of each step, and the total at [steps]

        private Sequence(Layout layout, int steps, int batch, int[] batchSizes) {
            this.layout = layout;
            this.steps = steps;
            this.batch = batch;
            this.batchSizes = batchSizes;
            if (batchSizes == null) {
                offsets = null;
                CudaBackend.rows(steps, batch);
            } else {
                offsets = new long[steps + 1];
                for (int t = 0; t < steps; t++) offsets[t + 1] = offsets[t] + batchSizes[t];
                checkRows(offsets[steps], "packed rows");
            }
        }

        static Sequence uniform(Layout layout, int steps, int batch) {
            return new Sequence(layout, steps, batch, null);
        }

        /** The rows of a call with {@code sequences}: uniform or packed (padded calls are not for this backend). */
        static Sequence of(Layout layout, int steps, int batch, Calls.Sequences sequences) {
            if (sequences == null) return uniform(layout, steps, batch);
            if (sequences.lengths() != null || sequences.reverse()) {
                throw new IllegalArgumentException("the CUDA backend takes uniform or packed sequences, not padded"
                        + " ones with lengths or reversed (nativeSequences() is false)");
            }
            int[] sizes = sequences.batchSizes();
            if (sizes == null) return uniform(layout, steps, batch);
            if (sizes.length != steps || steps == 0 || sizes[0] != batch) {
                throw new IllegalArgumentException("packed batch sizes " + Arrays.toString(sizes)
                        + " do not describe " + steps + " steps of " + batch + " sequences");
            }
            for (int t = 1; t < steps; t++) {
                if (sizes[t] < 1 || sizes[t] > sizes[t - 1]) {
                    throw new IllegalArgumentException("packed batch sizes must be positive and non-increasing: "
                            + Arrays.toString(sizes));
                }
            }
            return new Sequence(layout, steps, batch, sizes.clone());
        }

        int steps() { return steps; }

        /** Whether every step has all B rows (not packed). */
        boolean uniform() { return batchSizes == null; }

        /** Uniform only: floats from step t's first row of a {@code width}-wide buffer to step t+1's. */
        long stepFloats(long width) {
            if (batchSizes != null) throw new IllegalStateException("packed steps are not evenly spaced");
            return (layout == Layout.TIME_MAJOR ? batch : 1) * width;
        }

        /** B: every sequence (the rows of step 0). */
        int batch() { return batch; }

        /** The rows of step t: the sequences still live there. */
        int batch(int t) { return batchSizes == null ? batch : batchSizes[t]; }

        /** The rows of step t that go on to step t+1 (0 at the last step); rows from there to {@link #batch(int)} end at t. */
        int next(int t) { return t + 1 < steps ? batch(t + 1) : 0; }

        /** Whether the rows of any range of steps are consecutive (time-major or packed): see {@link #firstRow}. */
        boolean contiguousSteps() { return batchSizes != null || layout == Layout.TIME_MAJOR || steps == 1; }

        /**
         * The first row of step t, {@code 0 <= t <= T} ({@link #rows()} at T): steps {@code [a, b)} are rows
         * {@code [firstRow(a), firstRow(b))}. Only 0 and T when the steps are not {@link #contiguousSteps}.
         */
        long firstRow(int t) {
            if (t == 0) return 0;
            if (t == steps) return rows();
            if (!contiguousSteps()) throw new IllegalStateException("batch-major steps are not consecutive rows");
            return batchSizes != null ? offsets[t] : (long) t * batch;
        }

        /** Rows of the sequence buffers: T·B, or packed Σ batchSizes. */
        long rows() { return batchSizes == null ? (long) steps * batch : offsets[steps]; }

        /** Step t's rows of a sequence buffer whose rows are {@code width} floats. */
        Rows step(DeviceBuffer buffer, int t, long width) {
            if (batchSizes != null) return new Rows(buffer.floatAt(offsets[t] * width), width);
            long first = layout.row(t, 0, steps, batch);
            long stride = layout == Layout.TIME_MAJOR ? 1 : steps;
            return new Rows(buffer.floatAt(first * width), stride * width);
        }
    }
}
