package org.lstmk.verify;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.LongFunction;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmGradients;
import org.lstmk.api.LstmWeights;
import org.lstmk.spi.BackendWeights;
import org.lstmk.spi.BackendWorkspace;
import org.lstmk.spi.Calls;
import org.lstmk.spi.LstmBackend;

/**
 * Runs every call on the tested backend, then again on the reference into scratch buffers, and throws a
 * {@link VerificationException} naming the output, the worst element and the errors when they differ beyond
 * {@link Tolerance#forCall}. The tested backend's results are what the caller receives. A debugging aid
 * ({@code -Dlstm.verify=true}): it costs a reference run per call.
 */
public final class VerifyingBackend implements LstmBackend {
    private final LstmBackend tested;
    private final LstmBackend reference;

    public VerifyingBackend(LstmBackend tested, LstmBackend reference) {
        this.tested = tested;
        this.reference = reference;
    }

    /** @param maxAbs the largest finite magnitude among the weights (for {@link Tolerance#float32Floor}) */
    private record Weights(BackendWeights tested, BackendWeights reference, double maxAbs) implements BackendWeights {
        @Override public void close() {
            try (BackendWeights r = reference) {
                tested.close();
            }
        }
    }

    private record Workspace(BackendWorkspace tested, BackendWorkspace reference) implements BackendWorkspace {
        @Override public void close() {
            try (BackendWorkspace r = reference) {
                tested.close();
            }
        }
    }

    @Override public String name() { return tested.name(); }

    @Override public boolean nativeSequences() { return tested.nativeSequences(); }

    @Override public boolean packedSequences() { return tested.packedSequences(); }

    @Override
    public java.lang.foreign.MemorySegment allocateHost(long bytes, java.lang.foreign.Arena arena) {
        return tested.allocateHost(bytes, arena);
    }

    @Override
    public BackendWeights pack(LstmConfig config, LstmWeights weights) {
        BackendWeights t = tested.pack(config, weights);
        try {
            return new Weights(t, reference.pack(config, weights), maxAbs(weights));
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    @Override
    public BackendWorkspace newWorkspace(LstmConfig config, int maxSteps, int maxBatch) {
        BackendWorkspace t = tested.newWorkspace(config, maxSteps, maxBatch);
        try {
            return new Workspace(t, reference.newWorkspace(config, maxSteps, maxBatch));
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    @Override
    public void forward(Calls.Forward f) {
        Weights w = (Weights) f.weights();
        Workspace ws = (Workspace) f.workspace();
        tested.forward(new Calls.Forward(f.config(), w.tested, f.steps(), f.batch(), f.x(), f.h0(), f.c0(),
                f.y(), f.hT(), f.cT(), ws == null ? null : ws.tested, f.sequences()));
        LstmConfig cfg = f.config();
        int hid = cfg.hiddenSize(), out = cfg.outputSize(), bh = f.batch() * hid, bo = f.batch() * out;
        Check c = new Check(cfg, f.steps(), f.batch(), f.batchSizes());
        MemorySegment y = scratch(f.y(), c.rows * out), hT = scratch(f.hT(), bo), cT = scratch(f.cT(), bh);
        reference.forward(new Calls.Forward(cfg, w.reference, f.steps(), f.batch(), f.x(), f.h0(), f.c0(), y, hT, cT,
                ws == null ? null : ws.reference, f.sequences()));
        c.sequence("y", f.y(), y, out);
        c.matrix("hT", f.hT(), hT, bo, out);
        c.matrix("cT", f.cT(), cT, bh, hid);
        c.done("forward");
    }

    @Override
    public void backward(Calls.Backward b) {
        Weights w = (Weights) b.weights();
        Workspace ws = (Workspace) b.workspace();
        LstmConfig cfg = b.config();
        int in = cfg.inputSize(), hid = cfg.hiddenSize(), out = cfg.outputSize(), bh = b.batch() * hid,
                bo = b.batch() * out;
        LstmGradients before = copy(b.gradients(), cfg);
        tested.backward(new Calls.Backward(cfg, w.tested, ws.tested, b.steps(), b.batch(), b.x(), b.dy(), b.dhT(),
                b.dcT(), b.dx(), b.dh0(), b.dc0(), b.gradients(), b.accumulate(), b.sequences()));
        Check c = new Check(cfg, b.steps(), b.batch(), b.batchSizes());
        c.floor = Tolerance.float32Floor(
                Math.max(maxAbs(b.dy(), c.rows * out), Math.max(maxAbs(b.dhT(), bo), maxAbs(b.dcT(), bh))),
                Math.max(Math.max(1, w.maxAbs), maxAbs(b.x(), c.rows * in)), Math.max(4L * hid, c.rows));
        MemorySegment dx = scratch(b.dx(), c.rows * in);
        MemorySegment dh0 = scratch(b.dh0(), bo), dc0 = scratch(b.dc0(), bh);
        reference.backward(new Calls.Backward(cfg, w.reference, ws.reference, b.steps(), b.batch(), b.x(), b.dy(),
                b.dhT(), b.dcT(), dx, dh0, dc0, before, b.accumulate(), b.sequences()));
        c.sequence("dx", b.dx(), dx, in);
        c.matrix("dh0", b.dh0(), dh0, bo, out);
        c.matrix("dc0", b.dc0(), dc0, bh, hid);
        c.gradients(b.gradients(), before);
        c.done("backward");
    }

    @Override
    public void cellForward(Calls.CellForward f) {
        Weights w = (Weights) f.weights();
        LstmConfig cfg = f.config();
        int hid = cfg.hiddenSize(), out = cfg.outputSize(), bh = f.batch() * hid, bo = f.batch() * out;
        tested.cellForward(new Calls.CellForward(cfg, w.tested, f.batch(), f.x(), f.h(), f.c(), f.hNext(), f.cNext(),
                f.gates()));
        MemorySegment hn = scratch(f.hNext(), bo), cn = scratch(f.cNext(), bh);
        MemorySegment g = scratch(f.gates(), 4L * bh);
        reference.cellForward(new Calls.CellForward(cfg, w.reference, f.batch(), f.x(), f.h(), f.c(), hn, cn, g));
        Check c = new Check(cfg, 1, f.batch(), null);
        c.matrix("hNext", f.hNext(), hn, bo, out);
        c.matrix("cNext", f.cNext(), cn, bh, hid);
        c.matrix("gates", f.gates(), g, 4L * bh, 4 * hid);
        c.done("cellForward");
    }

    @Override
    public void cellBackward(Calls.CellBackward cb) {
        Weights w = (Weights) cb.weights();
        LstmConfig cfg = cb.config();
        int in = cfg.inputSize(), hid = cfg.hiddenSize(), out = cfg.outputSize(), bh = cb.batch() * hid,
                bo = cb.batch() * out;
        LstmGradients before = copy(cb.gradients(), cfg);
        tested.cellBackward(new Calls.CellBackward(cfg, w.tested, cb.batch(), cb.x(), cb.h(), cb.c(), cb.gates(),
                cb.dhNext(), cb.dcNext(), cb.dx(), cb.dh(), cb.dc(), cb.gradients(), cb.accumulate()));
        MemorySegment dx = scratch(cb.dx(), (long) cb.batch() * in), dh = scratch(cb.dh(), bo), dc = scratch(cb.dc(), bh);
        reference.cellBackward(new Calls.CellBackward(cfg, w.reference, cb.batch(), cb.x(), cb.h(), cb.c(), cb.gates(),
                cb.dhNext(), cb.dcNext(), dx, dh, dc, before, cb.accumulate()));
        Check c = new Check(cfg, 1, cb.batch(), null);
        c.floor = Tolerance.float32Floor(Math.max(maxAbs(cb.dhNext(), bo), maxAbs(cb.dcNext(), bh)),
                Math.max(Math.max(1, w.maxAbs), Math.max(maxAbs(cb.x(), (long) cb.batch() * in),
                        Math.max(maxAbs(cb.h(), bo), maxAbs(cb.c(), bh)))), Math.max(4L * hid, cb.batch()));
        c.matrix("dx", cb.dx(), dx, (long) cb.batch() * in, in);
        c.matrix("dh", cb.dh(), dh, bo, out);
        c.matrix("dc", cb.dc(), dc, bh, hid);
        c.gradients(cb.gradients(), before);
        c.done("cellBackward");
    }

    @Override
    public void close() {
        try (LstmBackend r = reference) {
            tested.close();
        }
    }

    /** The largest finite magnitude of the first {@code n} floats of {@code s}; 0 for null. */
    private static double maxAbs(MemorySegment s, long n) {
        if (s == null) return 0;
        double m = 0;
        for (long i = 0; i < n; i++) {
            float v = s.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, i);
            if (Float.isFinite(v)) m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    /** The largest finite magnitude among the weights (every float of each segment: they are exactly sized). */
    private static double maxAbs(LstmWeights w) {
        double m = 0;
        for (MemorySegment s : new MemorySegment[] {w.wIh(), w.wHh(), w.bIh(), w.bHh(), w.wHr(), w.peepholes()}) {
            if (s != null) m = Math.max(m, maxAbs(s, s.byteSize() / Float.BYTES));
        }
        return m;
    }

    /** A heap buffer of {@code n} floats for the reference's copy of an output, or null if it is not wanted. */
    private static MemorySegment scratch(MemorySegment out, long n) {
        return out == null ? null : MemorySegment.ofArray(new float[Math.toIntExact(n)]);
    }

    /** The gradients as they were before the call: the reference accumulates into these copies. */
    private static LstmGradients copy(LstmGradients g, LstmConfig cfg) {
        if (g == null) return null;
        int rows = cfg.gateRows(), hid = cfg.hiddenSize();
        return LstmGradients.builder(copy(g.dWih(), (long) rows * cfg.inputSize()),
                        copy(g.dWhh(), (long) rows * cfg.outputSize()))
                .bias(copy(g.dbIh(), rows), copy(g.dbHh(), rows))
                .projection(copy(g.dWhr(), (long) cfg.projectionSize() * hid))
                .peepholes(copy(g.dPeepholes(), 3L * hid)).build();
    }

    private static MemorySegment copy(MemorySegment s, long n) {
        if (s == null) return null;
        MemorySegment c = MemorySegment.ofArray(new float[Math.toIntExact(n)]);
        c.copyFrom(s.asSlice(0, n * Float.BYTES));
        return c;
    }

    /** Collects the comparisons of one call and throws if any failed. */
    private final class Check {
        final LstmConfig cfg;
        final int steps, batch;
        final double rtol;
        /**
         * The float32 resolution of the call's gradients ({@link Tolerance#float32Floor}), 0 for forward calls: their
         * outputs have no saturated derivative in them.
         */
        double floor;
        final List<Comparison.Result> results = new ArrayList<>();

        /** Rows of the call's sequence buffers: {@code T·B}, or packed {@code Σ batchSizes}. */
        final long rows;
        final boolean packed;

        Check(LstmConfig cfg, int steps, int batch, int[] batchSizes) {
            this.cfg = cfg;
            this.steps = steps;
            this.batch = batch;
            this.rtol = Tolerance.forPrecision(cfg.matmulPrecision(),
                    Tolerance.forCall(cfg.inputSize(), cfg.hiddenSize(), steps, batch));
            this.packed = batchSizes != null;
            this.rows = packed ? Calls.Sequences.offset(batchSizes, batchSizes.length) : (long) steps * batch;
        }

        void sequence(String name, MemorySegment actual, MemorySegment expected, int width) {
            if (actual == null) return;
            add(name, actual, expected, rows * width, packed ? Comparison.matrix(name + " (packed rows)", width)
                    : Comparison.sequence(name, cfg.layout(), steps, batch, width));
        }

        void matrix(String name, MemorySegment actual, MemorySegment expected, long n, int cols) {
            if (actual == null) return;
            add(name, actual, expected, n, Comparison.matrix(name, cols));
        }

        void gradients(LstmGradients actual, LstmGradients expected) {
            if (actual == null) return;
            int rows = cfg.gateRows();
            matrix("dWih", actual.dWih(), expected.dWih(), (long) rows * cfg.inputSize(), cfg.inputSize());
            matrix("dWhh", actual.dWhh(), expected.dWhh(), (long) rows * cfg.outputSize(), cfg.outputSize());
            matrix("dbIh", actual.dbIh(), expected.dbIh(), rows, rows);
            matrix("dbHh", actual.dbHh(), expected.dbHh(), rows, rows);
            matrix("dWhr", actual.dWhr(), expected.dWhr(), (long) cfg.projectionSize() * cfg.hiddenSize(),
                    cfg.hiddenSize());
            matrix("dPeepholes", actual.dPeepholes(), expected.dPeepholes(), 3L * cfg.hiddenSize(), cfg.hiddenSize());
        }

        private void add(String name, MemorySegment a, MemorySegment e, long n, LongFunction<String> where) {
            results.add(Comparison.compare(name, a, e, n, rtol, floor, where));
        }

        void done(String call) {
            List<Comparison.Result> bad = results.stream().filter(r -> !r.passed()).toList();
            if (bad.isEmpty()) return;
            StringBuilder m = new StringBuilder(String.format(Locale.ROOT,
                    "backend '%s' %s disagrees with the reference (T=%d, B=%d, %s, rtol %.2g):",
                    tested.name(), call, steps, batch, cfg, rtol));
            for (Comparison.Result r : bad) m.append("\n  ").append(r.describe());
            throw new VerificationException(m.toString(), results);
        }
    }
}
