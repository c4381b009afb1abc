package org.lstmk.reference;

import java.util.Arrays;

/**
 * The LSTM equations in {@code double} over plain time-major arrays: the oracle every backend is checked against,
 * and what the finite-difference tests differentiate. Deliberately plain: one loop per equation, no blocking,
 * no reordering, so that a reader can check it against the equations below in minutes.
 *
 * <pre>
 *   a = W_ih·x_t + b_ih + W_hh·h_{t-1} + b_hh          (4H pre-activations, gate order i, f, g, o)
 *   i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)
 *   c_t = f·c_{t-1} + i·g
 *   h_t = o·tanh(c_t)
 * </pre>
 *
 * Backward, with {@code dh} the gradient reaching {@code h_t} (from {@code y_t} and from step {@code t+1}) and
 * {@code dc} the one reaching {@code c_t} from step {@code t+1}:
 * <pre>
 *   dc  += dh·o·(1 − tanh²(c_t))
 *   da_i = dc·g·i(1−i)    da_f = dc·c_{t-1}·f(1−f)    da_g = dc·i·(1−g²)    da_o = dh·tanh(c_t)·o(1−o)
 *   dc_{t-1} = dc·f       dh_{t-1} = W_hhᵀ·da         dx_t = W_ihᵀ·da
 *   dW_ih += da·x_tᵀ      dW_hh += da·h_{t-1}ᵀ        db_ih = db_hh += da
 * </pre>
 */
public final class ReferenceLstm {
    /** Offsets of each gate's block of {@code H} rows, PyTorch order. */
    public static final int GATE_I = 0, GATE_F = 1, GATE_G = 2, GATE_O = 3;

    private final int in;
    private final int hid;
    private final double[] wIh;   // [4H][I]
    private final double[] wHh;   // [4H][H]
    private final double[] bias;  // [4H] = b_ih + b_hh

    /**
     * @param wIh {@code [4H·I]} row-major; kept, not copied
     * @param wHh {@code [4H·H]} row-major; kept, not copied
     * @param bIh {@code [4H]} or null for no bias
     * @param bHh {@code [4H]} or null for no bias
     */
    public ReferenceLstm(int inputSize, int hiddenSize, double[] wIh, double[] wHh, double[] bIh, double[] bHh) {
        this.in = inputSize;
        this.hid = hiddenSize;
        this.wIh = wIh;
        this.wHh = wHh;
        this.bias = new double[4 * hiddenSize];
        for (int k = 0; k < 4 * hiddenSize; k++) {
            bias[k] = (bIh == null ? 0 : bIh[k]) + (bHh == null ? 0 : bHh[k]);
        }
    }

    public int inputSize() { return in; }

    public int hiddenSize() { return hid; }

    /** Logistic function; exactly 0 or 1 for large |v|, never NaN for finite v. */
    public static double sigmoid(double v) {
        if (v >= 0) return 1.0 / (1.0 + Math.exp(-v));
        double e = Math.exp(v);
        return e / (1.0 + e);
    }

    /** Hyperbolic tangent; exactly ±1 for large |v|. */
    public static double tanh(double v) {
        return Math.tanh(v);
    }

    /** What a training forward keeps for backward, for up to {@code maxSteps × maxBatch}. */
    public static final class Trace {
        final int maxSteps, maxBatch, hidden;
        int steps, batch;
        final double[] gates; // [T][B][4H] activations
        final double[] h;     // [T+1][B][H]; h[0] = h0
        final double[] c;     // [T+1][B][H]; c[0] = c0

        public Trace(int maxSteps, int maxBatch, int hiddenSize) {
            this.maxSteps = maxSteps;
            this.maxBatch = maxBatch;
            this.hidden = hiddenSize;
            this.gates = new double[Math.multiplyExact(Math.multiplyExact(maxSteps, maxBatch), 4 * hiddenSize)];
            this.h = new double[Math.multiplyExact(Math.multiplyExact(maxSteps + 1, maxBatch), hiddenSize)];
            this.c = new double[h.length];
        }

        public int steps() { return steps; }

        public int batch() { return batch; }

        /** Hidden state after step {@code t} (t = 0 is the initial state), batch element {@code b}, unit {@code j}. */
        public double h(int t, int b, int j) { return h[(t * batch + b) * hidden + j]; }

        /** Cell state after step {@code t} (t = 0 is the initial state). */
        public double c(int t, int b, int j) { return c[(t * batch + b) * hidden + j]; }

        /** Activation of row {@code k} of {@code [4H]} at step {@code t} (0-based), batch element {@code b}. */
        public double gate(int t, int b, int k) { return gates[(t * batch + b) * 4 * hidden + k]; }
    }

    /**
     * Forward over {@code T} steps of {@code B} sequences.
     *
     * @param x  {@code [T][B][I]}
     * @param h0 {@code [B][H]} or null for zeros
     * @param c0 {@code [B][H]} or null for zeros
     * @param trace receives every step's gates and states; {@code T, B} must fit it
     */
    public void forward(int steps, int batch, double[] x, double[] h0, double[] c0, Trace trace) {
        if (steps > trace.maxSteps || batch > trace.maxBatch) {
            throw new IllegalArgumentException("trace holds " + trace.maxSteps + "×" + trace.maxBatch
                    + ", asked for " + steps + "×" + batch);
        }
        trace.steps = steps;
        trace.batch = batch;
        int bh = batch * hid;
        fillOrZero(trace.h, 0, h0, bh);
        fillOrZero(trace.c, 0, c0, bh);
        for (int t = 0; t < steps; t++) {
            for (int b = 0; b < batch; b++) {
                step(x, (t * batch + b) * in,
                        trace.h, t * bh + b * hid, trace.c, t * bh + b * hid,
                        trace.gates, (t * batch + b) * 4 * hid,
                        trace.h, (t + 1) * bh + b * hid, trace.c, (t + 1) * bh + b * hid);
            }
        }
    }

    /**
     * One timestep for one batch element: reads {@code x[xo..xo+I)}, {@code h[ho..ho+H)}, {@code c[co..co+H)};
     * writes the 4H activations at {@code gates[go..]} and the new states at {@code hOut[hno..]},
     * {@code cOut[cno..]}.
     */
    public void step(double[] x, int xo, double[] h, int ho, double[] c, int co,
                     double[] gates, int go, double[] hOut, int hno, double[] cOut, int cno) {
        for (int k = 0; k < 4 * hid; k++) {
            double a = bias[k];
            for (int i = 0; i < in; i++) a += wIh[k * in + i] * x[xo + i];
            for (int j = 0; j < hid; j++) a += wHh[k * hid + j] * h[ho + j];
            gates[go + k] = (k / hid == GATE_G) ? tanh(a) : sigmoid(a);
        }
        for (int j = 0; j < hid; j++) {
            double ig = gates[go + GATE_I * hid + j];
            double fg = gates[go + GATE_F * hid + j];
            double gg = gates[go + GATE_G * hid + j];
            double og = gates[go + GATE_O * hid + j];
            double cNew = fg * c[co + j] + ig * gg;
            cOut[cno + j] = cNew;
            hOut[hno + j] = og * tanh(cNew);
        }
    }

    /**
     * Backward through the whole trace. Writes {@code dx, dh0, dc0} (each may be null: not wanted) and
     * <b>adds</b> to {@code dWih [4H][I]}, {@code dWhh [4H][H]}, {@code db [4H]} (each may be null).
     *
     * @param x   {@code [T][B][I]} the input of the forward that filled {@code trace}
     * @param dy  {@code [T][B][H]}
     * @param dhT {@code [B][H]} or null for zeros
     * @param dcT {@code [B][H]} or null for zeros
     */
    public void backward(Trace trace, double[] x, double[] dy, double[] dhT, double[] dcT,
                         double[] dx, double[] dh0, double[] dc0, double[] dWih, double[] dWhh, double[] db) {
        int steps = trace.steps, batch = trace.batch, bh = batch * hid;
        double[] dh = new double[bh];
        double[] dc = new double[bh];
        fillOrZero(dh, 0, dhT, bh);
        fillOrZero(dc, 0, dcT, bh);
        double[] dhStep = new double[hid];
        double[] dhPrev = new double[hid];
        double[] dcPrev = new double[hid];
        double[] dxRow = new double[in];
        for (int t = steps - 1; t >= 0; t--) {
            for (int b = 0; b < batch; b++) {
                for (int j = 0; j < hid; j++) dhStep[j] = dh[b * hid + j] + dy[(t * batch + b) * hid + j];
                backwardStep(x, (t * batch + b) * in,
                        trace.h, t * bh + b * hid, trace.c, t * bh + b * hid,
                        trace.gates, (t * batch + b) * 4 * hid,
                        dhStep, 0, dc, b * hid,
                        dxRow, 0, dhPrev, 0, dcPrev, 0, dWih, dWhh, db);
                if (dx != null) System.arraycopy(dxRow, 0, dx, (t * batch + b) * in, in);
                System.arraycopy(dhPrev, 0, dh, b * hid, hid);
                System.arraycopy(dcPrev, 0, dc, b * hid, hid);
            }
        }
        if (dh0 != null) System.arraycopy(dh, 0, dh0, 0, bh);
        if (dc0 != null) System.arraycopy(dc, 0, dc0, 0, bh);
    }

    /**
     * Backward of one timestep for one batch element, from the step's input, previous states and gate
     * activations; {@code c_t} is recomputed from them. {@code dh} and {@code dc} are the gradients reaching
     * {@code h_t} and {@code c_t}. Writes {@code dx[I]}, {@code dhPrev[H]}, {@code dcPrev[H]} at their offsets and
     * adds to the weight gradients (any of which may be null).
     */
    public void backwardStep(double[] x, int xo, double[] h, int ho, double[] c, int co, double[] gates, int go,
                             double[] dh, int dho, double[] dc, int dco,
                             double[] dx, int dxo, double[] dhPrev, int dhpo, double[] dcPrev, int dcpo,
                             double[] dWih, double[] dWhh, double[] db) {
        double[] da = new double[4 * hid];
        for (int j = 0; j < hid; j++) {
            double ig = gates[go + GATE_I * hid + j];
            double fg = gates[go + GATE_F * hid + j];
            double gg = gates[go + GATE_G * hid + j];
            double og = gates[go + GATE_O * hid + j];
            double cPrev = c[co + j];
            double tc = tanh(fg * cPrev + ig * gg);
            double dhj = dh[dho + j];
            double dcj = dc[dco + j] + dhj * og * (1 - tc * tc);
            da[GATE_I * hid + j] = dcj * gg * ig * (1 - ig);
            da[GATE_F * hid + j] = dcj * cPrev * fg * (1 - fg);
            da[GATE_G * hid + j] = dcj * ig * (1 - gg * gg);
            da[GATE_O * hid + j] = dhj * tc * og * (1 - og);
            dcPrev[dcpo + j] = dcj * fg;
        }
        for (int i = 0; i < in; i++) {
            double s = 0;
            for (int k = 0; k < 4 * hid; k++) s += wIh[k * in + i] * da[k];
            dx[dxo + i] = s;
        }
        for (int j = 0; j < hid; j++) {
            double s = 0;
            for (int k = 0; k < 4 * hid; k++) s += wHh[k * hid + j] * da[k];
            dhPrev[dhpo + j] = s;
        }
        for (int k = 0; k < 4 * hid; k++) {
            if (dWih != null) for (int i = 0; i < in; i++) dWih[k * in + i] += da[k] * x[xo + i];
            if (dWhh != null) for (int j = 0; j < hid; j++) dWhh[k * hid + j] += da[k] * h[ho + j];
            if (db != null) db[k] += da[k];
        }
    }

    private static void fillOrZero(double[] dst, int off, double[] src, int n) {
        if (src == null) Arrays.fill(dst, off, off + n, 0.0);
        else System.arraycopy(src, 0, dst, off, n);
    }
}
