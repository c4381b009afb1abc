package org.lstmk.simd;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.LongFunction;
import org.lstmk.api.GradientMode;
import org.lstmk.api.Layout;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmGradients;
import org.lstmk.api.LstmState;
import org.lstmk.api.LstmWeights;
import org.lstmk.api.PackedWeights;
import org.lstmk.api.TrainingWorkspace;
import org.lstmk.verify.Comparison;
import org.lstmk.verify.RandomData;
import org.lstmk.verify.Tolerance;

/**
 * One random problem of a single layer with cell features (peepholes, clip, projection), run through the public API
 * on a backend: training forward, backward, inference forward, one cell step forward and backward (the latter also
 * on gates given from outside), every output kept by name for comparison with another backend's run.
 *
 * @param proj        projection size P (0: none)
 * @param clip        cell clip (0: none)
 * @param inputScale  inputs uniform in {@code ±inputScale} (100 saturates the gates)
 * @param initialState whether {@code h0, c0, dhT, dcT} are given (else null: zeros)
 */
record FeatureProblem(String name, int in, int hid, int proj, boolean peepholes, float clip, int steps, int batch,
                      Layout layout, boolean initialState, double inputScale, GradientMode mode, long seed) {
    LstmConfig config() {
        return LstmConfig.builder(in, hid).projectionSize(proj).peepholes(peepholes).cellClip(clip).layout(layout)
                .build();
    }

    int out() { return proj > 0 ? proj : hid; }

    @Override public String toString() {
        return String.format(Locale.ROOT, "%s I=%d H=%d%s%s%s T=%d B=%d %s%s x%s %s", name, in, hid,
                proj > 0 ? " P=" + proj : "", peepholes ? " peep" : "", clip > 0 ? " clip=" + clip : "", steps, batch,
                layout == Layout.BATCH_MAJOR ? "batch-major" : "time-major", initialState ? " h0c0" : "",
                inputScale, mode);
    }

    /** Every output of one run, by name, with what a comparison needs to name an element. */
    static final class Outputs {
        final Map<String, float[]> values = new LinkedHashMap<>();
        final Map<String, LongFunction<String>> where = new LinkedHashMap<>();
        final Map<String, Boolean> single = new LinkedHashMap<>();

        void put(String name, float[] v, LongFunction<String> at, boolean oneStep) {
            values.put(name, v);
            where.put(name, at);
            single.put(name, oneStep);
        }

        float[] get(String name) { return values.get(name); }
    }

    /** The random inputs of the problem; the same for every backend. */
    final class Inputs {
        final LstmWeights weights;
        final float[] x, h0, c0, dy, dhT, dcT;
        final float[][] prior;

        Inputs() {
            int t = steps, b = batch, g = 4 * hid, o = out();
            RandomData rnd = new RandomData(seed);
            double k = 1 / Math.sqrt(hid);
            LstmWeights.Builder wb = LstmWeights.builder(seg(rnd.uniform(g * in, k)), seg(rnd.uniform(g * o, k)))
                    .bias(seg(rnd.uniform(g, k)), seg(rnd.uniform(g, k)));
            if (proj > 0) wb.projection(seg(rnd.uniform(proj * hid, k)));
            if (peepholes) wb.peepholes(seg(rnd.uniform(3 * hid, 0.5)));
            weights = wb.build();
            x = rnd.uniform(t * b * in, inputScale);
            h0 = initialState ? rnd.uniform(b * o, 1) : null;
            c0 = initialState ? rnd.uniform(b * hid, 1) : null;
            dy = rnd.uniform(t * b * o, 1);
            dhT = initialState ? rnd.uniform(b * o, 1) : null;
            dcT = initialState ? rnd.uniform(b * hid, 1) : null;
            prior = new float[][] {rnd.uniform(g * in, 1), rnd.uniform(g * o, 1), rnd.uniform(g, 1), rnd.uniform(g, 1),
                    rnd.uniform(proj * hid, 1), rnd.uniform(peepholes ? 3 * hid : 0, 1)};
        }

        /** The first step's input {@code [B, I]} whatever the layout. */
        float[] firstStep() {
            float[] x0 = new float[batch * in];
            for (int b = 0; b < batch; b++) {
                int row = layout == Layout.BATCH_MAJOR ? b * steps : b;
                System.arraycopy(x, row * in, x0, b * in, in);
            }
            return x0;
        }

        LstmGradients gradients(float[][] g) {
            LstmGradients.Builder b = LstmGradients.builder(seg(g[0]), seg(g[1])).bias(seg(g[2]), seg(g[3]));
            if (proj > 0) b.projection(seg(g[4]));
            if (peepholes) b.peepholes(seg(g[5]));
            return b.build();
        }

        float[][] priorCopy() {
            float[][] c = new float[prior.length][];
            for (int i = 0; i < prior.length; i++) c[i] = prior[i].clone();
            return c;
        }
    }

    Inputs inputs() { return new Inputs(); }

    /**
     * Runs every call on {@code backend} with {@code threads}. {@code givenGates}, when not null, are the gates the
     * extra cell backward ({@code cellGiven.*}) starts from; otherwise it uses this run's own cell gates.
     */
    Outputs run(Inputs p, String backend, int threads, float[] givenGates) {
        int t = steps, b = batch, o = out(), g = 4 * hid;
        Outputs r = new Outputs();
        float[] y = new float[t * b * o], hT = new float[b * o], cT = new float[b * hid];
        float[] dx = new float[t * b * in], dh0 = new float[b * o], dc0 = new float[b * hid];
        float[][] grads = p.priorCopy();
        float[] yInf = new float[t * b * o], hInf = new float[b * o], cInf = new float[b * hid];
        float[] cellH = new float[b * o], cellC = new float[b * hid], cellGates = new float[b * g];
        float[] cellDx = new float[b * in], cellDh = new float[b * o], cellDc = new float[b * hid];
        float[][] cellGrads = p.priorCopy();
        float[] givenDx = new float[b * in], givenDh = new float[b * o], givenDc = new float[b * hid];
        float[][] givenGrads = p.priorCopy();
        try (Lstm lstm = Lstm.builder(config()).backend(backend).threads(threads).verify(false).build();
             PackedWeights w = lstm.pack(p.weights);
             TrainingWorkspace ws = lstm.newWorkspace(t, b)) {
            MemorySegment xs = seg(p.x);
            lstm.forwardTraining(w, t, b, xs, LstmState.of(p.h0, p.c0), seg(y), LstmState.of(hT, cT), ws);
            lstm.backward(w, ws, xs, seg(p.dy), LstmState.of(p.dhT, p.dcT), seg(dx), LstmState.of(dh0, dc0),
                    p.gradients(grads), mode);
            lstm.forward(w, t, b, xs, LstmState.of(p.h0, p.c0), seg(yInf), LstmState.of(hInf, cInf));

            MemorySegment x0 = seg(p.firstStep());
            lstm.cellForward(w, b, x0, LstmState.of(p.h0, p.c0), LstmState.of(cellH, cellC), seg(cellGates));
            LstmState dNext = LstmState.of(p.dhT != null ? p.dhT : java.util.Arrays.copyOf(p.dy, b * o), p.dcT);
            lstm.cellBackward(w, b, x0, LstmState.of(p.h0, p.c0), seg(cellGates), dNext, seg(cellDx),
                    LstmState.of(cellDh, cellDc), p.gradients(cellGrads), mode);
            lstm.cellBackward(w, b, x0, LstmState.of(p.h0, p.c0), seg(givenGates != null ? givenGates : cellGates),
                    dNext, seg(givenDx), LstmState.of(givenDh, givenDc), p.gradients(givenGrads), mode);
        }
        r.put("y", y, Comparison.sequence("y", layout, t, b, o), false);
        r.put("hT", hT, Comparison.matrix("hT", o), false);
        r.put("cT", cT, Comparison.matrix("cT", hid), false);
        r.put("dx", dx, Comparison.sequence("dx", layout, t, b, in), false);
        r.put("dh0", dh0, Comparison.matrix("dh0", o), false);
        r.put("dc0", dc0, Comparison.matrix("dc0", hid), false);
        putGradients(r, "", grads, false);
        r.put("inference.y", yInf, Comparison.sequence("inference.y", layout, t, b, o), false);
        r.put("inference.hT", hInf, Comparison.matrix("inference.hT", o), false);
        r.put("inference.cT", cInf, Comparison.matrix("inference.cT", hid), false);
        r.put("cell.hNext", cellH, Comparison.matrix("cell.hNext", o), true);
        r.put("cell.cNext", cellC, Comparison.matrix("cell.cNext", hid), true);
        r.put("cell.gates", cellGates, Comparison.matrix("cell.gates", g), true);
        r.put("cell.dx", cellDx, Comparison.matrix("cell.dx", in), true);
        r.put("cell.dh", cellDh, Comparison.matrix("cell.dh", o), true);
        r.put("cell.dc", cellDc, Comparison.matrix("cell.dc", hid), true);
        putGradients(r, "cell.", cellGrads, true);
        r.put("cellGiven.dx", givenDx, Comparison.matrix("cellGiven.dx", in), true);
        r.put("cellGiven.dh", givenDh, Comparison.matrix("cellGiven.dh", o), true);
        r.put("cellGiven.dc", givenDc, Comparison.matrix("cellGiven.dc", hid), true);
        putGradients(r, "cellGiven.", givenGrads, true);
        return r;
    }

    private void putGradients(Outputs r, String prefix, float[][] g, boolean oneStep) {
        r.put(prefix + "dWih", g[0], Comparison.matrix(prefix + "dWih", in), oneStep);
        r.put(prefix + "dWhh", g[1], Comparison.matrix(prefix + "dWhh", out()), oneStep);
        r.put(prefix + "dbIh", g[2], Comparison.matrix(prefix + "dbIh", 4 * hid), oneStep);
        r.put(prefix + "dbHh", g[3], Comparison.matrix(prefix + "dbHh", 4 * hid), oneStep);
        if (proj > 0) r.put(prefix + "dWhr", g[4], Comparison.matrix(prefix + "dWhr", hid), oneStep);
        if (peepholes) r.put(prefix + "dPeepholes", g[5], Comparison.matrix(prefix + "dPeepholes", hid), oneStep);
    }

    /** Every output of {@code tested} against {@code expected}, with {@code Tolerance.forCall} of the call's size. */
    List<Comparison.Result> compare(Outputs tested, Outputs expected) {
        double rtol = Tolerance.forCall(in, hid, steps, batch), rtolCell = Tolerance.forCall(in, hid, 1, batch);
        List<Comparison.Result> results = new ArrayList<>();
        for (String name : expected.values.keySet()) {
            float[] e = expected.get(name), a = tested.get(name);
            results.add(Comparison.compare(name, seg(a), seg(e), e.length,
                    expected.single.get(name) ? rtolCell : rtol, expected.where.get(name)));
        }
        return results;
    }

    static MemorySegment seg(float[] a) {
        return MemorySegment.ofArray(a);
    }
}
