package org.lstmk.reference;

import static org.lstmk.reference.DoubleBuffers.read;
import static org.lstmk.reference.DoubleBuffers.readSequence;
import static org.lstmk.reference.DoubleBuffers.write;
import static org.lstmk.reference.DoubleBuffers.writeSequence;

import java.lang.foreign.MemorySegment;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmGradients;
import org.lstmk.api.LstmWeights;
import org.lstmk.spi.BackendWeights;
import org.lstmk.spi.BackendWorkspace;
import org.lstmk.spi.Calls;
import org.lstmk.spi.LstmBackend;

/**
 * The scalar reference backend: converts the caller's floats to doubles, runs {@link ReferenceLstm}, rounds the
 * results back to float. Slow by design. Runs variable lengths and the reverse direction itself
 * ({@link #nativeSequences()}), one sequence at a time, so that the layer driver's sorting, segmenting and
 * reversing for the other backends is checked against code that does none of it.
 */
public final class ReferenceBackend implements LstmBackend {
    public static final String NAME = "reference";

    /** Weights "packed" as a double-precision copy. */
    record Weights(ReferenceLstm lstm) implements BackendWeights {
        @Override public void close() {}
    }

    /** The trace of the last training forward, on the Java heap. */
    record Workspace(ReferenceLstm.Trace trace) implements BackendWorkspace {
        @Override public void close() {}
    }

    @Override public String name() { return NAME; }

    @Override public boolean nativeSequences() { return true; }

    @Override
    public BackendWeights pack(LstmConfig cfg, LstmWeights w) {
        int g = cfg.gateRows(), in = cfg.inputSize(), hid = cfg.hiddenSize(), out = cfg.outputSize();
        return new Weights(new ReferenceLstm(in, hid, read(w.wIh(), g * in), read(w.wHh(), g * out),
                read(w.bIh(), g), read(w.bHh(), g),
                cfg.hasProjection() ? read(w.wHr(), cfg.projectionSize() * hid) : null,
                cfg.peepholes() ? read(w.peepholes(), 3 * hid) : null, cfg.cellClip()));
    }

    @Override
    public BackendWorkspace newWorkspace(LstmConfig cfg, int maxSteps, int maxBatch) {
        return new Workspace(new ReferenceLstm.Trace(maxSteps, maxBatch, cfg.hiddenSize(), cfg.outputSize()));
    }

    @Override
    public void forward(Calls.Forward f) {
        if (f.batchSizes() != null) {
            // Packed (from a test double or the verifying wrapper): the same sequences padded, in sorted order.
            Packing p = new Packing(f.batchSizes());
            MemorySegment y = f.y() == null ? null : p.paddedBuffer(f.config().outputSize());
            forward(new Calls.Forward(f.config(), f.weights(), f.steps(), f.batch(),
                    p.pad(f.x(), f.config().inputSize()), f.h0(), f.c0(), y, f.hT(), f.cT(), f.workspace(),
                    Calls.Sequences.padded(p.lengths, false)));
            p.pack(y, f.y(), f.config().outputSize());
            return;
        }
        LstmConfig cfg = f.config();
        int steps = f.steps(), batch = f.batch(), hid = cfg.hiddenSize(), out = cfg.outputSize();
        ReferenceLstm lstm = ((Weights) f.weights()).lstm();
        ReferenceLstm.Trace trace = f.workspace() != null
                ? ((Workspace) f.workspace()).trace()
                : new ReferenceLstm.Trace(steps, batch, hid, out);
        lstm.forward(steps, batch, f.lengths(), f.reverse(),
                readSequence(f.x(), cfg.layout(), steps, batch, cfg.inputSize()),
                read(f.h0(), batch * out), read(f.c0(), batch * hid), trace);
        writeSequence(f.y(), cfg.layout(), lstm.output(trace), steps, batch, out);
        write(f.hT(), slice(trace.h, steps * batch * out, batch * out), batch * out, false);
        write(f.cT(), slice(trace.c, steps * batch * hid, batch * hid), batch * hid, false);
    }

    @Override
    public void backward(Calls.Backward b) {
        if (b.batchSizes() != null) {
            Packing p = new Packing(b.batchSizes());
            LstmConfig c = b.config();
            MemorySegment dx = b.dx() == null ? null : p.paddedBuffer(c.inputSize());
            backward(new Calls.Backward(c, b.weights(), b.workspace(), b.steps(), b.batch(), p.pad(b.x(), c.inputSize()),
                    b.dy() == null ? null : p.pad(b.dy(), c.outputSize()), b.dhT(), b.dcT(), dx, b.dh0(), b.dc0(),
                    b.gradients(), b.accumulate(), Calls.Sequences.padded(p.lengths, false)));
            p.pack(dx, b.dx(), c.inputSize());
            return;
        }
        LstmConfig cfg = b.config();
        int steps = b.steps(), batch = b.batch(), in = cfg.inputSize(), hid = cfg.hiddenSize(), out = cfg.outputSize();
        ReferenceLstm lstm = ((Weights) b.weights()).lstm();
        ReferenceLstm.Trace trace = ((Workspace) b.workspace()).trace();
        double[] dx = new double[steps * batch * in];
        double[] dh0 = new double[batch * out];
        double[] dc0 = new double[batch * hid];
        Grads g = new Grads(cfg);
        lstm.backward(trace, readSequence(b.x(), cfg.layout(), steps, batch, in),
                b.dy() == null ? null : readSequence(b.dy(), cfg.layout(), steps, batch, out),
                read(b.dhT(), batch * out), read(b.dcT(), batch * hid), dx, dh0, dc0, g.acc);
        writeSequence(b.dx(), cfg.layout(), dx, steps, batch, in);
        write(b.dh0(), dh0, batch * out, false);
        write(b.dc0(), dc0, batch * hid, false);
        g.writeTo(b.gradients(), b.accumulate());
    }

    @Override
    public void cellForward(Calls.CellForward f) {
        LstmConfig cfg = f.config();
        int batch = f.batch(), in = cfg.inputSize(), hid = cfg.hiddenSize(), out = cfg.outputSize();
        ReferenceLstm lstm = ((Weights) f.weights()).lstm();
        double[] x = read(f.x(), batch * in);
        double[] h = orZeros(read(f.h(), batch * out), batch * out);
        double[] c = orZeros(read(f.c(), batch * hid), batch * hid);
        double[] gates = new double[batch * 4 * hid];
        double[] hNext = new double[batch * out];
        double[] cNext = new double[batch * hid];
        for (int b = 0; b < batch; b++) {
            lstm.step(x, b * in, h, b * out, c, b * hid, gates, b * 4 * hid, hNext, b * out, cNext, b * hid);
        }
        write(f.hNext(), hNext, batch * out, false);
        write(f.cNext(), cNext, batch * hid, false);
        write(f.gates(), gates, batch * 4 * hid, false);
    }

    @Override
    public void cellBackward(Calls.CellBackward cb) {
        LstmConfig cfg = cb.config();
        int batch = cb.batch(), in = cfg.inputSize(), hid = cfg.hiddenSize(), out = cfg.outputSize();
        ReferenceLstm lstm = ((Weights) cb.weights()).lstm();
        double[] x = read(cb.x(), batch * in);
        double[] h = orZeros(read(cb.h(), batch * out), batch * out);
        double[] c = orZeros(read(cb.c(), batch * hid), batch * hid);
        double[] gates = read(cb.gates(), batch * 4 * hid);
        double[] dhNext = orZeros(read(cb.dhNext(), batch * out), batch * out);
        double[] dcNext = orZeros(read(cb.dcNext(), batch * hid), batch * hid);
        double[] dx = new double[batch * in];
        double[] dh = new double[batch * out];
        double[] dc = new double[batch * hid];
        Grads g = new Grads(cfg);
        for (int b = 0; b < batch; b++) {
            lstm.backwardStep(x, b * in, h, b * out, c, b * hid, gates, b * 4 * hid, dhNext, b * out, dcNext, b * hid,
                    dx, b * in, dh, b * out, dc, b * hid, g.acc);
        }
        write(cb.dx(), dx, batch * in, false);
        write(cb.dh(), dh, batch * out, false);
        write(cb.dc(), dc, batch * hid, false);
        g.writeTo(cb.gradients(), cb.accumulate());
    }

    /** Weight gradients of one call, in double, before they meet the caller's buffers. */
    private static final class Grads {
        final ReferenceLstm.Grads acc;

        Grads(LstmConfig cfg) {
            int rows = cfg.gateRows(), hid = cfg.hiddenSize();
            acc = new ReferenceLstm.Grads(new double[rows * cfg.inputSize()], new double[rows * cfg.outputSize()],
                    new double[rows], cfg.hasProjection() ? new double[cfg.projectionSize() * hid] : null,
                    cfg.peepholes() ? new double[3 * hid] : null);
        }

        void writeTo(LstmGradients out, boolean accumulate) {
            if (out == null) return;
            write(out.dWih(), acc.dWih(), acc.dWih().length, accumulate);
            write(out.dWhh(), acc.dWhh(), acc.dWhh().length, accumulate);
            write(out.dbIh(), acc.db(), acc.db().length, accumulate);
            write(out.dbHh(), acc.db(), acc.db().length, accumulate);
            if (acc.dWhr() != null) write(out.dWhr(), acc.dWhr(), acc.dWhr().length, accumulate);
            if (acc.dPeep() != null) write(out.dPeepholes(), acc.dPeep(), acc.dPeep().length, accumulate);
        }
    }

    /** Between packed rows ({@link Calls.Sequences}) and time-major padded ones of the same sorted batch. */
    private static final class Packing {
        final int[] batchSizes, lengths;
        final int steps, batch;

        Packing(int[] batchSizes) {
            this.batchSizes = batchSizes;
            this.steps = batchSizes.length;
            this.batch = batchSizes[0];
            this.lengths = new int[batch];
            for (int t = 0; t < steps; t++) for (int r = 0; r < batchSizes[t]; r++) lengths[r]++;
        }

        MemorySegment paddedBuffer(int width) {
            return MemorySegment.ofArray(new float[steps * batch * width]);
        }

        MemorySegment pad(MemorySegment packed, int width) {
            MemorySegment p = paddedBuffer(width);
            long row = 0;
            for (int t = 0; t < steps; t++) {
                for (int r = 0; r < batchSizes[t]; r++, row++) {
                    MemorySegment.copy(packed, row * width * 4L, p, ((long) t * batch + r) * width * 4L, width * 4L);
                }
            }
            return p;
        }

        void pack(MemorySegment padded, MemorySegment packed, int width) {
            if (packed == null) return;
            long row = 0;
            for (int t = 0; t < steps; t++) {
                for (int r = 0; r < batchSizes[t]; r++, row++) {
                    MemorySegment.copy(padded, ((long) t * batch + r) * width * 4L, packed, row * width * 4L, width * 4L);
                }
            }
        }
    }

    private static double[] slice(double[] a, int from, int n) {
        double[] s = new double[n];
        System.arraycopy(a, from, s, 0, n);
        return s;
    }

    private static double[] orZeros(double[] a, int n) {
        return a != null ? a : new double[n];
    }
}
