package org.lstmk.verify;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
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

/**
 * The one comparison harness (oneDNN's benchdnn in miniature): runs a backend and the reference through the public
 * API on the same random problem — training forward, backward, one cell step forward and backward — and compares
 * every output. {@code lstmk verify} and every backend's tests use it.
 */
public final class ConformanceSuite {
    private ConformanceSuite() {}

    /**
     * One problem.
     *
     * @param inputScale inputs are uniform in {@code ±inputScale}: 1 for ordinary data, ≥ 100 to saturate every gate
     * @param initialState whether {@code h0, c0} (and {@code dhT, dcT}) are given or left null (zeros)
     * @param mode  whether weight gradients overwrite or accumulate into random prior contents
     */
    public record Case(String name, int inputSize, int hiddenSize, int steps, int batch, Layout layout,
                       boolean initialState, double inputScale, GradientMode mode, long seed) {
        public LstmConfig config() {
            return LstmConfig.builder(inputSize, hiddenSize).layout(layout).build();
        }

        @Override public String toString() {
            return String.format(Locale.ROOT, "%s I=%d H=%d T=%d B=%d", name, inputSize, hiddenSize, steps, batch);
        }
    }

    /** Result of one case: every comparison made. */
    public record Outcome(Case testCase, List<Comparison.Result> results) {
        public boolean passed() { return results.stream().allMatch(Comparison.Result::passed); }

        /** The comparison with the largest share of its bound. */
        public Comparison.Result worst() {
            return results.stream().max((a, b) -> Double.compare(a.margin(), b.margin())).orElseThrow();
        }
    }

    /** The fixed set {@code lstmk verify} runs: odd sizes, T = 1, B = 1, saturation, both layouts, both modes. */
    public static List<Case> standardCases() {
        List<Case> c = new ArrayList<>();
        long seed = 1;
        c.add(new Case("tiny", 1, 1, 1, 1, Layout.TIME_MAJOR, false, 1, GradientMode.OVERWRITE, seed++));
        c.add(new Case("odd", 3, 5, 4, 3, Layout.TIME_MAJOR, true, 1, GradientMode.OVERWRITE, seed++));
        c.add(new Case("T=1", 17, 17, 1, 5, Layout.TIME_MAJOR, true, 1, GradientMode.ACCUMULATE, seed++));
        c.add(new Case("B=1", 33, 17, 9, 1, Layout.TIME_MAJOR, true, 1, GradientMode.OVERWRITE, seed++));
        c.add(new Case("vector+1", 17, 33, 6, 4, Layout.TIME_MAJOR, true, 1, GradientMode.ACCUMULATE, seed++));
        c.add(new Case("batch-major", 15, 16, 5, 3, Layout.BATCH_MAJOR, true, 1, GradientMode.OVERWRITE, seed++));
        c.add(new Case("saturating", 16, 17, 7, 3, Layout.TIME_MAJOR, true, 100, GradientMode.OVERWRITE, seed++));
        c.add(new Case("huge inputs", 5, 9, 3, 2, Layout.TIME_MAJOR, true, 1e4, GradientMode.ACCUMULATE, seed++));
        c.add(new Case("medium", 65, 100, 12, 7, Layout.TIME_MAJOR, true, 1, GradientMode.ACCUMULATE, seed++));
        c.add(new Case("long", 8, 32, 64, 2, Layout.TIME_MAJOR, true, 1, GradientMode.OVERWRITE, seed++));
        return c;
    }

    /** Runs {@code c} on {@code backend} (with {@code threads}, 0 = backend's choice) and on the reference. */
    public static Outcome run(Case c, String backend, int threads) {
        LstmConfig cfg = c.config();
        int in = c.inputSize(), hid = c.hiddenSize(), t = c.steps(), b = c.batch(), g = cfg.gateRows();
        RandomData rnd = new RandomData(c.seed());
        LstmWeights weights = rnd.weights(cfg);
        float[] x = rnd.uniform(t * b * in, c.inputScale());
        float[] h0 = c.initialState() ? rnd.uniform(b * hid, 1) : null;
        float[] c0 = c.initialState() ? rnd.uniform(b * hid, 1) : null;
        float[] dy = rnd.uniform(t * b * hid, 1);
        float[] dhT = c.initialState() ? rnd.uniform(b * hid, 1) : null;
        float[] dcT = c.initialState() ? rnd.uniform(b * hid, 1) : null;
        float[][] priorGrads = {rnd.uniform(g * in, 1), rnd.uniform(g * hid, 1), rnd.uniform(g, 1), rnd.uniform(g, 1)};

        Run tested = Run.of(cfg, backend, threads, weights, c, x, h0, c0, dy, dhT, dcT, priorGrads);
        Run ref = Run.of(cfg, ReferenceBackend.NAME, 1, weights, c, x, h0, c0, dy, dhT, dcT, priorGrads);

        double rtol = Tolerance.forCall(in, hid, t, b);
        double rtolCell = Tolerance.forCall(in, hid, 1, b);
        List<Comparison.Result> r = new ArrayList<>();
        Layout l = c.layout();
        r.add(cmp("y", tested.y, ref.y, rtol, Comparison.sequence("y", l, t, b, hid)));
        r.add(cmp("hT", tested.hT, ref.hT, rtol, Comparison.matrix("hT", hid)));
        r.add(cmp("cT", tested.cT, ref.cT, rtol, Comparison.matrix("cT", hid)));
        r.add(cmp("dx", tested.dx, ref.dx, rtol, Comparison.sequence("dx", l, t, b, in)));
        r.add(cmp("dh0", tested.dh0, ref.dh0, rtol, Comparison.matrix("dh0", hid)));
        r.add(cmp("dc0", tested.dc0, ref.dc0, rtol, Comparison.matrix("dc0", hid)));
        r.add(cmp("dWih", tested.grads[0], ref.grads[0], rtol, Comparison.matrix("dWih", in)));
        r.add(cmp("dWhh", tested.grads[1], ref.grads[1], rtol, Comparison.matrix("dWhh", hid)));
        r.add(cmp("dbIh", tested.grads[2], ref.grads[2], rtol, Comparison.matrix("dbIh", g)));
        r.add(cmp("dbHh", tested.grads[3], ref.grads[3], rtol, Comparison.matrix("dbHh", g)));
        r.add(cmp("cell.hNext", tested.cellH, ref.cellH, rtolCell, Comparison.matrix("cell.hNext", hid)));
        r.add(cmp("cell.cNext", tested.cellC, ref.cellC, rtolCell, Comparison.matrix("cell.cNext", hid)));
        r.add(cmp("cell.gates", tested.cellGates, ref.cellGates, rtolCell, Comparison.matrix("cell.gates", 4 * hid)));
        r.add(cmp("cell.dx", tested.cellDx, ref.cellDx, rtolCell, Comparison.matrix("cell.dx", in)));
        r.add(cmp("cell.dh", tested.cellDh, ref.cellDh, rtolCell, Comparison.matrix("cell.dh", hid)));
        r.add(cmp("cell.dc", tested.cellDc, ref.cellDc, rtolCell, Comparison.matrix("cell.dc", hid)));
        r.add(cmp("cell.dWih", tested.cellGrads[0], ref.cellGrads[0], rtolCell, Comparison.matrix("cell.dWih", in)));
        r.add(cmp("cell.dWhh", tested.cellGrads[1], ref.cellGrads[1], rtolCell, Comparison.matrix("cell.dWhh", hid)));
        r.add(cmp("cell.db", tested.cellGrads[2], ref.cellGrads[2], rtolCell, Comparison.matrix("cell.db", g)));
        return new Outcome(c, r);
    }

    private static Comparison.Result cmp(String name, float[] a, float[] e, double rtol,
                                         java.util.function.LongFunction<String> where) {
        return Comparison.compare(name, MemorySegment.ofArray(a), MemorySegment.ofArray(e), a.length, rtol, where);
    }

    /** Every output of one backend on one case. */
    private static final class Run {
        float[] y, hT, cT, dx, dh0, dc0;
        float[][] grads;
        float[] cellH, cellC, cellGates, cellDx, cellDh, cellDc;
        float[][] cellGrads;

        static Run of(LstmConfig cfg, String backend, int threads, LstmWeights weights, Case c, float[] x,
                      float[] h0, float[] c0, float[] dy, float[] dhT, float[] dcT, float[][] prior) {
            int in = c.inputSize(), hid = c.hiddenSize(), t = c.steps(), b = c.batch();
            Run r = new Run();
            r.y = new float[t * b * hid];
            r.hT = new float[b * hid];
            r.cT = new float[b * hid];
            r.dx = new float[t * b * in];
            r.dh0 = new float[b * hid];
            r.dc0 = new float[b * hid];
            r.grads = copies(prior);
            try (Lstm lstm = Lstm.builder(cfg).backend(backend).threads(threads).verify(false).build();
                 PackedWeights w = lstm.pack(weights);
                 TrainingWorkspace ws = lstm.newWorkspace(t, b)) {
                MemorySegment xs = MemorySegment.ofArray(x);
                lstm.forwardTraining(w, t, b, xs, LstmState.of(h0, c0), MemorySegment.ofArray(r.y),
                        LstmState.of(r.hT, r.cT), ws);
                lstm.backward(w, ws, xs, MemorySegment.ofArray(dy), LstmState.of(dhT, dcT),
                        MemorySegment.ofArray(r.dx), LstmState.of(r.dh0, r.dc0),
                        LstmGradients.of(r.grads[0], r.grads[1], r.grads[2], r.grads[3]), c.mode());

                // One cell step on the first timestep's input from (h0, c0).
                MemorySegment x0 = xs.asSlice(0, (long) b * in * Float.BYTES);
                if (c.layout() == Layout.BATCH_MAJOR) {
                    float[] firstStep = new float[b * in];
                    for (int k = 0; k < b; k++) System.arraycopy(x, k * t * in, firstStep, k * in, in);
                    x0 = MemorySegment.ofArray(firstStep);
                }
                r.cellH = new float[b * hid];
                r.cellC = new float[b * hid];
                r.cellGates = new float[b * 4 * hid];
                lstm.cellForward(w, b, x0, LstmState.of(h0, c0), LstmState.of(r.cellH, r.cellC),
                        MemorySegment.ofArray(r.cellGates));
                r.cellDx = new float[b * in];
                r.cellDh = new float[b * hid];
                r.cellDc = new float[b * hid];
                r.cellGrads = copies(prior);
                lstm.cellBackward(w, b, x0, LstmState.of(h0, c0), MemorySegment.ofArray(r.cellGates),
                        LstmState.of(dhT != null ? dhT : dy, dcT), MemorySegment.ofArray(r.cellDx),
                        LstmState.of(r.cellDh, r.cellDc),
                        LstmGradients.of(r.cellGrads[0], r.cellGrads[1], r.cellGrads[2], r.cellGrads[3]), c.mode());
            }
            return r;
        }

        private static float[][] copies(float[][] a) {
            float[][] c = new float[a.length][];
            for (int i = 0; i < a.length; i++) c[i] = a[i].clone();
            return c;
        }
    }
}
