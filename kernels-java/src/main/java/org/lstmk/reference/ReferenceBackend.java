package org.lstmk.reference;

import static org.lstmk.reference.DoubleBuffers.read;
import static org.lstmk.reference.DoubleBuffers.readSequence;
import static org.lstmk.reference.DoubleBuffers.write;
import static org.lstmk.reference.DoubleBuffers.writeSequence;

import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmGradients;
import org.lstmk.api.LstmWeights;
import org.lstmk.spi.BackendWeights;
import org.lstmk.spi.BackendWorkspace;
import org.lstmk.spi.Calls;
import org.lstmk.spi.LstmBackend;

/**
 * The scalar reference backend: converts the caller's floats to doubles, runs {@link ReferenceLstm}, rounds the
 * results back to float. Slow by design.
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

    @Override
    public BackendWeights pack(LstmConfig cfg, LstmWeights w) {
        int g = cfg.gateRows(), in = cfg.inputSize(), hid = cfg.hiddenSize();
        return new Weights(new ReferenceLstm(in, hid, read(w.wIh(), g * in), read(w.wHh(), g * hid),
                read(w.bIh(), g), read(w.bHh(), g)));
    }

    @Override
    public BackendWorkspace newWorkspace(LstmConfig cfg, int maxSteps, int maxBatch) {
        return new Workspace(new ReferenceLstm.Trace(maxSteps, maxBatch, cfg.hiddenSize()));
    }

    @Override
    public void forward(Calls.Forward f) {
        LstmConfig cfg = f.config();
        int steps = f.steps(), batch = f.batch(), hid = cfg.hiddenSize(), bh = batch * hid;
        ReferenceLstm lstm = ((Weights) f.weights()).lstm();
        ReferenceLstm.Trace trace = f.workspace() != null
                ? ((Workspace) f.workspace()).trace()
                : new ReferenceLstm.Trace(steps, batch, hid);
        lstm.forward(steps, batch, readSequence(f.x(), cfg.layout(), steps, batch, cfg.inputSize()),
                read(f.h0(), bh), read(f.c0(), bh), trace);
        double[] y = new double[steps * bh];
        System.arraycopy(trace.h, bh, y, 0, steps * bh);
        writeSequence(f.y(), cfg.layout(), y, steps, batch, hid);
        write(f.hT(), slice(trace.h, steps * bh, bh), bh, false);
        write(f.cT(), slice(trace.c, steps * bh, bh), bh, false);
    }

    @Override
    public void backward(Calls.Backward b) {
        LstmConfig cfg = b.config();
        int steps = b.steps(), batch = b.batch(), in = cfg.inputSize(), hid = cfg.hiddenSize(), bh = batch * hid;
        ReferenceLstm lstm = ((Weights) b.weights()).lstm();
        ReferenceLstm.Trace trace = ((Workspace) b.workspace()).trace();
        double[] dx = new double[steps * batch * in];
        double[] dh0 = new double[bh];
        double[] dc0 = new double[bh];
        Grads g = new Grads(cfg);
        lstm.backward(trace, readSequence(b.x(), cfg.layout(), steps, batch, in),
                readSequence(b.dy(), cfg.layout(), steps, batch, hid), read(b.dhT(), bh), read(b.dcT(), bh),
                dx, dh0, dc0, g.dWih, g.dWhh, g.db);
        writeSequence(b.dx(), cfg.layout(), dx, steps, batch, in);
        write(b.dh0(), dh0, bh, false);
        write(b.dc0(), dc0, bh, false);
        g.writeTo(b.gradients(), b.accumulate());
    }

    @Override
    public void cellForward(Calls.CellForward f) {
        LstmConfig cfg = f.config();
        int batch = f.batch(), in = cfg.inputSize(), hid = cfg.hiddenSize(), bh = batch * hid;
        ReferenceLstm lstm = ((Weights) f.weights()).lstm();
        double[] x = read(f.x(), batch * in);
        double[] h = orZeros(read(f.h(), bh), bh);
        double[] c = orZeros(read(f.c(), bh), bh);
        double[] gates = new double[batch * 4 * hid];
        double[] hNext = new double[bh];
        double[] cNext = new double[bh];
        for (int b = 0; b < batch; b++) {
            lstm.step(x, b * in, h, b * hid, c, b * hid, gates, b * 4 * hid, hNext, b * hid, cNext, b * hid);
        }
        write(f.hNext(), hNext, bh, false);
        write(f.cNext(), cNext, bh, false);
        write(f.gates(), gates, batch * 4 * hid, false);
    }

    @Override
    public void cellBackward(Calls.CellBackward cb) {
        LstmConfig cfg = cb.config();
        int batch = cb.batch(), in = cfg.inputSize(), hid = cfg.hiddenSize(), bh = batch * hid;
        ReferenceLstm lstm = ((Weights) cb.weights()).lstm();
        double[] x = read(cb.x(), batch * in);
        double[] h = orZeros(read(cb.h(), bh), bh);
        double[] c = orZeros(read(cb.c(), bh), bh);
        double[] gates = read(cb.gates(), batch * 4 * hid);
        double[] dhNext = orZeros(read(cb.dhNext(), bh), bh);
        double[] dcNext = orZeros(read(cb.dcNext(), bh), bh);
        double[] dx = new double[batch * in];
        double[] dh = new double[bh];
        double[] dc = new double[bh];
        Grads g = new Grads(cfg);
        for (int b = 0; b < batch; b++) {
            lstm.backwardStep(x, b * in, h, b * hid, c, b * hid, gates, b * 4 * hid, dhNext, b * hid, dcNext, b * hid,
                    dx, b * in, dh, b * hid, dc, b * hid, g.dWih, g.dWhh, g.db);
        }
        write(cb.dx(), dx, batch * in, false);
        write(cb.dh(), dh, bh, false);
        write(cb.dc(), dc, bh, false);
        g.writeTo(cb.gradients(), cb.accumulate());
    }

    /** Weight gradients of one call, in double, before they meet the caller's buffers. */
    private static final class Grads {
        final double[] dWih, dWhh, db;

        Grads(LstmConfig cfg) {
            dWih = new double[cfg.gateRows() * cfg.inputSize()];
            dWhh = new double[cfg.gateRows() * cfg.hiddenSize()];
            db = new double[cfg.gateRows()];
        }

        void writeTo(LstmGradients out, boolean accumulate) {
            if (out == null) return;
            write(out.dWih(), dWih, dWih.length, accumulate);
            write(out.dWhh(), dWhh, dWhh.length, accumulate);
            write(out.dbIh(), db, db.length, accumulate);
            write(out.dbHh(), db, db.length, accumulate);
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
