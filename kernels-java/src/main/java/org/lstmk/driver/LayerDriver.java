package org.lstmk.driver;

import static org.lstmk.driver.Buffers.Slot.C_A;
import static org.lstmk.driver.Buffers.Slot.C_B;
import static org.lstmk.driver.Buffers.Slot.DIR_OUT;
import static org.lstmk.driver.Buffers.Slot.DY_TIME_MAJOR;
import static org.lstmk.driver.Buffers.Slot.D_DIR_OUT;
import static org.lstmk.driver.Buffers.Slot.D_IN_A;
import static org.lstmk.driver.Buffers.Slot.D_IN_B;
import static org.lstmk.driver.Buffers.Slot.H_A;
import static org.lstmk.driver.Buffers.Slot.H_B;
import static org.lstmk.driver.Buffers.Slot.LAYER_OUT_A;
import static org.lstmk.driver.Buffers.Slot.LAYER_OUT_B;
import static org.lstmk.driver.Buffers.Slot.PACK_DX;
import static org.lstmk.driver.Buffers.Slot.PACK_X;
import static org.lstmk.driver.Buffers.Slot.PACK_Y;
import static org.lstmk.driver.Buffers.Slot.SEG_DX;
import static org.lstmk.driver.Buffers.Slot.SEG_X;
import static org.lstmk.driver.Buffers.Slot.SEG_Y;
import static org.lstmk.driver.Buffers.Slot.X_TIME_MAJOR;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;
import org.lstmk.api.Layout;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmGradients;
import org.lstmk.api.LstmWeights;
import org.lstmk.api.SequenceBatch;
import org.lstmk.api.StackGradients;
import org.lstmk.api.StackWeights;
import org.lstmk.spi.BackendWeights;
import org.lstmk.spi.BackendWorkspace;
import org.lstmk.spi.Calls;
import org.lstmk.spi.LstmBackend;

/**
 * Runs a whole configuration (layers × directions × variable lengths) on a backend's single-layer kernels; see the
 * package documentation. Arguments arrive validated by the public API. Internally every sequence buffer is
 * time-major; the caller's layout is converted at the edges. One call at a time, like the backend under it.
 */
public final class LayerDriver implements AutoCloseable {
    private final LstmBackend backend;
    private final LstmBackend reverseLane;   // null: both directions on backend, one after the other
    private final Executor executor;
    private final Buffers reverseBuffers = new Buffers();
    private final LstmConfig config;
    private final LstmConfig[] timeMajor;   // [layer]: the kernels' configuration, time-major
    private final LstmConfig[] callerLayout;
    private final Buffers buffers = new Buffers();
    private final int dirs, out, hid;

    /** A driver running every call on {@code backend}. */
    public LayerDriver(LstmBackend backend, LstmConfig config) {
        this(backend, null, config, null);
    }

    /**
     * A driver that runs the reverse direction of a bidirectional layer on {@code reverseLane} (a second instance of
     * the same backend, owned and closed by the driver), concurrently with the forward direction on
     * {@code backend}, on a thread of {@code executor} (null: a virtual thread).
     */
    public LayerDriver(LstmBackend backend, LstmBackend reverseLane, LstmConfig config, Executor executor) {
        this.backend = backend;
        this.reverseLane = reverseLane;
        this.executor = executor;
        this.config = config;
        this.dirs = config.directions();
        this.out = config.outputSize();
        this.hid = config.hiddenSize();
        this.timeMajor = new LstmConfig[config.layers()];
        this.callerLayout = new LstmConfig[config.layers()];
        for (int l = 0; l < config.layers(); l++) {
            timeMajor[l] = config.layer(l, Layout.TIME_MAJOR);
            callerLayout[l] = config.layer(l, config.layout());
        }
    }

    /** A backend instance and the scratch of the calls it runs. */
    private record Lane(LstmBackend backend, Buffers buffers) {}

    /** A thread that owns nothing, to ask whether a caller's segment may be read off the calling thread. */
    private static final Thread ANOTHER_THREAD = Thread.ofVirtual().unstarted(() -> { });

    /** The configuration the backend kernels of layer {@code l} see. */
    public LstmConfig layerConfig(int layer) {
        return timeMajor[layer];
    }

    /** Packs every layer-direction; on a failure, closes what was packed and rethrows. */
    public BackendWeights[] pack(StackWeights weights) {
        BackendWeights[] packed = new BackendWeights[config.stateLayers()];
        try {
            for (int l = 0; l < config.layers(); l++) {
                for (int d = 0; d < dirs; d++) {
                    LstmWeights w = weights.get(l, d);
                    packed[l * dirs + d] = backend.pack(timeMajor[l], w);
                }
            }
            return packed;
        } catch (RuntimeException | Error e) {
            for (BackendWeights p : packed) if (p != null) p.close();
            throw e;
        }
    }

    /** Training memory for up to {@code maxSteps × maxBatch}; the first segment of each layer-direction made now. */
    public StackWorkspace newWorkspace(int maxSteps, int maxBatch) {
        long layerOut = (long) maxSteps * maxBatch * dirs * out;
        StackWorkspace ws = new StackWorkspace(config.stateLayers(), config.layers(), layerOut, maxSteps, maxBatch);
        try {
            for (int l = 0; l < config.layers(); l++) {
                int layer = l;
                for (int d = 0; d < dirs; d++) {
                    ws.slot(l * dirs + d, 0, maxSteps, maxBatch, (t, b) -> backend.newWorkspace(timeMajor[layer], t, b));
                }
            }
            return ws;
        } catch (RuntimeException | Error e) {
            ws.close();
            throw e;
        }
    }

    /** Whether a call goes straight to the backend with the caller's buffers. */
    private boolean direct(SequenceBatch seq) {
        return config.isSingleLayer() && (seq.uniform() || backend.nativeSequences());
    }

    /**
     * Forward over the whole stack; {@code ws} null for inference. States are {@code [L·D, B, ·]}; {@code y} is the
     * last layer's output {@code [T,B,D·H_out]} in the caller's layout.
     */
    public void forward(BackendWeights[] w, SequenceBatch seq, MemorySegment x, MemorySegment h0, MemorySegment c0,
                        MemorySegment y, MemorySegment hN, MemorySegment cN, StackWorkspace ws) {
        int steps = seq.steps(), batch = seq.batch();
        if (ws != null) {
            ws.batch = null;
            ws.order = null;
        }
        if (direct(seq)) {
            BackendWorkspace slot = ws == null ? null
                    : ws.slot(0, 0, steps, batch, (t, b) -> backend.newWorkspace(timeMajor[0], t, b));
            backend.forward(new Calls.Forward(callerLayout[0], w[0], steps, batch, x, h0, c0, y, hN, cN, slot,
                    Calls.Sequences.padded(seq.lengths(), false)));
            if (ws != null) ws.batch = seq;
            return;
        }
        SequenceOrder order = backend.nativeSequences() ? null : new SequenceOrder(seq);
        long rows = (long) steps * batch;
        MemorySegment layerIn = timeMajorInput(x, seq, config.inputSize());
        for (int l = 0; l < config.layers(); l++) {
            boolean last = l == config.layers() - 1;
            MemorySegment layerOut = !last && ws != null ? ws.layerOutput(l).asSlice(0, rows * dirs * out * Float.BYTES)
                    : buffers.floats(l % 2 == 0 ? LAYER_OUT_A : LAYER_OUT_B, rows * dirs * out);
            int layer = l;
            MemorySegment in = layerIn;
            boolean concurrent = concurrent(x, h0, c0, hN, cN);
            eachDirection(concurrent, d -> {
                Lane lane = lane(d, concurrent);
                MemorySegment dirOut = dirs == 1 ? layerOut : lane.buffers().floats(DIR_OUT, rows * out);
                int ld = layer * dirs + d;
                runForward(lane, layer, d, w[ld], seq, order, in, dirOut, stateRow(h0, ld, batch, out),
                        stateRow(c0, ld, batch, hid), stateRow(hN, ld, batch, out), stateRow(cN, ld, batch, hid), ws);
                if (dirs > 1) Copies.columnsInto(dirOut, out, layerOut, dirs * out, d * out, rows);
            });
            if (last) Copies.fromTimeMajor(layerOut, y, config.layout(), steps, batch, dirs * out);
            layerIn = layerOut;
        }
        if (ws != null) {
            ws.batch = seq;
            ws.order = order;
        }
    }

    /** One layer in one direction: the backend's own lengths and direction, or segments of the sorted batch. */
    private void runForward(Lane lane, int l, int d, BackendWeights w, SequenceBatch seq, SequenceOrder order,
                            MemorySegment layerIn, MemorySegment dirOut, MemorySegment h0, MemorySegment c0,
                            MemorySegment hN, MemorySegment cN, StackWorkspace ws) {
        int steps = seq.steps(), batch = seq.batch(), ld = l * dirs + d;
        boolean reverse = d == 1;
        if (order == null) {
            BackendWorkspace slot = ws == null ? null
                    : ws.slot(ld, 0, steps, batch, (t, b) -> lane.backend().newWorkspace(timeMajor[l], t, b));
            lane.backend().forward(new Calls.Forward(timeMajor[l], w, steps, batch, layerIn, h0, c0, dirOut, hN, cN, slot,
                    Calls.Sequences.padded(seq.lengths(), reverse)));
            return;
        }
        int in = timeMajor[l].inputSize();
        if (!order.identity) dirOut.fill((byte) 0);   // the padding
        MemorySegment hA = lane.buffers().floats(H_A, (long) batch * out), cA = lane.buffers().floats(C_A, (long) batch * hid);
        MemorySegment hB = lane.buffers().floats(H_B, (long) batch * out), cB = lane.buffers().floats(C_B, (long) batch * hid);
        Copies.rowsSorted(h0, hA, order.order, out);
        Copies.rowsSorted(c0, cA, order.order, hid);
        if (packs(order)) {
            // One call over the packed batch: the backend skips the padding itself.
            int[] sizes = order.batchSizes();
            long rows = seq.validSteps();
            MemorySegment xs = lane.buffers().floats(PACK_X, rows * in), ys = lane.buffers().floats(PACK_Y, rows * out);
            Copies.pack(layerIn, xs, order, sizes, reverse, batch, in);
            BackendWorkspace slot = ws == null ? null
                    : ws.slot(ld, 0, steps, batch, (t, b) -> lane.backend().newWorkspace(timeMajor[l], t, b));
            lane.backend().forward(new Calls.Forward(timeMajor[l], w, sizes.length, batch, xs, hA, cA, ys, hB, cB, slot,
                    Calls.Sequences.packed(sizes)));
            Copies.unpack(ys, dirOut, order, sizes, reverse, batch, out, false);
            Copies.rowsUnsorted(hB, hN, order.order, out);
            Copies.rowsUnsorted(cB, cN, order.order, hid);
            return;
        }
        int k = 0;
        for (SequenceOrder.Segment s : order.segments) {
            int rows = s.rows(), segSteps = s.steps();
            boolean inPlace = order.identity && !reverse;
            MemorySegment xs = inPlace ? layerIn : lane.buffers().floats(SEG_X, (long) segSteps * rows * in);
            MemorySegment ys = inPlace ? dirOut : lane.buffers().floats(SEG_Y, (long) segSteps * rows * out);
            if (!inPlace) Copies.gather(layerIn, xs, order, s, reverse, batch, in);
            BackendWorkspace slot = ws == null ? null
                    : ws.slot(ld, k, segSteps, rows, (t, b) -> lane.backend().newWorkspace(timeMajor[l], t, b));
            lane.backend().forward(new Calls.Forward(timeMajor[l], w, segSteps, rows, xs,
                    prefix(hA, rows, out), prefix(cA, rows, hid), ys, prefix(hB, rows, out), prefix(cB, rows, hid),
                    slot));
            if (!inPlace) Copies.scatter(ys, dirOut, order, s, reverse, batch, out, false);
            prefix(hA, rows, out).copyFrom(prefix(hB, rows, out));
            prefix(cA, rows, hid).copyFrom(prefix(cB, rows, hid));
            k++;
        }
        Copies.rowsUnsorted(hA, hN, order.order, out);
        Copies.rowsUnsorted(cA, cN, order.order, hid);
    }

    /**
     * Backward over the stack of the training forward stored in {@code ws}; {@code dy} is the last layer's output
     * gradient in the caller's layout, states {@code [L·D, B, ·]}.
     */
    public void backward(BackendWeights[] w, StackWorkspace ws, MemorySegment x, MemorySegment dy, MemorySegment dhN,
                         MemorySegment dcN, MemorySegment dx, MemorySegment dh0, MemorySegment dc0,
                         StackGradients g, boolean accumulate) {
        SequenceBatch seq = ws.batch;
        int steps = seq.steps(), batch = seq.batch();
        if (direct(seq)) {
            BackendWorkspace slot = ws.slot(0, 0, steps, batch, (t, b) -> backend.newWorkspace(timeMajor[0], t, b));
            backend.backward(new Calls.Backward(callerLayout[0], w[0], slot, steps, batch, x, dy, dhN, dcN, dx, dh0,
                    dc0, g == null ? null : g.get(0, 0), accumulate, Calls.Sequences.padded(seq.lengths(), false)));
            return;
        }
        long rows = (long) steps * batch;
        MemorySegment dLayerOut = timeMajorCopy(dy, seq, dirs * out, DY_TIME_MAJOR);
        MemorySegment x0 = timeMajorInput(x, seq, config.inputSize());
        for (int l = config.layers() - 1; l >= 0; l--) {
            int in = timeMajor[l].inputSize();
            MemorySegment layerIn = l == 0 ? x0 : ws.layerOutput(l - 1).asSlice(0, rows * in * Float.BYTES);
            boolean wantDx = l > 0 || dx != null;
            MemorySegment dLayerIn = wantDx ? buffers.zeros(l % 2 == 0 ? D_IN_A : D_IN_B, rows * in) : null;
            boolean concurrent = concurrent(x, dy, dhN, dcN, dh0, dc0) && (g == null || g.get(l, 1) == null
                    || concurrent(g.get(l, 1).dWih(), g.get(l, 1).dWhh(), g.get(l, 1).dbIh(), g.get(l, 1).dbHh(),
                    g.get(l, 1).dWhr(), g.get(l, 1).dPeepholes()));
            // Concurrent directions each add their input gradient into their own sum, added up afterwards.
            MemorySegment dReverseIn = concurrent && wantDx ? reverseBuffers.zeros(D_IN_A, rows * in) : null;
            int layer = l;
            MemorySegment dOut = dLayerOut;
            eachDirection(concurrent, d -> {
                Lane lane = lane(d, concurrent);
                MemorySegment dDirOut = dOut;
                if (dirs > 1) {
                    dDirOut = lane.buffers().floats(D_DIR_OUT, rows * out);
                    Copies.columnsFrom(dOut, dirs * out, d * out, dDirOut, out, rows);
                }
                int ld = layer * dirs + d;
                runBackward(lane, layer, d, w[ld], ws, layerIn, dDirOut, stateRow(dhN, ld, batch, out),
                        stateRow(dcN, ld, batch, hid), d == 1 && dReverseIn != null ? dReverseIn : dLayerIn,
                        stateRow(dh0, ld, batch, out), stateRow(dc0, ld, batch, hid),
                        g == null ? null : g.get(layer, d), accumulate);
            });
            if (dReverseIn != null) Copies.addInto(dReverseIn, dLayerIn, rows * in);
            dLayerOut = dLayerIn;
        }
        if (dx != null) Copies.fromTimeMajor(dLayerOut, dx, config.layout(), steps, batch, config.inputSize());
    }

    /** Backward of one layer-direction; adds its input gradient into {@code dLayerIn} (if not null). */
    private void runBackward(Lane lane, int l, int d, BackendWeights w, StackWorkspace ws, MemorySegment layerIn,
                             MemorySegment dDirOut, MemorySegment dhN, MemorySegment dcN, MemorySegment dLayerIn,
                             MemorySegment dh0, MemorySegment dc0, LstmGradients g, boolean accumulate) {
        SequenceBatch seq = ws.batch;
        SequenceOrder order = ws.order;
        int steps = seq.steps(), batch = seq.batch(), ld = l * dirs + d, in = timeMajor[l].inputSize();
        long rowsAll = (long) steps * batch;
        boolean reverse = d == 1;
        if (order == null) {
            BackendWorkspace slot = ws.slot(ld, 0, steps, batch, (t, b) -> lane.backend().newWorkspace(timeMajor[l], t, b));
            MemorySegment dxs = dLayerIn == null ? null : lane.buffers().floats(SEG_DX, rowsAll * in);
            lane.backend().backward(new Calls.Backward(timeMajor[l], w, slot, steps, batch, layerIn, dDirOut, dhN, dcN, dxs,
                    dh0, dc0, g, accumulate, Calls.Sequences.padded(seq.lengths(), reverse)));
            if (dxs != null) Copies.addInto(dxs, dLayerIn, rowsAll * in);
            return;
        }
        MemorySegment dhA = lane.buffers().floats(H_A, (long) batch * out), dcA = lane.buffers().floats(C_A, (long) batch * hid);
        MemorySegment dhB = lane.buffers().floats(H_B, (long) batch * out), dcB = lane.buffers().floats(C_B, (long) batch * hid);
        Copies.rowsSorted(dhN, dhA, order.order, out);
        Copies.rowsSorted(dcN, dcA, order.order, hid);
        if (packs(order)) {
            int[] sizes = order.batchSizes();
            long rows = seq.validSteps();
            MemorySegment xs = lane.buffers().floats(PACK_X, rows * in), dys = lane.buffers().floats(PACK_Y, rows * out);
            MemorySegment dxs = dLayerIn == null ? null : lane.buffers().floats(PACK_DX, rows * in);
            Copies.pack(layerIn, xs, order, sizes, reverse, batch, in);
            Copies.pack(dDirOut, dys, order, sizes, reverse, batch, out);
            BackendWorkspace slot = ws.slot(ld, 0, steps, batch, (t, b) -> lane.backend().newWorkspace(timeMajor[l], t, b));
            lane.backend().backward(new Calls.Backward(timeMajor[l], w, slot, sizes.length, batch, xs, dys, dhA, dcA, dxs,
                    dhB, dcB, g, accumulate, Calls.Sequences.packed(sizes)));
            if (dxs != null) Copies.unpack(dxs, dLayerIn, order, sizes, reverse, batch, in, true);
            Copies.rowsUnsorted(dhB, dh0, order.order, out);
            Copies.rowsUnsorted(dcB, dc0, order.order, hid);
            return;
        }
        boolean first = true;
        for (int k = order.segments.size() - 1; k >= 0; k--) {
            SequenceOrder.Segment s = order.segments.get(k);
            int rows = s.rows(), segSteps = s.steps();
            boolean inPlace = order.identity && !reverse;
            MemorySegment xs = inPlace ? layerIn : lane.buffers().floats(SEG_X, (long) segSteps * rows * in);
            MemorySegment dys = inPlace ? dDirOut : lane.buffers().floats(SEG_Y, (long) segSteps * rows * out);
            if (!inPlace) {
                Copies.gather(layerIn, xs, order, s, reverse, batch, in);
                Copies.gather(dDirOut, dys, order, s, reverse, batch, out);
            }
            MemorySegment dxs = dLayerIn == null ? null : lane.buffers().floats(SEG_DX, (long) segSteps * rows * in);
            BackendWorkspace slot = ws.slot(ld, k, segSteps, rows, (t, b) -> lane.backend().newWorkspace(timeMajor[l], t, b));
            lane.backend().backward(new Calls.Backward(timeMajor[l], w, slot, segSteps, rows, xs, dys,
                    prefix(dhA, rows, out), prefix(dcA, rows, hid), dxs, prefix(dhB, rows, out),
                    prefix(dcB, rows, hid), g, first ? accumulate : true));
            first = false;
            if (dxs != null) Copies.scatter(dxs, dLayerIn, order, s, reverse, batch, in, true);
            prefix(dhA, rows, out).copyFrom(prefix(dhB, rows, out));
            prefix(dcA, rows, hid).copyFrom(prefix(dcB, rows, hid));
        }
        Copies.rowsUnsorted(dhA, dh0, order.order, out);
        Copies.rowsUnsorted(dcA, dc0, order.order, hid);
    }

    /**
     * Runs {@code direction} for each direction of a layer: with a reverse lane and {@code concurrent}, the reverse
     * direction on another thread while the forward one runs on this one; else one after the other. Both have
     * finished when this returns; the first failure is rethrown.
     *
     * <p>The reverse direction is offered to the executor, not promised to it: if the executor has not started it by
     * the time the forward direction is done (a saturated or broken executor, one that rejects or throws), this
     * thread runs it, and the task, should it start later, does nothing. So no executor can hang a call or leave
     * work running after it.
     */
    private void eachDirection(boolean concurrent, java.util.function.IntConsumer direction) {
        if (dirs == 1 || !concurrent) {
            for (int d = 0; d < dirs; d++) direction.accept(d);
            return;
        }
        AtomicInteger claim = new AtomicInteger(OFFERED);
        CompletableFuture<Void> reverse = new CompletableFuture<>();
        Runnable task = () -> {
            if (!claim.compareAndSet(OFFERED, TAKEN)) return;
            try {
                direction.accept(1);
                reverse.complete(null);
            } catch (Throwable t) {
                reverse.completeExceptionally(t);
            }
        };
        try {
            if (executor != null) executor.execute(task); else Thread.ofVirtual().start(task);
        } catch (RuntimeException | Error e) {
            // not started: this thread runs it below
        }
        Throwable failed = null;
        try {
            direction.accept(0);
        } catch (RuntimeException | Error e) {
            failed = e;
        }
        if (claim.compareAndSet(OFFERED, WITHDRAWN)) {
            if (failed == null) direction.accept(1);
        } else {
            try {
                reverse.join();   // even after a failure here: the reverse direction uses this call's buffers
            } catch (CompletionException e) {
                if (failed == null) failed = e.getCause(); else failed.addSuppressed(e.getCause());
            }
        }
        if (failed instanceof RuntimeException r) throw r;
        if (failed instanceof Error err) throw err;
    }

    /** States of the reverse direction's task: offered to the executor, taken by it, or withdrawn by the caller. */
    private static final int OFFERED = 0, TAKEN = 1, WITHDRAWN = 2;

    /** The lane of direction {@code d}: the reverse lane for the reverse direction when running concurrently. */
    private Lane lane(int d, boolean concurrent) {
        return d == 1 && concurrent ? new Lane(reverseLane, reverseBuffers) : new Lane(backend, buffers);
    }

    /** Whether the directions may run concurrently: a reverse lane, and every caller segment readable off-thread. */
    private boolean concurrent(MemorySegment... callerSegments) {
        if (reverseLane == null || dirs == 1) return false;
        for (MemorySegment s : callerSegments) if (s != null && !s.isAccessibleBy(ANOTHER_THREAD)) return false;
        return true;
    }

    /** Whether a direction over {@code order} goes to the backend packed (else as segments). */
    private boolean packs(SequenceOrder order) {
        return backend.packedSequences() && !order.identity;
    }

    /** The caller's {@code x} as time-major: itself when it already is. */
    private MemorySegment timeMajorInput(MemorySegment x, SequenceBatch seq, int width) {
        if (config.layout() == Layout.TIME_MAJOR) return x.asSlice(0, (long) seq.steps() * seq.batch() * width * Float.BYTES);
        return timeMajorCopy(x, seq, width, X_TIME_MAJOR);
    }

    private MemorySegment timeMajorCopy(MemorySegment s, SequenceBatch seq, int width, Buffers.Slot slot) {
        long n = (long) seq.steps() * seq.batch() * width;
        if (config.layout() == Layout.TIME_MAJOR) return s.asSlice(0, n * Float.BYTES);
        MemorySegment t = buffers.floats(slot, n);
        Copies.toTimeMajor(s, t, config.layout(), seq.steps(), seq.batch(), width);
        return t;
    }

    /** Row {@code ld} ({@code [B, width]}) of a {@code [L·D, B, width]} state tensor, or null. */
    private static MemorySegment stateRow(MemorySegment s, int ld, int batch, int width) {
        if (s == null) return null;
        long n = (long) batch * width * Float.BYTES;
        return s.asSlice(ld * n, n);
    }

    private static MemorySegment prefix(MemorySegment s, int rows, int width) {
        return s.asSlice(0, (long) rows * width * Float.BYTES);
    }

    @Override
    public void close() {
        try {
            buffers.close();
            reverseBuffers.close();
        } finally {
            if (reverseLane != null) reverseLane.close();
        }
    }
}
