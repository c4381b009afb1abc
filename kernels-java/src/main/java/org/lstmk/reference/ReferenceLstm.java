package org.lstmk.reference;

import static org.lstmk.reference.CellMath.activation;

import java.util.Arrays;

/**
 * One LSTM layer in one direction, in {@code double} over plain time-major arrays: the oracle every backend is
 * checked against, and what the finite-difference tests differentiate. Deliberately plain: one loop per equation,
 * one sequence at a time, no blocking, no reordering, so that a reader can check it against the equations below in
 * minutes. {@code H_out} is {@code P} with projection, else {@code H}.
 *
 * <pre>
 *   a   = W_ih·x_t + b_ih + W_hh·h_{t-1} + b_hh            (4H pre-activations, gate order i, f, g, o)
 *   a_i += P_i ⊙ c_{t-1}    a_f += P_f ⊙ c_{t-1}           (peepholes)
 *   i = σ(clip(a_i))   f = σ(clip(a_f))   g = tanh(clip(a_g))          (clip(a) = a clamped to ±clip, if set)
 *   c_t = f·c_{t-1} + i·g
 *   a_o += P_o ⊙ c_t;   o = σ(clip(a_o))
 *   m_t = o·tanh(c_t)
 *   h_t = W_hr·m_t  (projection)   or   h_t = m_t
 * </pre>
 *
 * Backward, with {@code dh} the gradient reaching {@code h_t} (from {@code y_t} and from step {@code t+1}) and
 * {@code dc} the one reaching {@code c_t} from step {@code t+1}; {@code κ_x} is 0 for a clamped gate, else 1
 * ({@link CellMath}):
 * <pre>
 *   dm  = W_hrᵀ·dh (projection) or dh;          dW_hr += dh·m_tᵀ
 *   da_o = dm·tanh(c_t)·o(1−o)·κ_o
 *   dc  += dm·o·(1 − tanh²(c_t)) + da_o·P_o
 *   da_i = dc·g·i(1−i)·κ_i    da_f = dc·c_{t-1}·f(1−f)·κ_f    da_g = dc·i·(1−g²)·κ_g
 *   dc_{t-1} = dc·f + da_i·P_i + da_f·P_f
 *   dh_{t-1} = W_hhᵀ·da       dx_t = W_ihᵀ·da
 *   dW_ih += da·x_tᵀ          dW_hh += da·h_{t-1}ᵀ        db_ih = db_hh += da
 *   dP_i += da_i·c_{t-1}      dP_f += da_f·c_{t-1}         dP_o += da_o·c_t
 * </pre>
 *
 * Sequences have their own lengths and may run in reverse: sequence {@code b} takes steps {@code τ = 0 ..
 * len_b − 1}, at time {@code t = τ} forward or {@code t = len_b − 1 − τ} in reverse; the trace is indexed by
 * {@code τ}.
 */
public final class ReferenceLstm {
    /** Offsets of each gate's block of {@code H} rows, PyTorch order. */
    public static final int GATE_I = 0, GATE_F = 1, GATE_G = 2, GATE_O = 3;
    /** Offsets of each peephole vector in {@code [P_i, P_o, P_f]} (ONNX order). */
    public static final int PEEP_I = 0, PEEP_O = 1, PEEP_F = 2;

    private final int in;
    private final int hid;
    private final int out;
    private final double[] wIh;   // [4H][I]
    private final double[] wHh;   // [4H][H_out]
    private final double[] bias;  // [4H] = b_ih + b_hh
    private final double[] wHr;   // [P][H] or null
    private final double[] peep;  // [3H] (P_i, P_o, P_f) or null
    private final float clip;     // 0: none

    /**
     * @param wIh {@code [4H·I]} row-major; kept, not copied
     * @param wHh {@code [4H·H_out]} row-major; kept, not copied
     * @param bIh {@code [4H]} or null for no bias
     * @param bHh {@code [4H]} or null for no bias
     * @param wHr {@code [P·H]} or null without projection
     * @param peep {@code [3H]} or null without peepholes
     * @param clip cell clip, 0 for none
     */
    public ReferenceLstm(int inputSize, int hiddenSize, double[] wIh, double[] wHh, double[] bIh, double[] bHh,
                         double[] wHr, double[] peep, float clip) {
        this.in = inputSize;
        this.hid = hiddenSize;
        this.out = wHr == null ? hiddenSize : wHr.length / hiddenSize;
        this.wIh = wIh;
        this.wHh = wHh;
        this.wHr = wHr;
        this.peep = peep;
        this.clip = clip;
        this.bias = new double[4 * hiddenSize];
        for (int k = 0; k < 4 * hiddenSize; k++) {
            bias[k] = (bIh == null ? 0 : bIh[k]) + (bHh == null ? 0 : bHh[k]);
        }
    }

    /** A plain layer: no projection, peepholes or clip. */
    public ReferenceLstm(int inputSize, int hiddenSize, double[] wIh, double[] wHh, double[] bIh, double[] bHh) {
        this(inputSize, hiddenSize, wIh, wHh, bIh, bHh, null, null, 0f);
    }

    public int inputSize() { return in; }

    public int hiddenSize() { return hid; }

    /** {@code H_out}: the size of h. */
    public int outputSize() { return out; }

    /** Logistic function; exactly 0 or 1 for large |v|, never NaN for finite v. */
    public static double sigmoid(double v) {
        return CellMath.sigmoid(v);
    }

    /** Hyperbolic tangent; exactly ±1 for large |v|. */
    public static double tanh(double v) {
        return CellMath.tanh(v);
    }

    /** What a training forward keeps for backward, for up to {@code maxSteps × maxBatch}. */
    public static final class Trace {
        final int maxSteps, maxBatch, hidden, output;
        int steps, batch;
        int[] lengths;        // null: all T
        boolean reverse;
        final double[] gates; // [T][B][4H] activations, by step τ
        final double[] h;     // [T+1][B][H_out]; h[0] = h0, h[τ+1] after step τ (carried past the length)
        final double[] c;     // [T+1][B][H]

        public Trace(int maxSteps, int maxBatch, int hiddenSize) {
            this(maxSteps, maxBatch, hiddenSize, hiddenSize);
        }

        public Trace(int maxSteps, int maxBatch, int hiddenSize, int outputSize) {
            this.maxSteps = maxSteps;
            this.maxBatch = maxBatch;
            this.hidden = hiddenSize;
            this.output = outputSize;
            this.gates = new double[Math.multiplyExact(Math.multiplyExact(maxSteps, maxBatch), 4 * hiddenSize)];
            this.h = new double[Math.multiplyExact(Math.multiplyExact(maxSteps + 1, maxBatch), outputSize)];
            this.c = new double[Math.multiplyExact(Math.multiplyExact(maxSteps + 1, maxBatch), hiddenSize)];
        }

        public int steps() { return steps; }

        public int batch() { return batch; }

        /** Hidden state after step {@code τ} (τ = 0 is the initial state), batch element {@code b}, unit {@code j}. */
        public double h(int t, int b, int j) { return h[(t * batch + b) * output + j]; }

        /** Cell state after step {@code τ} (τ = 0 is the initial state). */
        public double c(int t, int b, int j) { return c[(t * batch + b) * hidden + j]; }

        /** Activation of row {@code k} of {@code [4H]} at step {@code τ} (0-based), batch element {@code b}. */
        public double gate(int t, int b, int k) { return gates[(t * batch + b) * 4 * hidden + k]; }

        /** Length of sequence {@code b}. */
        public int length(int b) { return lengths == null ? steps : lengths[b]; }

        /** Time index of step {@code τ} of sequence {@code b}. */
        int time(int tau, int b) { return reverse ? length(b) - 1 - tau : tau; }
    }

    /** Forward over {@code T} steps of {@code B} full-length sequences, forward in time. */
    public void forward(int steps, int batch, double[] x, double[] h0, double[] c0, Trace trace) {
        forward(steps, batch, null, false, x, h0, c0, trace);
    }

    /**
     * Forward over {@code B} sequences in buffers of {@code T} steps.
     *
     * @param lengths each sequence's length in {@code [1, T]}, or null for all T
     * @param reverse whether each sequence runs from its last valid step down to 0
     * @param x  {@code [T][B][I]}
     * @param h0 {@code [B][H_out]} or null for zeros
     * @param c0 {@code [B][H]} or null for zeros
     * @param trace receives every step's gates and states; {@code T, B} must fit it
     */
    public void forward(int steps, int batch, int[] lengths, boolean reverse, double[] x, double[] h0, double[] c0,
                        Trace trace) {
        if (steps > trace.maxSteps || batch > trace.maxBatch) {
            throw new IllegalArgumentException("trace holds " + trace.maxSteps + "×" + trace.maxBatch
                    + ", asked for " + steps + "×" + batch);
        }
        trace.steps = steps;
        trace.batch = batch;
        trace.lengths = lengths == null ? null : lengths.clone();
        trace.reverse = reverse;
        fillOrZero(trace.h, 0, h0, batch * out);
        fillOrZero(trace.c, 0, c0, batch * hid);
        for (int b = 0; b < batch; b++) {
            int len = trace.length(b);
            for (int tau = 0; tau < steps; tau++) {
                int ho = (tau * batch + b) * out, co = (tau * batch + b) * hid;
                int hn = ho + batch * out, cn = co + batch * hid;
                if (tau < len) {
                    step(x, (trace.time(tau, b) * batch + b) * in, trace.h, ho, trace.c, co,
                            trace.gates, (tau * batch + b) * 4 * hid, trace.h, hn, trace.c, cn);
                } else {
                    System.arraycopy(trace.h, ho, trace.h, hn, out);   // finished: the state stays
                    System.arraycopy(trace.c, co, trace.c, cn, hid);
                }
            }
        }
    }

    /** {@code y [T][B][H_out]} of the traced forward: each step's h at its time, zeros past a sequence's length. */
    public double[] output(Trace trace) {
        int steps = trace.steps, batch = trace.batch;
        double[] y = new double[steps * batch * out];
        for (int b = 0; b < batch; b++) {
            for (int tau = 0; tau < trace.length(b); tau++) {
                System.arraycopy(trace.h, ((tau + 1) * batch + b) * out, y, (trace.time(tau, b) * batch + b) * out, out);
            }
        }
        return y;
    }

    /**
     * One timestep for one batch element: reads {@code x[xo..xo+I)}, {@code h[ho..ho+H_out)}, {@code c[co..co+H)};
     * writes the 4H activations at {@code gates[go..]} and the new states at {@code hOut[hno..]},
     * {@code cOut[cno..]}.
     */
    public void step(double[] x, int xo, double[] h, int ho, double[] c, int co,
                     double[] gates, int go, double[] hOut, int hno, double[] cOut, int cno) {
        double[] a = new double[4 * hid];
        for (int k = 0; k < 4 * hid; k++) {
            double s = bias[k];
            for (int i = 0; i < in; i++) s += wIh[k * in + i] * x[xo + i];
            for (int j = 0; j < out; j++) s += wHh[k * out + j] * h[ho + j];
            a[k] = s;
        }
        double[] m = new double[hid];
        for (int j = 0; j < hid; j++) {
            double cPrev = c[co + j];
            double ai = a[GATE_I * hid + j], af = a[GATE_F * hid + j], ag = a[GATE_G * hid + j];
            if (peep != null) {
                ai += peep[PEEP_I * hid + j] * cPrev;
                af += peep[PEEP_F * hid + j] * cPrev;
            }
            double ig = activation(GATE_I, clip(ai)), fg = activation(GATE_F, clip(af)),
                    gg = activation(GATE_G, clip(ag));
            double cNew = fg * cPrev + ig * gg;
            double ao = a[GATE_O * hid + j] + (peep != null ? peep[PEEP_O * hid + j] * cNew : 0);
            double og = activation(GATE_O, clip(ao));
            gates[go + GATE_I * hid + j] = ig;
            gates[go + GATE_F * hid + j] = fg;
            gates[go + GATE_G * hid + j] = gg;
            gates[go + GATE_O * hid + j] = og;
            cOut[cno + j] = cNew;
            m[j] = og * tanh(cNew);
        }
        project(m, hOut, hno);
    }

    /** {@code h = W_hr·m} with projection, else {@code h = m}. */
    private void project(double[] m, double[] hOut, int hno) {
        if (wHr == null) {
            System.arraycopy(m, 0, hOut, hno, hid);
            return;
        }
        for (int p = 0; p < out; p++) {
            double s = 0;
            for (int j = 0; j < hid; j++) s += wHr[p * hid + j] * m[j];
            hOut[hno + p] = s;
        }
    }

    private double clip(double a) {
        return clip > 0 ? Math.max(-clip, Math.min(clip, a)) : a;
    }

    /** Weight-gradient accumulators of one layer-direction, in double; any may be null (not wanted). */
    public record Grads(double[] dWih, double[] dWhh, double[] db, double[] dWhr, double[] dPeep) {}

    /**
     * Backward through the whole trace. Writes {@code dx, dh0, dc0} (each may be null: not wanted; {@code dx} is 0
     * in the padding) and <b>adds</b> to the weight gradients in {@code g}.
     *
     * @param x   {@code [T][B][I]} the input of the forward that filled {@code trace}
     * @param dy  {@code [T][B][H_out]} or null for zeros; not read in the padding
     * @param dhT {@code [B][H_out]} or null for zeros
     * @param dcT {@code [B][H]} or null for zeros
     */
    public void backward(Trace trace, double[] x, double[] dy, double[] dhT, double[] dcT,
                         double[] dx, double[] dh0, double[] dc0, Grads g) {
        int steps = trace.steps, batch = trace.batch;
        double[] dh = new double[out], dc = new double[hid], dhStep = new double[out];
        double[] dhPrev = new double[out], dcPrev = new double[hid], dxRow = new double[in];
        if (dx != null) Arrays.fill(dx, 0, steps * batch * in, 0.0);
        for (int b = 0; b < batch; b++) {
            if (dhT != null) System.arraycopy(dhT, b * out, dh, 0, out); else Arrays.fill(dh, 0);
            if (dcT != null) System.arraycopy(dcT, b * hid, dc, 0, hid); else Arrays.fill(dc, 0);
            for (int tau = trace.length(b) - 1; tau >= 0; tau--) {
                int t = trace.time(tau, b);
                for (int j = 0; j < out; j++) dhStep[j] = dh[j] + (dy == null ? 0 : dy[(t * batch + b) * out + j]);
                backwardStep(x, (t * batch + b) * in, trace.h, (tau * batch + b) * out,
                        trace.c, (tau * batch + b) * hid, trace.gates, (tau * batch + b) * 4 * hid,
                        dhStep, 0, dc, 0, dxRow, 0, dhPrev, 0, dcPrev, 0, g);
                if (dx != null) System.arraycopy(dxRow, 0, dx, (t * batch + b) * in, in);
                System.arraycopy(dhPrev, 0, dh, 0, out);
                System.arraycopy(dcPrev, 0, dc, 0, hid);
            }
            if (dh0 != null) System.arraycopy(dh, 0, dh0, b * out, out);
            if (dc0 != null) System.arraycopy(dc, 0, dc0, b * hid, hid);
        }
    }

    /** {@link #backward(Trace, double[], double[], double[], double[], double[], double[], double[], Grads)} of a plain layer. */
    public void backward(Trace trace, double[] x, double[] dy, double[] dhT, double[] dcT,
                         double[] dx, double[] dh0, double[] dc0, double[] dWih, double[] dWhh, double[] db) {
        backward(trace, x, dy, dhT, dcT, dx, dh0, dc0, new Grads(dWih, dWhh, db, null, null));
    }

    /** {@link #backwardStep(double[], int, double[], int, double[], int, double[], int, double[], int, double[], int,
     * double[], int, double[], int, double[], int, Grads)} of a plain layer. */
    public void backwardStep(double[] x, int xo, double[] h, int ho, double[] c, int co, double[] gates, int go,
                             double[] dh, int dho, double[] dc, int dco,
                             double[] dx, int dxo, double[] dhPrev, int dhpo, double[] dcPrev, int dcpo,
                             double[] dWih, double[] dWhh, double[] db) {
        backwardStep(x, xo, h, ho, c, co, gates, go, dh, dho, dc, dco, dx, dxo, dhPrev, dhpo, dcPrev, dcpo,
                new Grads(dWih, dWhh, db, null, null));
    }

    /**
     * Backward of one timestep for one batch element, from the step's input, previous states and gate
     * activations; {@code c_t} is recomputed from them. {@code dh} and {@code dc} are the gradients reaching
     * {@code h_t} and {@code c_t}. Writes {@code dx[I]}, {@code dhPrev[H_out]}, {@code dcPrev[H]} at their offsets
     * and adds to the weight gradients in {@code g}.
     */
    public void backwardStep(double[] x, int xo, double[] h, int ho, double[] c, int co, double[] gates, int go,
                             double[] dh, int dho, double[] dc, int dco,
                             double[] dx, int dxo, double[] dhPrev, int dhpo, double[] dcPrev, int dcpo, Grads g) {
        double[] da = new double[4 * hid];
        double[] m = new double[hid], tcs = new double[hid];
        for (int j = 0; j < hid; j++) {
            double cNew = gates[go + GATE_F * hid + j] * c[co + j] + gates[go + GATE_I * hid + j] * gates[go + GATE_G * hid + j];
            tcs[j] = tanh(cNew);
            m[j] = gates[go + GATE_O * hid + j] * tcs[j];
        }
        double[] dm = new double[hid];
        if (wHr == null) {
            System.arraycopy(dh, dho, dm, 0, hid);
        } else {
            for (int p = 0; p < out; p++) {
                double d = dh[dho + p];
                for (int j = 0; j < hid; j++) dm[j] += wHr[p * hid + j] * d;
                if (g.dWhr != null) for (int j = 0; j < hid; j++) g.dWhr[p * hid + j] += d * m[j];
            }
        }
        for (int j = 0; j < hid; j++) {
            double ig = gates[go + GATE_I * hid + j];
            double fg = gates[go + GATE_F * hid + j];
            double gg = gates[go + GATE_G * hid + j];
            double og = gates[go + GATE_O * hid + j];
            double cPrev = c[co + j];
            double tc = tcs[j];
            double dao = keep(GATE_O, og) * dm[j] * tc * og * (1 - og);
            double dcj = dc[dco + j] + dm[j] * og * (1 - tc * tc) + (peep != null ? dao * peep[PEEP_O * hid + j] : 0);
            double dai = keep(GATE_I, ig) * dcj * gg * ig * (1 - ig);
            double daf = keep(GATE_F, fg) * dcj * cPrev * fg * (1 - fg);
            double dag = keep(GATE_G, gg) * dcj * ig * (1 - gg * gg);
            da[GATE_I * hid + j] = dai;
            da[GATE_F * hid + j] = daf;
            da[GATE_G * hid + j] = dag;
            da[GATE_O * hid + j] = dao;
            double dcp = dcj * fg;
            if (peep != null) {
                dcp += dai * peep[PEEP_I * hid + j] + daf * peep[PEEP_F * hid + j];
                if (g.dPeep != null) {
                    double cNew = fg * cPrev + ig * gg;
                    g.dPeep[PEEP_I * hid + j] += dai * cPrev;
                    g.dPeep[PEEP_F * hid + j] += daf * cPrev;
                    g.dPeep[PEEP_O * hid + j] += dao * cNew;
                }
            }
            dcPrev[dcpo + j] = dcp;
        }
        for (int i = 0; i < in; i++) {
            double s = 0;
            for (int k = 0; k < 4 * hid; k++) s += wIh[k * in + i] * da[k];
            dx[dxo + i] = s;
        }
        for (int j = 0; j < out; j++) {
            double s = 0;
            for (int k = 0; k < 4 * hid; k++) s += wHh[k * out + j] * da[k];
            dhPrev[dhpo + j] = s;
        }
        for (int k = 0; k < 4 * hid; k++) {
            if (g.dWih != null) for (int i = 0; i < in; i++) g.dWih[k * in + i] += da[k] * x[xo + i];
            if (g.dWhh != null) for (int j = 0; j < out; j++) g.dWhh[k * out + j] += da[k] * h[ho + j];
            if (g.db != null) g.db[k] += da[k];
        }
    }

    /** κ: 0 for a gate that was clamped, else 1. */
    private double keep(int gate, double value) {
        return CellMath.clamped(gate, value, clip) ? 0 : 1;
    }

    private static void fillOrZero(double[] dst, int off, double[] src, int n) {
        if (src == null) Arrays.fill(dst, off, off + n, 0.0);
        else System.arraycopy(src, 0, dst, off, n);
    }
}
