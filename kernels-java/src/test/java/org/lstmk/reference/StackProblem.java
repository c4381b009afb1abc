package org.lstmk.reference;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmWeights;
import org.lstmk.api.SequenceBatch;
import org.lstmk.api.StackWeights;

/**
 * A random problem for a whole configuration (layers × directions × lengths × cell features) and a second,
 * independent implementation of the stack in double: {@link ReferenceLstm} per layer and direction, composed here by
 * hand (layer outputs concatenated {@code [forward | reverse]}, reverse runs by {@link ReferenceLstm}'s own reverse
 * mode, input gradients of the two directions summed). Its gradients are checked by finite differences; the library's
 * layer driver is checked against it. Every value is a float widened to double, so the same numbers can go through
 * the float API unchanged. Arrays are mutable: finite differences perturb them in place.
 *
 * <p>Loss: {@code L = Σ dy·y + Σ dhN·hN + Σ dcN·cN} ({@code y} of the last layer, states of every layer-direction).
 */
public final class StackProblem {
    public final LstmConfig cfg;
    final int steps, batch, dirs, hid, out;
    public final int[] lengths;                     // null: all T
    final double[][] wIh, wHh, bIh, bHh, wHr, peep;   // [layer·D + direction]
    public final double[] x, h0, c0, dy, dhN, dcN;  // states [L·D, B, ·]

    public StackProblem(LstmConfig cfg, int steps, int batch, int[] lengths, boolean initialState, long seed) {
        this.cfg = cfg;
        this.steps = steps;
        this.batch = batch;
        this.lengths = lengths;
        this.dirs = cfg.directions();
        this.hid = cfg.hiddenSize();
        this.out = cfg.outputSize();
        SplittableRandom r = new SplittableRandom(seed);
        int n = cfg.stateLayers(), g = 4 * hid;
        wIh = new double[n][];
        wHh = new double[n][];
        bIh = new double[n][];
        bHh = new double[n][];
        wHr = new double[n][];
        peep = new double[n][];
        for (int ld = 0; ld < n; ld++) {
            int in = cfg.layerInputSize(ld / dirs);
            wIh[ld] = uniform(r, g * in, 0.6);
            wHh[ld] = uniform(r, g * out, 0.6);
            bIh[ld] = uniform(r, g, 0.6);
            bHh[ld] = uniform(r, g, 0.6);
            wHr[ld] = cfg.hasProjection() ? uniform(r, out * hid, 0.8) : null;
            peep[ld] = cfg.peepholes() ? uniform(r, 3 * hid, 0.8) : null;
        }
        x = uniform(r, steps * batch * cfg.inputSize(), 1);
        h0 = initialState ? uniform(r, n * batch * out, 1) : null;
        c0 = initialState ? uniform(r, n * batch * hid, 1) : null;
        dy = uniform(r, steps * batch * dirs * out, 1);
        dhN = initialState ? uniform(r, n * batch * out, 1) : null;
        dcN = initialState ? uniform(r, n * batch * hid, 1) : null;
    }

    static double[] uniform(SplittableRandom r, int n, double scale) {
        double[] a = new double[n];
        for (int i = 0; i < n; i++) a[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
        return a;
    }

    ReferenceLstm layer(int ld) {
        return new ReferenceLstm(cfg.layerInputSize(ld / dirs), hid, wIh[ld], wHh[ld], bIh[ld], bHh[ld], wHr[ld],
                peep[ld], cfg.cellClip());
    }

    /** One forward: the traces of every layer-direction and the inputs each layer saw. */
    public final class Run {
        final ReferenceLstm.Trace[] traces = new ReferenceLstm.Trace[cfg.stateLayers()];
        final List<double[]> layerInputs = new ArrayList<>();
        public double[] y;

        public double[] hN() { return last(true); }

        public double[] cN() { return last(false); }

        private double[] last(boolean h) {
            int w = h ? out : hid;
            double[] s = new double[cfg.stateLayers() * batch * w];
            for (int ld = 0; ld < traces.length; ld++) {
                ReferenceLstm.Trace t = traces[ld];
                for (int b = 0; b < batch; b++) {
                    for (int j = 0; j < w; j++) s[(ld * batch + b) * w + j] = h ? t.h(steps, b, j) : t.c(steps, b, j);
                }
            }
            return s;
        }
    }

    public Run forward() {
        Run run = new Run();
        double[] in = x;
        for (int l = 0; l < cfg.layers(); l++) {
            run.layerInputs.add(in);
            double[] layerOut = new double[steps * batch * dirs * out];
            for (int d = 0; d < dirs; d++) {
                int ld = l * dirs + d;
                ReferenceLstm lstm = layer(ld);
                ReferenceLstm.Trace t = new ReferenceLstm.Trace(steps, batch, hid, out);
                lstm.forward(steps, batch, lengths, d == 1, in, row(h0, ld, out), row(c0, ld, hid), t);
                run.traces[ld] = t;
                double[] yd = lstm.output(t);
                for (int r = 0; r < steps * batch; r++) System.arraycopy(yd, r * out, layerOut, (r * dirs + d) * out, out);
            }
            in = layerOut;
        }
        run.y = in;
        return run;
    }

    double loss() {
        Run run = forward();
        double s = dot(dy, run.y);
        if (dhN != null) s += dot(dhN, run.hN());
        if (dcN != null) s += dot(dcN, run.cN());
        return s;
    }

    /** The analytic gradients of {@link #loss()}. */
    public static final class Grads {
        public double[] dx, dh0, dc0;
        public ReferenceLstm.Grads[] layers;
    }

    public Grads backward() {
        Run run = forward();
        Grads g = new Grads();
        int n = cfg.stateLayers();
        g.layers = new ReferenceLstm.Grads[n];
        g.dh0 = new double[n * batch * out];
        g.dc0 = new double[n * batch * hid];
        double[] dOut = dy;
        for (int l = cfg.layers() - 1; l >= 0; l--) {
            int in = cfg.layerInputSize(l);
            double[] dIn = new double[steps * batch * in];
            for (int d = 0; d < dirs; d++) {
                int ld = l * dirs + d;
                double[] dyd = new double[steps * batch * out];
                for (int r = 0; r < steps * batch; r++) System.arraycopy(dOut, (r * dirs + d) * out, dyd, r * out, out);
                ReferenceLstm.Grads lg = new ReferenceLstm.Grads(new double[4 * hid * in], new double[4 * hid * out],
                        new double[4 * hid], cfg.hasProjection() ? new double[out * hid] : null,
                        cfg.peepholes() ? new double[3 * hid] : null);
                double[] dxd = new double[steps * batch * in], dh0d = new double[batch * out], dc0d = new double[batch * hid];
                layer(ld).backward(run.traces[ld], run.layerInputs.get(l), dyd, row(dhN, ld, out), row(dcN, ld, hid),
                        dxd, dh0d, dc0d, lg);
                g.layers[ld] = lg;
                for (int k = 0; k < dIn.length; k++) dIn[k] += dxd[k];
                System.arraycopy(dh0d, 0, g.dh0, ld * batch * out, batch * out);
                System.arraycopy(dc0d, 0, g.dc0, ld * batch * hid, batch * hid);
            }
            dOut = dIn;
        }
        g.dx = dOut;
        return g;
    }

    private double[] row(double[] s, int ld, int w) {
        if (s == null) return null;
        double[] r = new double[batch * w];
        System.arraycopy(s, ld * batch * w, r, 0, batch * w);
        return r;
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    public SequenceBatch sequences() {
        return lengths == null ? SequenceBatch.of(steps, batch) : SequenceBatch.of(steps, lengths);
    }

    /** The weights as the float API takes them. */
    public StackWeights weights() {
        StackWeights.Builder b = StackWeights.builder(cfg);
        for (int ld = 0; ld < cfg.stateLayers(); ld++) {
            b.set(ld / dirs, ld % dirs, LstmWeights.builder(seg(wIh[ld]), seg(wHh[ld])).bias(seg(bIh[ld]), seg(bHh[ld]))
                    .projection(seg(wHr[ld])).peepholes(seg(peep[ld])).build());
        }
        return b.build();
    }

    static MemorySegment seg(double[] d) {
        return d == null ? null : MemorySegment.ofArray(Floats.of(d));
    }
}
