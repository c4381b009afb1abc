package org.lstmk.cuda;

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
import org.lstmk.reference.ReferenceBackend;
import org.lstmk.verify.Comparison;
import org.lstmk.verify.RandomData;
import org.lstmk.verify.Tolerance;

/**
 * Runs one problem with cell features (peepholes, cell clip, projection) on a backend and on the reference through
 * the public API, on the same random data, and compares every output: the training forward ({@code y, hT, cT}),
 * inference ({@code y, hT, cT} again), backward ({@code dx, dh0, dc0} and every weight gradient including
 * {@code dWhr} and {@code dPeepholes}), one cell step forward ({@code hNext, cNext, gates}) and backward
 * ({@code dx, dh, dc} and every weight gradient). A stand-in for the conformance suite's feature axes, which are
 * being added on main.
 */
final class FeatureHarness {
    private FeatureHarness() {}

    /**
     * One problem.
     *
     * @param projection P, 0 for none        @param clip cell clip, 0 for none
     * @param inputScale x uniform in ±inputScale (100 saturates: with a clip, most gates clamp)
     * @param initialState whether h0, c0, dhT, dcT are given (else null: zeros)
     */
    record Case(String name, int inputSize, int hiddenSize, int projection, boolean peepholes, float clip, int steps,
                int batch, Layout layout, boolean initialState, double inputScale, GradientMode mode, long seed) {
        LstmConfig config() {
            return LstmConfig.builder(inputSize, hiddenSize).projectionSize(projection).peepholes(peepholes)
                    .cellClip(clip).layout(layout).build();
        }

        int out() { return projection > 0 ? projection : hiddenSize; }

        @Override public String toString() {
            return String.format(Locale.ROOT, "%s I=%d H=%d%s%s%s T=%d B=%d %s%s x%s %s", name, inputSize, hiddenSize,
                    projection > 0 ? " P=" + projection : "", peepholes ? " peep" : "", clip > 0 ? " clip=" + clip : "",
                    steps, batch, layout == Layout.TIME_MAJOR ? "TM" : "BM", initialState ? " h0c0" : "",
                    inputScale, mode);
        }
    }

    /** Weights for {@code cfg}: PyTorch's ±1/√H init, projection likewise, peepholes ±0.5 (large enough to matter). */
    static LstmWeights weights(LstmConfig cfg, RandomData rnd) {
        int g = cfg.gateRows(), hid = cfg.hiddenSize(), out = cfg.outputSize();
        double k = 1 / Math.sqrt(hid);
        LstmWeights.Builder b = LstmWeights.builder(MemorySegment.ofArray(rnd.uniform(g * cfg.inputSize(), k)),
                MemorySegment.ofArray(rnd.uniform(g * out, k)))
                .bias(MemorySegment.ofArray(rnd.uniform(g, k)), MemorySegment.ofArray(rnd.uniform(g, k)));
        if (cfg.hasProjection()) b.projection(MemorySegment.ofArray(rnd.uniform(cfg.projectionSize() * hid, k)));
        if (cfg.peepholes()) b.peepholes(MemorySegment.ofArray(rnd.uniform(3 * hid, 0.5)));
        return b.build();
    }

    /** Every output of one backend on one case, by name, in a fixed order. */
    static Map<String, float[]> run(Case c, String backend) {
        LstmConfig cfg = c.config();
        int in = c.inputSize(), hid = c.hiddenSize(), out = c.out(), t = c.steps(), b = c.batch(), g = 4 * hid;
        int p = c.projection();
        RandomData rnd = new RandomData(c.seed());
        LstmWeights weights = weights(cfg, rnd);
        float[] x = rnd.uniform(t * b * in, c.inputScale());
        float[] h0 = c.initialState() ? rnd.uniform(b * out, 1) : null;
        float[] c0 = c.initialState() ? rnd.uniform(b * hid, 1) : null;
        float[] dy = rnd.uniform(t * b * out, 1);
        float[] dhT = c.initialState() ? rnd.uniform(b * out, 1) : null;
        float[] dcT = c.initialState() ? rnd.uniform(b * hid, 1) : null;
        float[][] prior = {rnd.uniform(g * in, 1), rnd.uniform(g * out, 1), rnd.uniform(g, 1), rnd.uniform(g, 1),
                rnd.uniform(Math.max(p * hid, 1), 1), rnd.uniform(3 * hid, 1)};

        Map<String, float[]> r = new LinkedHashMap<>();
        try (Lstm lstm = Lstm.builder(cfg).backend(backend).verify(false).build();
             PackedWeights w = lstm.pack(weights);
             TrainingWorkspace ws = lstm.newWorkspace(t, b)) {
            MemorySegment xs = MemorySegment.ofArray(x);
            float[] y = new float[t * b * out], hT = new float[b * out], cT = new float[b * hid];
            lstm.forwardTraining(w, t, b, xs, LstmState.of(h0, c0), MemorySegment.ofArray(y), LstmState.of(hT, cT), ws);
            r.put("y", y);
            r.put("hT", hT);
            r.put("cT", cT);

            float[] yi = new float[t * b * out], hTi = new float[b * out], cTi = new float[b * hid];
            lstm.forward(w, t, b, xs, LstmState.of(h0, c0), MemorySegment.ofArray(yi), LstmState.of(hTi, cTi));
            r.put("inference.y", yi);
            r.put("inference.hT", hTi);
            r.put("inference.cT", cTi);

            float[] dx = new float[t * b * in], dh0 = new float[b * out], dc0 = new float[b * hid];
            float[][] grads = copies(prior);
            lstm.backward(w, ws, xs, MemorySegment.ofArray(dy), LstmState.of(dhT, dcT), MemorySegment.ofArray(dx),
                    LstmState.of(dh0, dc0), gradients(cfg, grads), c.mode());
            r.put("dx", dx);
            r.put("dh0", dh0);
            r.put("dc0", dc0);
            putGradients(r, "", cfg, grads);

            // One cell step on the first timestep's input from (h0, c0).
            float[] x0 = new float[b * in];
            for (int k = 0; k < b; k++) {
                int row = c.layout() == Layout.TIME_MAJOR ? k : k * t;
                System.arraycopy(x, row * in, x0, k * in, in);
            }
            MemorySegment x0s = MemorySegment.ofArray(x0);
            float[] cellH = new float[b * out], cellC = new float[b * hid], gates = new float[b * g];
            lstm.cellForward(w, b, x0s, LstmState.of(h0, c0), LstmState.of(cellH, cellC), MemorySegment.ofArray(gates));
            r.put("cell.hNext", cellH);
            r.put("cell.cNext", cellC);
            r.put("cell.gates", gates);
            float[] cdx = new float[b * in], cdh = new float[b * out], cdc = new float[b * hid];
            float[][] cellGrads = copies(prior);
            float[] dhNext = dhT != null ? dhT : java.util.Arrays.copyOf(dy, b * out);
            lstm.cellBackward(w, b, x0s, LstmState.of(h0, c0), MemorySegment.ofArray(gates), LstmState.of(dhNext, dcT),
                    MemorySegment.ofArray(cdx), LstmState.of(cdh, cdc), gradients(cfg, cellGrads), c.mode());
            r.put("cell.dx", cdx);
            r.put("cell.dh", cdh);
            r.put("cell.dc", cdc);
            putGradients(r, "cell.", cfg, cellGrads);
        }
        return r;
    }

    private static LstmGradients gradients(LstmConfig cfg, float[][] g) {
        LstmGradients.Builder b = LstmGradients.builder(MemorySegment.ofArray(g[0]), MemorySegment.ofArray(g[1]))
                .bias(MemorySegment.ofArray(g[2]), MemorySegment.ofArray(g[3]));
        if (cfg.hasProjection()) b.projection(MemorySegment.ofArray(g[4]));
        if (cfg.peepholes()) b.peepholes(MemorySegment.ofArray(g[5]));
        return b.build();
    }

    private static void putGradients(Map<String, float[]> r, String prefix, LstmConfig cfg, float[][] g) {
        r.put(prefix + "dWih", g[0]);
        r.put(prefix + "dWhh", g[1]);
        r.put(prefix + "dbIh", g[2]);
        r.put(prefix + "dbHh", g[3]);
        if (cfg.hasProjection()) r.put(prefix + "dWhr", g[4]);
        if (cfg.peepholes()) r.put(prefix + "dPeepholes", g[5]);
    }

    private static float[][] copies(float[][] a) {
        float[][] c = new float[a.length][];
        for (int i = 0; i < a.length; i++) c[i] = a[i].clone();
        return c;
    }

    /** Every output of {@code backend} against the reference's; the cell outputs with the one-step tolerance. */
    static List<Comparison.Result> compare(Case c, Map<String, float[]> got, Map<String, float[]> want) {
        double rtol = Tolerance.forCall(c.inputSize(), c.hiddenSize(), c.steps(), c.batch());
        double rtolCell = Tolerance.forCall(c.inputSize(), c.hiddenSize(), 1, c.batch());
        List<Comparison.Result> results = new ArrayList<>();
        if (!got.keySet().equals(want.keySet())) throw new AssertionError(got.keySet() + " vs " + want.keySet());
        for (String name : want.keySet()) {
            float[] a = got.get(name), e = want.get(name);
            LongFunction<String> where = Comparison.matrix(name, Math.max(1, e.length / Math.max(1, rowsOf(c, name))));
            results.add(Comparison.compare(name, MemorySegment.ofArray(a), MemorySegment.ofArray(e), e.length,
                    name.startsWith("cell.") ? rtolCell : rtol, where));
        }
        return results;
    }

    /** Rows of an output, for naming its elements. */
    private static int rowsOf(Case c, String name) {
        String n = name.substring(name.lastIndexOf('.') + 1);
        return switch (n) {
            case "y", "dx" -> c.steps() * c.batch();
            case "dWih", "dWhh" -> 4 * c.hiddenSize();
            case "dWhr" -> Math.max(1, c.projection());
            case "dbIh", "dbHh", "dPeepholes" -> 1;
            default -> c.batch();
        };
    }

    /** Runs {@code c} on {@code backend} and the reference. */
    static Outcome check(Case c, String backend) {
        Map<String, float[]> got = run(c, backend), want = run(c, ReferenceBackend.NAME);
        return new Outcome(got, want, compare(c, got, want));
    }

    record Outcome(Map<String, float[]> got, Map<String, float[]> want, List<Comparison.Result> results) {
        boolean passed() { return results.stream().allMatch(Comparison.Result::passed); }

        String failures() {
            StringBuilder s = new StringBuilder();
            for (Comparison.Result r : results) if (!r.passed()) s.append(r.describe()).append('\n');
            return s.toString();
        }
    }
}
