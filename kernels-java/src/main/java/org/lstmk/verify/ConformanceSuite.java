package org.lstmk.verify;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.lstmk.api.GradientMode;
import org.lstmk.api.Layout;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmGradients;
import org.lstmk.api.LstmState;
import org.lstmk.api.LstmWeights;
import org.lstmk.api.MatmulPrecision;
import org.lstmk.api.PackedWeights;
import org.lstmk.api.SequenceBatch;
import org.lstmk.api.StackGradients;
import org.lstmk.api.StackWeights;
import org.lstmk.api.TrainingWorkspace;
import org.lstmk.dispatch.Dispatcher;
import org.lstmk.reference.ReferenceBackend;
import org.lstmk.spi.BackendProvider;
import org.lstmk.spi.Support;

/**
 * The one comparison harness (oneDNN's benchdnn in miniature): runs a backend and the reference through the public
 * API on the same random problem — training forward, backward, inference, and for single-layer configurations one
 * cell step forward and backward — and compares every output. {@code lstmk verify} and every backend's tests use
 * it. {@link #matrix()} is the conformance matrix over every axis; {@link #supported} filters it per backend.
 */
public final class ConformanceSuite {
    private ConformanceSuite() {}

    /**
     * The axes beyond one plain layer.
     *
     * @param varLengths whether each sequence gets its own length (uniform in [1, T], deterministic per case seed)
     * @param projection {@code P}, 0 for none
     * @param clip       cell clip, 0 for none
     */
    public record Features(int layers, boolean bidirectional, boolean varLengths, int projection, boolean peepholes,
                           float clip) {
        public static final Features PLAIN = new Features(1, false, false, 0, false, 0f);

        boolean plainLayer() { return layers == 1 && !bidirectional; }

        @Override public String toString() {
            List<String> f = new ArrayList<>();
            if (layers > 1) f.add("L=" + layers);
            if (bidirectional) f.add("bidir");
            if (varLengths) f.add("lengths");
            if (projection > 0) f.add("P=" + projection);
            if (peepholes) f.add("peep");
            if (clip > 0) f.add("clip=" + clip);
            return String.join(" ", f);
        }
    }

    /**
     * One problem.
     *
     * @param inputScale inputs are uniform in {@code ±inputScale}: 1 for ordinary data, ≥ 100 to saturate every gate
     * @param initialState whether {@code h0, c0} (and {@code dhT, dcT}) are given or left null (zeros)
     * @param mode  whether weight gradients overwrite or accumulate into random prior contents
     */
    public record Case(String name, int inputSize, int hiddenSize, int steps, int batch, Layout layout,
                       boolean initialState, double inputScale, GradientMode mode, long seed, Features features) {
        /** A plain single layer. */
        public Case(String name, int inputSize, int hiddenSize, int steps, int batch, Layout layout,
                    boolean initialState, double inputScale, GradientMode mode, long seed) {
            this(name, inputSize, hiddenSize, steps, batch, layout, initialState, inputScale, mode, seed, Features.PLAIN);
        }

        public LstmConfig config() {
            return LstmConfig.builder(inputSize, hiddenSize).layout(layout).layers(features.layers)
                    .bidirectional(features.bidirectional).projectionSize(features.projection)
                    .peepholes(features.peepholes).cellClip(features.clip).build();
        }

        /** The batch's shape: every sequence {@code steps} long, or lengths drawn from the seed. */
        public SequenceBatch sequences() {
            if (!features.varLengths) return SequenceBatch.of(steps, batch);
            SplittableRandom r = new SplittableRandom(seed * 31 + 7);
            int[] l = new int[batch];
            for (int b = 0; b < batch; b++) l[b] = 1 + r.nextInt(steps);
            return SequenceBatch.of(steps, l);
        }

        @Override public String toString() {
            String f = features.toString();
            return String.format(Locale.ROOT, "%s I=%d H=%d T=%d B=%d%s", name, inputSize, hiddenSize, steps, batch,
                    f.isEmpty() ? "" : " " + f);
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

    /** The plain-layer set: odd sizes, T = 1, B = 1, saturation, both layouts, both modes. */
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

    /** Sizes {I, H, T, B, P} the matrix cycles through: odd, a vector plus one, B = 1, T = 1. */
    private static final int[][] SIZES = {{3, 5, 4, 3, 2}, {17, 17, 6, 5, 7}, {8, 33, 5, 1, 16}, {16, 9, 1, 4, 4}};

    /**
     * The conformance matrix: every combination of the feature axes (layers 1|2 × directions 1|2 × lengths ×
     * projection × peepholes × clip, 64 in all), each with sizes, layout, initial state and gradient mode cycled so
     * that every value of those axes meets every feature; saturating inputs in a quarter of them; then the
     * plain-layer {@link #standardCases()}.
     */
    public static List<Case> matrix() {
        List<Case> c = new ArrayList<>();
        for (int k = 0; k < 64; k++) {
            int[] s = SIZES[(k + k / 16) % SIZES.length];
            boolean proj = (k & 8) != 0;
            Features f = new Features((k & 1) != 0 ? 2 : 1, (k & 2) != 0, (k & 4) != 0, proj ? s[4] : 0,
                    (k & 16) != 0, (k & 32) != 0 ? 3f : 0f);
            Layout layout = ((k >> 1) + (k >> 3) + (k >> 5)) % 2 == 0 ? Layout.TIME_MAJOR : Layout.BATCH_MAJOR;
            boolean initial = ((k >> 2) + k) % 2 == 0;
            GradientMode mode = ((k >> 3) + (k >> 4) + k) % 2 == 0 ? GradientMode.OVERWRITE : GradientMode.ACCUMULATE;
            double scale = k % 4 == 3 ? 100 : 1;
            c.add(new Case("m" + k, s[0], s[1], s[2], s[3], layout, initial, scale, mode, 1000 + k, f));
        }
        c.addAll(standardCases());
        return c;
    }

    /** The cases of {@code cases} that {@code backend} supports (by its provider's {@code supports}). */
    public static List<Case> supported(List<Case> cases, String backend) {
        BackendProvider p = provider(backend);
        return cases.stream().filter(c -> p.supports(c.config()).supported()).toList();
    }

    /** Why {@code backend} cannot run {@code c}, or null if it can. */
    public static String unsupported(Case c, String backend) {
        Support s = provider(backend).supports(c.config());
        return s.supported() ? null : s.describe();
    }

    private static BackendProvider provider(String backend) {
        return Dispatcher.providers().stream().filter(p -> p.name().equalsIgnoreCase(backend)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no backend named '" + backend + "'"));
    }

    /** Runs {@code c} on {@code backend} (with {@code threads}, 0 = backend's choice) and on the reference. */
    public static Outcome run(Case c, String backend, int threads) {
        return run(c, backend, threads, MatmulPrecision.FP32);
    }

    /**
     * As {@link #run(Case, String, int)} with the layer's large products in {@code precision} (the reference computes
     * in double whatever it is told), compared at {@link Tolerance#forPrecision}.
     */
    public static Outcome run(Case c, String backend, int threads, MatmulPrecision precision) {
        LstmConfig cfg = c.config().toBuilder().matmulPrecision(precision).build();
        Problem p = new Problem(c, cfg);
        Run tested = Run.of(cfg, backend, threads, c, p);
        Run ref = Run.of(cfg, ReferenceBackend.NAME, 1, c, p);

        int dirs = cfg.directions(), out = cfg.outputSize(), hid = cfg.hiddenSize(), t = c.steps(), b = c.batch();
        int widest = Math.max(c.inputSize(), dirs * out) + out + (cfg.hasProjection() ? hid : 0);
        double rtol = Tolerance.forPrecision(precision, Tolerance.forCall(widest, 0, t, b) * cfg.layers());
        double rtolCell = Tolerance.forPrecision(precision, Tolerance.forCall(widest, 0, 1, b));
        List<Comparison.Result> r = new ArrayList<>();
        Layout l = c.layout();
        r.add(cmp("y", tested.y, ref.y, rtol, Comparison.sequence("y", l, t, b, dirs * out)));
        r.add(cmp("y (inference)", tested.yInference, ref.y, rtol, Comparison.sequence("y", l, t, b, dirs * out)));
        r.add(cmp("hN", tested.hN, ref.hN, rtol, Comparison.matrix("hN", out)));
        r.add(cmp("cN", tested.cN, ref.cN, rtol, Comparison.matrix("cN", hid)));
        r.add(cmp("dx", tested.dx, ref.dx, rtol, Comparison.sequence("dx", l, t, b, c.inputSize())));
        r.add(cmp("dh0", tested.dh0, ref.dh0, rtol, Comparison.matrix("dh0", out)));
        r.add(cmp("dc0", tested.dc0, ref.dc0, rtol, Comparison.matrix("dc0", hid)));
        for (int ld = 0; ld < cfg.stateLayers(); ld++) {
            String n = cfg.isSingleLayer() ? "" : "l" + ld / dirs + (ld % dirs == 1 ? "_reverse" : "") + ".";
            gradients(r, n, tested.grads[ld], ref.grads[ld], rtol, cfg, ld / dirs);
        }
        if (tested.cellH != null) {
            r.add(cmp("cell.hNext", tested.cellH, ref.cellH, rtolCell, Comparison.matrix("cell.hNext", out)));
            r.add(cmp("cell.cNext", tested.cellC, ref.cellC, rtolCell, Comparison.matrix("cell.cNext", hid)));
            r.add(cmp("cell.gates", tested.cellGates, ref.cellGates, rtolCell, Comparison.matrix("cell.gates", 4 * hid)));
            r.add(cmp("cell.dx", tested.cellDx, ref.cellDx, rtolCell, Comparison.matrix("cell.dx", c.inputSize())));
            r.add(cmp("cell.dh", tested.cellDh, ref.cellDh, rtolCell, Comparison.matrix("cell.dh", out)));
            r.add(cmp("cell.dc", tested.cellDc, ref.cellDc, rtolCell, Comparison.matrix("cell.dc", hid)));
            gradients(r, "cell.", tested.cellGrads, ref.cellGrads, rtolCell, cfg, 0);
        }
        return new Outcome(c, r);
    }

    private static void gradients(List<Comparison.Result> r, String n, float[][] a, float[][] e, double rtol,
                                  LstmConfig cfg, int layer) {
        int[] cols = {cfg.layerInputSize(layer), cfg.outputSize(), cfg.gateRows(), cfg.gateRows(), cfg.hiddenSize(),
                cfg.hiddenSize()};
        for (int i = 0; i < GRADIENT_NAMES.length; i++) {
            if (e[i] == null) continue;
            r.add(cmp(n + GRADIENT_NAMES[i], a[i], e[i], rtol, Comparison.matrix(n + GRADIENT_NAMES[i], cols[i])));
        }
    }

    private static final String[] GRADIENT_NAMES = {"dWih", "dWhh", "dbIh", "dbHh", "dWhr", "dPeepholes"};

    private static Comparison.Result cmp(String name, float[] a, float[] e, double rtol,
                                         java.util.function.LongFunction<String> where) {
        return Comparison.compare(name, MemorySegment.ofArray(a), MemorySegment.ofArray(e), a.length, rtol, where);
    }

    /** The random inputs of one case, shared by both runs. */
    private static final class Problem {
        final StackWeights weights;
        final float[] x, h0, c0, dy, dhN, dcN;
        final float[][][] priorGrads;   // [layer·D + direction][dWih, dWhh, dbIh, dbHh, dWhr, dPeepholes]

        Problem(Case c, LstmConfig cfg) {
            RandomData rnd = new RandomData(c.seed());
            int n = cfg.stateLayers(), b = c.batch(), t = c.steps(), out = cfg.outputSize(), hid = cfg.hiddenSize();
            // Drawn in the order the single-layer suite always drew them, so that its cases keep their data.
            StackWeights.Builder wb = StackWeights.builder(cfg);
            for (int ld = 0; ld < n; ld++) {
                wb.set(ld / cfg.directions(), ld % cfg.directions(), rnd.weights(cfg, ld / cfg.directions()));
            }
            weights = wb.build();
            x = rnd.uniform(t * b * c.inputSize(), c.inputScale());
            h0 = c.initialState() ? rnd.uniform(n * b * out, 1) : null;
            c0 = c.initialState() ? rnd.uniform(n * b * hid, 1) : null;
            dy = rnd.uniform(t * b * cfg.sequenceOutputSize(), 1);
            dhN = c.initialState() ? rnd.uniform(n * b * out, 1) : null;
            dcN = c.initialState() ? rnd.uniform(n * b * hid, 1) : null;
            priorGrads = new float[n][][];
            for (int ld = 0; ld < n; ld++) {
                int[] sizes = gradientSizes(cfg, ld / cfg.directions());
                priorGrads[ld] = new float[sizes.length][];
                for (int i = 0; i < sizes.length; i++) priorGrads[ld][i] = sizes[i] == 0 ? null : rnd.uniform(sizes[i], 1);
            }
        }
    }

    /** Elements of dWih, dWhh, dbIh, dbHh, dWhr, dPeepholes of a layer; 0 where the feature is off. */
    static int[] gradientSizes(LstmConfig cfg, int layer) {
        int g = cfg.gateRows(), hid = cfg.hiddenSize();
        return new int[] {g * cfg.layerInputSize(layer), g * cfg.outputSize(), g, g,
                cfg.projectionSize() * hid, cfg.peepholes() ? 3 * hid : 0};
    }

    /** Every output of one backend on one case. */
    private static final class Run {
        float[] y, yInference, hN, cN, dx, dh0, dc0;
        float[][][] grads;
        float[] cellH, cellC, cellGates, cellDx, cellDh, cellDc;
        float[][] cellGrads;

        static Run of(LstmConfig cfg, String backend, int threads, Case c, Problem p) {
            int in = c.inputSize(), hid = cfg.hiddenSize(), out = cfg.outputSize(), t = c.steps(), b = c.batch();
            int n = cfg.stateLayers();
            Run r = new Run();
            r.y = new float[t * b * cfg.sequenceOutputSize()];
            r.yInference = new float[r.y.length];
            r.hN = new float[n * b * out];
            r.cN = new float[n * b * hid];
            r.dx = new float[t * b * in];
            r.dh0 = new float[n * b * out];
            r.dc0 = new float[n * b * hid];
            r.grads = new float[n][][];
            StackGradients.Builder gb = StackGradients.builder(cfg);
            for (int ld = 0; ld < n; ld++) {
                r.grads[ld] = copies(p.priorGrads[ld]);
                gb.set(ld / cfg.directions(), ld % cfg.directions(), gradients(r.grads[ld]));
            }
            SequenceBatch seq = c.sequences();
            try (Lstm lstm = Lstm.builder(cfg).backend(backend).threads(threads).verify(false).build();
                 PackedWeights w = lstm.pack(p.weights);
                 TrainingWorkspace ws = lstm.newWorkspace(t, b)) {
                MemorySegment xs = MemorySegment.ofArray(p.x);
                lstm.forwardTraining(w, seq, xs, LstmState.of(p.h0, p.c0), MemorySegment.ofArray(r.y),
                        LstmState.of(r.hN, r.cN), ws);
                lstm.backward(w, ws, xs, MemorySegment.ofArray(p.dy), LstmState.of(p.dhN, p.dcN),
                        MemorySegment.ofArray(r.dx), LstmState.of(r.dh0, r.dc0), gb.build(), c.mode());
                lstm.forward(w, seq, xs, LstmState.of(p.h0, p.c0), MemorySegment.ofArray(r.yInference), null);
                if (c.features().plainLayer()) cell(lstm, w, c, cfg, p, r);
            }
            return r;
        }

        /** One cell step on the first timestep's input from (h0, c0), and its backward. */
        private static void cell(Lstm lstm, PackedWeights w, Case c, LstmConfig cfg, Problem p, Run r) {
            int in = c.inputSize(), hid = cfg.hiddenSize(), out = cfg.outputSize(), b = c.batch(), t = c.steps();
            float[] first = new float[b * in];
            for (int k = 0; k < b; k++) System.arraycopy(p.x, c.layout().row(0, k, t, b) * in, first, k * in, in);
            MemorySegment x0 = MemorySegment.ofArray(first);
            r.cellH = new float[b * out];
            r.cellC = new float[b * hid];
            r.cellGates = new float[b * 4 * hid];
            lstm.cellForward(w, b, x0, LstmState.of(p.h0, p.c0), LstmState.of(r.cellH, r.cellC),
                    MemorySegment.ofArray(r.cellGates));
            r.cellDx = new float[b * in];
            r.cellDh = new float[b * out];
            r.cellDc = new float[b * hid];
            r.cellGrads = copies(p.priorGrads[0]);
            float[] dNext = p.dhN != null ? p.dhN : Arrays.copyOf(p.dy, b * out);
            lstm.cellBackward(w, b, x0, LstmState.of(p.h0, p.c0), MemorySegment.ofArray(r.cellGates),
                    LstmState.of(dNext, p.dcN), MemorySegment.ofArray(r.cellDx), LstmState.of(r.cellDh, r.cellDc),
                    gradients(r.cellGrads), c.mode());
        }

        private static LstmGradients gradients(float[][] g) {
            return LstmGradients.builder(seg(g[0]), seg(g[1])).bias(seg(g[2]), seg(g[3])).projection(seg(g[4]))
                    .peepholes(seg(g[5])).build();
        }

        private static MemorySegment seg(float[] a) {
            return a == null ? null : MemorySegment.ofArray(a);
        }

        private static float[][] copies(float[][] a) {
            float[][] c = new float[a.length][];
            for (int i = 0; i < a.length; i++) c[i] = a[i] == null ? null : a[i].clone();
            return c;
        }
    }

    /** For tests: the float values of a segment. */
    static float[] floats(MemorySegment s) {
        return s.toArray(ValueLayout.JAVA_FLOAT);
    }
}
