package org.lstmk.reference;

import java.util.SplittableRandom;

/**
 * A random whole-sequence LSTM problem in double, and its loss
 * {@code L = Σ dy·y + Σ dhT·hT + Σ dcT·cT} whose gradients {@link ReferenceLstm#backward} computes. Every value is a
 * float widened to double, so the same numbers can go through the float API unchanged.
 * Arrays are public and mutable: the finite-difference loop perturbs them in place.
 */
final class SequenceProblem {
    final int in, hid, steps, batch;
    final double[] wIh, wHh;
    double[] bIh, bHh;                      // null: a layer without bias (not final: a test may probe with zeros)
    final double[] x, h0, c0;               // null states: zeros
    final double[] dy, dhT, dcT;            // null incoming gradients: zeros

    SequenceProblem(int in, int hid, int steps, int batch, boolean bias, boolean initialState, long seed) {
        this.in = in;
        this.hid = hid;
        this.steps = steps;
        this.batch = batch;
        SplittableRandom r = new SplittableRandom(seed);
        int g = 4 * hid;
        // Weights of ±0.6 and inputs of ±1 keep most gates away from saturation, so every derivative matters.
        wIh = uniform(r, g * in, 0.6);
        wHh = uniform(r, g * hid, 0.6);
        bIh = bias ? uniform(r, g, 0.6) : null;
        bHh = bias ? uniform(r, g, 0.6) : null;
        x = uniform(r, steps * batch * in, 1);
        h0 = initialState ? uniform(r, batch * hid, 1) : null;
        c0 = initialState ? uniform(r, batch * hid, 1) : null;
        dy = uniform(r, steps * batch * hid, 1);
        dhT = initialState ? uniform(r, batch * hid, 1) : null;
        dcT = initialState ? uniform(r, batch * hid, 1) : null;
    }

    static double[] uniform(SplittableRandom r, int n, double scale) {
        double[] a = new double[n];
        for (int i = 0; i < n; i++) a[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
        return a;
    }

    ReferenceLstm lstm() {
        return new ReferenceLstm(in, hid, wIh, wHh, bIh, bHh);
    }

    /** Forward with the current (possibly perturbed) values; {@code h0, c0} may be replaced by the caller. */
    ReferenceLstm.Trace forward(double[] h0, double[] c0) {
        ReferenceLstm.Trace trace = new ReferenceLstm.Trace(steps, batch, hid);
        lstm().forward(steps, batch, x, h0, c0, trace);
        return trace;
    }

    /** The scalar loss of a forward from {@code (h0, c0)}. */
    double loss(double[] h0, double[] c0) {
        return lossOf(forward(h0, c0));
    }

    double lossOf(ReferenceLstm.Trace tr) {
        double s = 0;
        for (int t = 0; t < steps; t++) {
            for (int b = 0; b < batch; b++) {
                for (int j = 0; j < hid; j++) {
                    s += dy[(t * batch + b) * hid + j] * tr.h(t + 1, b, j);
                    if (dhT != null && t == steps - 1) s += dhT[b * hid + j] * tr.h(steps, b, j);
                    if (dcT != null && t == steps - 1) s += dcT[b * hid + j] * tr.c(steps, b, j);
                }
            }
        }
        return s;
    }

    double[] y(ReferenceLstm.Trace tr) {
        double[] y = new double[steps * batch * hid];
        for (int t = 0; t < steps; t++) {
            for (int b = 0; b < batch; b++) {
                for (int j = 0; j < hid; j++) y[(t * batch + b) * hid + j] = tr.h(t + 1, b, j);
            }
        }
        return y;
    }

    double[] last(ReferenceLstm.Trace tr, boolean cell) {
        double[] s = new double[batch * hid];
        for (int b = 0; b < batch; b++) {
            for (int j = 0; j < hid; j++) s[b * hid + j] = cell ? tr.c(steps, b, j) : tr.h(steps, b, j);
        }
        return s;
    }
}
