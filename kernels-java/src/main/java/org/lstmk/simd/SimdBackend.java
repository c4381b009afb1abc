package org.lstmk.simd;

import static org.lstmk.simd.Copies.F;
import static org.lstmk.simd.SimdSpecies.L;
import static org.lstmk.simd.SimdSpecies.VB;

import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import org.lstmk.api.Layout;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmGradients;
import org.lstmk.api.LstmWeights;
import org.lstmk.spi.BackendOptions;
import org.lstmk.spi.BackendWeights;
import org.lstmk.spi.BackendWorkspace;
import org.lstmk.spi.Calls;
import org.lstmk.spi.LstmBackend;

/**
 * The Vector API backend: gate-interleaved packed weights ({@link SimdWeights}), the input projection as one GEMM,
 * the recurrent step fused with the cell ({@link ForwardPass}, {@link BackwardPass}), on a {@link WorkerTeam} of
 * spin-synchronised threads. Scratch buffers are owned by the instance and grow to the largest call seen.
 */
public final class SimdBackend implements LstmBackend {
    public static final String NAME = "simd";

    /** Below this many multiply-adds per call, a second thread costs more than it saves. */
    static final long MIN_PARALLEL_WORK = 1L << 16;

    private final WorkerTeam team;
    /** When calls leave the workers out for a while (see {@link SoloBackoff}). */
    final SoloBackoff solo = new SoloBackoff();
    private final NativeBuffer xn = new NativeBuffer(), dyn = new NativeBuffer(), dh = new NativeBuffer(),
            dc = new NativeBuffer(), dxn = new NativeBuffer(), dWihT = new NativeBuffer(), dWhhT = new NativeBuffer(),
            db = new NativeBuffer(), dpeep = new NativeBuffer(), dm = new NativeBuffer(), dWhr = new NativeBuffer(),
            panels = new NativeBuffer(), tiles = new NativeBuffer();
    /**
     * Inference scratch per layer shape, most recently used last: a stack alternates shapes (layer 0 reads I
     * inputs, the layers above D·H_out), and each keeps its own rather than reallocating at every layer call.
     */
    private final LinkedHashMap<GateLayout, SimdWorkspace> inference = new LinkedHashMap<>(8, 0.75f, true);
    private SimdWorkspace lastInference, cell;

    SimdBackend(BackendOptions options) {
        int threads = options.threads() == 0 ? Runtime.getRuntime().availableProcessors() : options.threads();
        this.team = new WorkerTeam(threads, options.executor());
    }

    @Override public String name() { return NAME; }

    /** Packed calls run in one pass over their rows, the uniform call being the case of B rows at every step. */
    @Override public boolean packedSequences() { return true; }

    /** Threads a call may use. */
    int threads() { return team.threads(); }

    @Override
    public BackendWeights pack(LstmConfig config, LstmWeights weights) {
        return SimdWeights.pack(config, weights);
    }

    @Override
    public BackendWorkspace newWorkspace(LstmConfig config, int maxSteps, int maxBatch) {
        return new SimdWorkspace(GateLayout.of(config), maxSteps, maxBatch);
    }

    @Override
    public void forward(Calls.Forward f) {
        SimdWeights w = (SimdWeights) f.weights();
        Steps steps = steps(f.steps(), f.batch(), f.sequences());
        SimdWorkspace ws = f.workspace() != null ? (SimdWorkspace) f.workspace()
                : inferenceWorkspace(w.shape, f.steps(), f.batch());
        runForward(w, layout(f.config(), steps), steps, f.x(), f.h0(), f.c0(), f.y(), f.hT(), f.cT(), ws,
                f.workspace() != null);
    }

    /**
     * The steps of a uniform or packed call (padded ones are for backends with native sequences only); null
     * sequences read as uniform.
     */
    private static Steps steps(int steps, int batch, Calls.Sequences sequences) {
        if (sequences == null) return Steps.uniform(steps, batch);
        if (sequences.lengths() != null || sequences.reverse()) {
            throw new IllegalArgumentException("the SIMD backend takes uniform or packed sequences, not padded ones");
        }
        return Steps.of(steps, batch, sequences.batchSizes());
    }

    /** Packed sequences are time-major whatever the configuration says. */
    private static Layout layout(LstmConfig config, Steps steps) {
        return steps.packed() ? Layout.TIME_MAJOR : config.layout();
    }

    private void runForward(SimdWeights w, Layout layout, Steps steps, MemorySegment x, MemorySegment h0,
                            MemorySegment c0, MemorySegment y, MemorySegment hT, MemorySegment cT, SimdWorkspace ws,
                            boolean save) {
        GateLayout s = w.shape;
        MemorySegment xs = xn.atLeast(4L * steps.rows() * s.in());
        int homes = workers(s, steps.rows());
        // The work is cut for `homes` threads whatever runs it, so that the result does not depend on how many did:
        // fewer run it while other calls of this JVM hold the processors (CallCount), and an engine whose workers
        // keep being descheduled runs it on the caller alone for a while (SoloBackoff).
        int threads = enterCall(homes);
        try {
            // The caller copies in and out: the workers then never wait for each other at the start (a worker whose
            // core is busy elsewhere joins late, or not at all; see StepBoard), only for the items of a step.
            ForwardPass pass = new ForwardPass(w, layout, steps, x, h0, c0, y, hT, cT, xs,
                    tiles.atLeast(homes * Tiles.THREAD_TILE_BYTES), ws, save, homes);
            team.run(threads, pass, true);
            // a worker that did nothing (it started after the caller had done all) was as good as descheduled
            if (threads > 1) solo.shared(pass.troubled() || pass.idleWorker(threads), System.nanoTime());
        } finally {
            CallCount.leave();
        }
    }

    @Override
    public void backward(Calls.Backward b) {
        SimdWeights w = (SimdWeights) b.weights();
        SimdWorkspace ws = (SimdWorkspace) b.workspace();
        Steps steps = steps(b.steps(), b.batch(), b.sequences());
        runBackward(w, ws, steps, new BackwardPass.Io(layout(b.config(), steps), b.x(), b.dy(), b.dhT(),
                b.dcT(), b.dx(), b.dh0(), b.dc0(), b.gradients(), b.accumulate()));
    }

    private void runBackward(SimdWeights w, SimdWorkspace ws, Steps steps, BackwardPass.Io io) {
        // Backward's result does not depend on its thread count (each column block of every product is one
        // thread's, in the same order whoever it is): it runs on what CallCount and SoloBackoff leave it. (It does
        // not report trouble itself: a step of a static split waits at its barrier for a slower half as long as for
        // a descheduled one; the forward calls tell them apart.)
        int n = enterCall(workers(w.shape, steps.rows()));
        try {
            runBackward(w, ws, steps, io, n);
        } finally {
            CallCount.leave();
        }
    }

    /**
     * Counts a call in ({@link CallCount}; pair with {@link CallCount#leave}) and returns the threads it runs on, out
     * of {@code wanted}: its share of the processors, or 1 while {@link SoloBackoff} leaves the workers out.
     */
    private int enterCall(int wanted) {
        int threads = CallCount.enter(wanted);
        return threads > 1 && solo.solo(System.nanoTime()) ? 1 : threads;
    }

    private void runBackward(SimdWeights w, SimdWorkspace ws, Steps steps, BackwardPass.Io io, int n) {
        GateLayout s = w.shape;
        long rows = steps.rows();
        int batch = steps.batch;
        BackwardPass.Scratch scratch = new BackwardPass.Scratch(
                xn.atLeast(4L * rows * s.in()),
                dyn.atLeast(rows * s.outRowBytes()),
                dh.atLeast(batch * s.outRowBytes()),
                dc.atLeast(batch * s.stateRowBytes()),
                s.projection() ? dm.atLeast(batch * s.stateRowBytes()) : null,
                io.dx() != null ? dxn.atLeast(4L * rows * s.ip()) : null,
                io.grads() != null ? dWihT.atLeast(s.in() * s.gateRowBytes()) : null,
                io.grads() != null ? dWhhT.atLeast(s.out() * s.gateRowBytes()) : null,
                io.grads() != null ? db.atLeast(s.gateRowBytes()) : null,
                io.grads() != null && io.grads().dPeepholes() != null ? dpeep.atLeast(s.gateRowBytes()) : null,
                io.grads() != null && io.grads().dWhr() != null && s.projection()
                        ? dWhr.atLeast(s.out() * s.stateRowBytes()) : null,
                io.grads() != null ? panels.atLeast((long) n * BackwardPass.CHUNK * 4 * VB) : null,
                tiles.atLeast(n * Tiles.THREAD_TILE_BYTES));
        LstmGradients g = io.grads();
        boolean callerIo = !Shareable.all(io.x(), io.dy(), io.dhT(), io.dcT(), io.dx(), io.dh0(), io.dc0())
                || g != null && !Shareable.all(g.dWih(), g.dWhh(), g.dbIh(), g.dbHh(), g.dWhr(), g.dPeepholes());
        team.run(n, new BackwardPass(w, ws, steps, io, scratch, n), callerIo);
    }

    @Override
    public void cellForward(Calls.CellForward f) {
        SimdWeights w = (SimdWeights) f.weights();
        GateLayout s = w.shape;
        int batch = f.batch();
        SimdWorkspace ws = cellWorkspace(s, batch);
        runForward(w, Layout.TIME_MAJOR, Steps.uniform(1, batch), f.x(), f.h(), f.c(), null, f.hNext(), f.cNext(), ws,
                f.gates() != null);
        if (f.gates() != null) gatesOut(ws.gates(), s, batch, f.gates());
    }

    @Override
    public void cellBackward(Calls.CellBackward c) {
        SimdWeights w = (SimdWeights) c.weights();
        GateLayout s = w.shape;
        int batch = c.batch();
        SimdWorkspace ws = cellWorkspace(s, batch);
        Copies.stateIn(c.h(), batch, s.out(), 0, s.out(), s.op(), ws.hs(), 0, s.outRowBytes());
        Copies.stateIn(c.c(), batch, s.hid(), 0, s.hid(), s.hp(), ws.cs(), 0, s.stateRowBytes());
        gatesIn(c.gates(), s, batch, ws.gates(), ws.cs(), s.projection() ? ws.ms() : null);
        runBackward(w, ws, Steps.uniform(1, batch), new BackwardPass.Io(Layout.TIME_MAJOR, c.x(), null, c.dhNext(), c.dcNext(),
                c.dx(), c.dh(), c.dc(), c.gradients(), c.accumulate()));
    }

    /** Activations from the interleaved workspace row to PyTorch's {@code [B][4H]}. */
    private static void gatesOut(MemorySegment src, GateLayout s, int batch, MemorySegment out) {
        int hid = s.hid();
        for (int b = 0; b < batch; b++) {
            for (int gate = 0; gate < 4; gate++) {
                for (int unit = 0; unit < hid; unit++) {
                    float v = src.get(F, b * s.gateRowBytes() + 4L * GateLayout.column(gate, unit));
                    out.set(F, 4L * ((long) b * 4 * hid + gate * hid + unit), v);
                }
            }
        }
    }

    /**
     * PyTorch-layout activations into the interleaved workspace row of step 0, and {@code c_1 = f·c_0 + i·g} (the
     * cell state the backward cell needs) into {@code cs} row 1; with projection ({@code ms} not null) also the cell
     * output {@code m_1 = o·tanh(c_1)} into {@code ms} row 1, which the projection's weight gradient needs.
     */
    private static void gatesIn(MemorySegment in, GateLayout s, int batch, MemorySegment gates, MemorySegment cs,
                                MemorySegment ms) {
        int hid = s.hid();
        long hRow = s.stateRowBytes();
        for (int b = 0; b < batch; b++) {
            for (int unit = 0; unit < hid; unit++) {
                long src = 4L * (long) b * 4 * hid;
                float i = in.get(F, src + 4L * unit), f = in.get(F, src + 4L * (hid + unit)),
                        g = in.get(F, src + 4L * (2 * hid + unit)), o = in.get(F, src + 4L * (3 * hid + unit));
                long row = b * s.gateRowBytes();
                gates.set(F, row + 4L * GateLayout.column(0, unit), i);
                gates.set(F, row + 4L * GateLayout.column(1, unit), f);
                gates.set(F, row + 4L * GateLayout.column(2, unit), g);
                gates.set(F, row + 4L * GateLayout.column(3, unit), o);
                float cPrev = cs.get(F, b * hRow + 4L * unit);
                float cNext = f * cPrev + i * g;
                cs.set(F, (batch + b) * hRow + 4L * unit, cNext);
                if (ms != null) ms.set(F, (batch + b) * hRow + 4L * unit, (float) (o * Math.tanh(cNext)));
            }
            for (int unit = hid; unit < s.hp(); unit++) {
                for (int gate = 0; gate < 4; gate++) gates.set(F, b * s.gateRowBytes() + 4L * GateLayout.column(gate, unit), 0f);
                cs.set(F, (batch + b) * hRow + 4L * unit, 0f);
                if (ms != null) ms.set(F, (batch + b) * hRow + 4L * unit, 0f);
            }
        }
    }

    /** The gate buffer of the last inference's scratch (for tests of memory reuse), or null before the first. */
    MemorySegment inferenceGates() {
        return lastInference == null ? null : lastInference.gates();
    }

    /** Inference scratch shapes kept at once (a stack needs two; a few more cost only memory). */
    static final int INFERENCE_SHAPES = 4;

    /** Workers for a call of {@code rows} rows in all: no more than unit blocks, and one for calls too small to share. */
    private int workers(GateLayout s, int rows) {
        long work = (long) rows * s.gates() * (s.in() + s.hid());
        if (work < MIN_PARALLEL_WORK) return 1;
        return Math.max(1, Math.min(team.threads(), s.blocks()));
    }

    /**
     * The inference scratch of shape {@code s}, grown (never shrunk) to fit; the least recently used shape is freed
     * when more than {@link #INFERENCE_SHAPES} are held.
     */
    private SimdWorkspace inferenceWorkspace(GateLayout s, int steps, int batch) {
        SimdWorkspace ws = inference.get(s);
        if (ws == null || !ws.fits(steps, batch)) {
            int t = steps, b = batch;
            if (ws != null) {
                t = Math.max(t, ws.maxSteps);
                b = Math.max(b, ws.maxBatch);
                inference.remove(s);
                ws.close();
            }
            ws = new SimdWorkspace(s, t, b);
            inference.put(s, ws);
            if (inference.size() > INFERENCE_SHAPES) {
                var eldest = inference.entrySet().iterator();
                SimdWorkspace old = eldest.next().getValue();
                eldest.remove();
                old.close();
            }
        }
        lastInference = ws;
        return ws;
    }

    private SimdWorkspace cellWorkspace(GateLayout s, int batch) {
        if (cell == null || !cell.shape.equals(s) || !cell.fits(1, batch)) {
            if (cell != null) cell.close();
            cell = null;
            cell = new SimdWorkspace(s, 1, batch);
        }
        return cell;
    }

    /** Releases the worker threads and scratch memory; packed weights and workspaces stay valid. */
    @Override
    public void close() {
        team.close();
        for (NativeBuffer b : new NativeBuffer[] {xn, dyn, dh, dc, dxn, dWihT, dWhhT, db, dpeep, dm, dWhr, panels, tiles}) b.close();
        for (SimdWorkspace ws : inference.values()) ws.close();
        inference.clear();
        if (cell != null) cell.close();
        lastInference = cell = null;
    }

    static {
        // Every kernel assumes vectors of whole floats on 4-byte steps.
        assert VB == 4L * L;
    }
}
