package org.lstmk.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.lstmk.api.GradientMode;
import org.lstmk.api.Layout;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmGradients;
import org.lstmk.api.LstmWeights;
import org.lstmk.reference.ReferenceBackend;
import org.lstmk.spi.BackendOptions;
import org.lstmk.spi.BackendWeights;
import org.lstmk.spi.BackendWorkspace;
import org.lstmk.spi.Calls;
import org.lstmk.spi.LstmBackend;
import org.lstmk.verify.Comparison;
import org.lstmk.verify.RandomData;
import org.lstmk.verify.Tolerance;

/**
 * Packed sequences ({@link Calls.Sequences#packed}, PyTorch's PackedSequence) on the CUDA kernels through the host
 * build: the backend is called directly with packed {@link Calls.Forward}/{@link Calls.Backward} calls, and the
 * reference backend gets the same calls (it pads them itself). Compared: training forward ({@code y, hT, cT}),
 * inference ({@code y, hT, cT}), backward ({@code dx, dh0, dc0} and every weight gradient), for lengths including 1
 * and T, B = 1 and B above one and two 16-row tiles, odd H, I ≠ H, every cell feature, with and without initial
 * state and {@code dhT, dcT}, overwriting and accumulating gradients. Also: a packed call whose sequences are all T
 * long is bit for bit the uniform call; results do not depend on the emulated thread schedule; the grid-stride loops
 * cover what a small grid does not; optional outputs may be absent; malformed batch sizes are refused.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CudaHostPackedTest {
    private static final String BACKEND = CudaHostProvider.NAME;

    @AfterEach
    void restoreSchedule() {
        HostDevice.schedule(HostDevice.Schedule.ASCENDING);
    }

    /**
     * One packed problem.
     *
     * @param lengths      each sequence's length, non-increasing (sorted as packed calls are), the first is T
     * @param projection   P, 0 for none                         @param clip cell clip, 0 for none
     * @param initialState whether h0, c0, dhT, dcT are given (else null: zeros)
     * @param inputScale   x uniform in ±inputScale (100 saturates)
     */
    record Case(String name, int inputSize, int hiddenSize, int projection, boolean peepholes, float clip,
                int[] lengths, boolean initialState, double inputScale, GradientMode mode, long seed) {
        LstmConfig config() {
            return LstmConfig.builder(inputSize, hiddenSize).projectionSize(projection).peepholes(peepholes)
                    .cellClip(clip).layout(Layout.TIME_MAJOR).build();
        }

        int steps() { return lengths[0]; }

        int batch() { return lengths.length; }

        int out() { return projection > 0 ? projection : hiddenSize; }

        /** PyTorch's batch_sizes: {@code batchSizes[t] = #{b : lengths[b] > t}}. */
        int[] batchSizes() {
            int[] s = new int[steps()];
            for (int len : lengths) for (int t = 0; t < len; t++) s[t]++;
            return s;
        }

        int rows() { return Arrays.stream(lengths).sum(); }

        @Override public String toString() {
            return String.format(Locale.ROOT, "%s I=%d H=%d%s%s%s B=%d lengths=%s%s x%s %s", name, inputSize,
                    hiddenSize, projection > 0 ? " P=" + projection : "", peepholes ? " peep" : "",
                    clip > 0 ? " clip=" + clip : "", batch(), Arrays.toString(lengths),
                    initialState ? " h0c0" : "", inputScale, mode);
        }
    }

    /** 17 sequences (more than one 16-row tile) of T = 7 with every length from 1 to 7. */
    private static final int[] SEVENTEEN = {7, 7, 6, 6, 5, 5, 5, 4, 3, 3, 3, 2, 2, 2, 1, 1, 1};
    /** 35 sequences (more than two tiles) of T = 4. */
    private static final int[] THIRTY_FIVE = lengths(35, 4, 93);

    /** {@code b} non-increasing lengths in [1, t], the first t and the last 1. */
    static int[] lengths(int b, int t, long seed) {
        java.util.Random r = new java.util.Random(seed);
        int[] l = new int[b];
        for (int i = 0; i < b; i++) l[i] = 1 + r.nextInt(t);
        l[0] = t;
        l[b - 1] = 1;
        Integer[] boxed = Arrays.stream(l).boxed().sorted((x, y) -> y - x).toArray(Integer[]::new);
        return Arrays.stream(boxed).mapToInt(Integer::intValue).toArray();
    }

    static Stream<Case> cases() {
        List<Case> c = new ArrayList<>();
        GradientMode ow = GradientMode.OVERWRITE, acc = GradientMode.ACCUMULATE;
        c.add(new Case("plain T=1 B=1", 3, 1, 0, false, 0f, new int[] {1}, true, 1, ow, 1));
        c.add(new Case("plain B=1", 3, 7, 0, false, 0f, new int[] {6}, false, 1, acc, 2));
        c.add(new Case("plain", 5, 17, 0, false, 0f, SEVENTEEN, false, 1, ow, 3));
        c.add(new Case("plain", 5, 17, 0, false, 0f, SEVENTEEN, true, 1, acc, 4));
        c.add(new Case("plain", 16, 33, 0, false, 0f, new int[] {9, 8, 8, 4, 1}, true, 1, ow, 5));
        c.add(new Case("plain all T", 3, 7, 0, false, 0f, new int[] {5, 5, 5}, true, 1, acc, 6));
        c.add(new Case("plain all 1", 4, 7, 0, false, 0f, new int[] {1, 1, 1, 1}, true, 1, ow, 7));
        c.add(new Case("plain H=1", 2, 1, 0, false, 0f, SEVENTEEN, true, 1, acc, 8));
        c.add(new Case("plain B=35", 20, 20, 0, false, 0f, THIRTY_FIVE, true, 1, acc, 9));
        c.add(new Case("peep", 16, 7, 0, true, 0f, new int[] {9, 9, 5, 2, 1}, true, 1, acc, 10));
        c.add(new Case("clip", 3, 17, 0, false, 0.4f, new int[] {6, 4, 4, 1}, false, 1, ow, 11));
        c.add(new Case("peep+clip", 5, 33, 0, true, 0.4f, SEVENTEEN, true, 1, ow, 12));
        c.add(new Case("saturating peep+clip", 16, 17, 0, true, 3f, new int[] {9, 6, 3, 3, 1}, true, 100, acc, 13));
        c.add(new Case("projection", 3, 17, 5, false, 0f, new int[] {9, 8, 8, 4, 1}, false, 1, ow, 14));
        c.add(new Case("projection", 16, 33, 16, false, 0f, SEVENTEEN, true, 1, acc, 15));
        c.add(new Case("projection B=1", 3, 7, 3, false, 0f, new int[] {4}, true, 1, ow, 16));
        c.add(new Case("projection all 1", 3, 33, 7, false, 0f, new int[] {1, 1, 1}, true, 1, acc, 17));
        c.add(new Case("projection P=33", 16, 40, 33, false, 0f, SEVENTEEN, true, 1, ow, 18));
        c.add(new Case("projection+peep+clip", 16, 17, 5, true, 0.4f, new int[] {6, 5, 2, 2, 1}, true, 1, acc, 19));
        c.add(new Case("projection+peep+clip", 7, 7, 1, true, 0.4f, SEVENTEEN, false, 1, ow, 20));
        c.add(new Case("saturating projection+peep+clip", 3, 17, 5, true, 3f, new int[] {5, 3, 3, 1}, true, 100, ow,
                21));
        return c.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void agreesWithTheReference(Case c) {
        assertAgrees(c, BACKEND);
    }

    /** Runs {@code c} on {@code backend} and on the reference and asserts every output agrees. */
    static void assertAgrees(Case c, String backend) {
        Map<String, float[]> got = run(c, backend, true), want = run(c, ReferenceBackend.NAME, true);
        double rtol = Tolerance.forCall(c.inputSize(), c.hiddenSize(), c.steps(), c.batch());
        assertEquals(want.keySet(), got.keySet());
        StringBuilder failures = new StringBuilder();
        for (String name : want.keySet()) {
            float[] e = want.get(name), a = got.get(name);
            Comparison.Result r = Comparison.compare(name, MemorySegment.ofArray(a), MemorySegment.ofArray(e),
                    e.length, rtol, Comparison.matrix(name, Math.max(1, width(c, name))));
            if (!r.passed()) failures.append(r.describe()).append('\n');
        }
        assertTrue(failures.isEmpty(), () -> c + " disagrees with the reference:\n" + failures);
    }

    /** Columns of an output, for naming its elements. */
    private static int width(Case c, String name) {
        String n = name.substring(name.lastIndexOf('.') + 1);
        return switch (n) {
            case "y", "hT", "dh0" -> c.out();
            case "dx" -> c.inputSize();
            case "dWih" -> c.inputSize();
            case "dWhh" -> c.out();
            case "dWhr" -> c.hiddenSize();
            case "dbIh", "dbHh", "dPeepholes" -> 1;
            default -> c.hiddenSize();
        };
    }

    static LstmBackend open(String backend) {
        return switch (backend) {
            case CudaHostProvider.NAME -> new CudaHostProvider().open(BackendOptions.DEFAULT);
            case CudaProvider.NAME -> new CudaProvider().open(BackendOptions.DEFAULT);
            case ReferenceBackend.NAME -> new ReferenceBackend();
            default -> throw new IllegalArgumentException(backend);
        };
    }

    /**
     * Every output of {@code c} on {@code backend}, by name: training forward, inference, backward, through packed
     * calls ({@code packed}) or, when every sequence is T long, the uniform calls of the same problem.
     */
    static Map<String, float[]> run(Case c, String backend, boolean packed) {
        LstmConfig cfg = c.config();
        int in = c.inputSize(), hid = c.hiddenSize(), out = c.out(), t = c.steps(), b = c.batch(), g = 4 * hid;
        int p = c.projection(), rows = c.rows();
        if (!packed && rows != t * b) throw new IllegalArgumentException("uniform needs every length T: " + c);
        Calls.Sequences seq = packed ? Calls.Sequences.packed(c.batchSizes()) : Calls.Sequences.UNIFORM;
        RandomData rnd = new RandomData(c.seed());
        LstmWeights weights = FeatureHarness.weights(cfg, rnd);
        MemorySegment x = seg(rnd.uniform(rows * in, c.inputScale()));
        MemorySegment h0 = c.initialState() ? seg(rnd.uniform(b * out, 1)) : null;
        MemorySegment c0 = c.initialState() ? seg(rnd.uniform(b * hid, 1)) : null;
        MemorySegment dy = seg(rnd.uniform(rows * out, 1));
        MemorySegment dhT = c.initialState() ? seg(rnd.uniform(b * out, 1)) : null;
        MemorySegment dcT = c.initialState() ? seg(rnd.uniform(b * hid, 1)) : null;
        float[][] grads = {rnd.uniform(g * in, 1), rnd.uniform(g * out, 1), rnd.uniform(g, 1), rnd.uniform(g, 1),
                rnd.uniform(Math.max(p * hid, 1), 1), rnd.uniform(3 * hid, 1)};

        Map<String, float[]> r = new LinkedHashMap<>();
        try (LstmBackend be = open(backend);
             BackendWeights w = be.pack(cfg, weights);
             BackendWorkspace ws = be.newWorkspace(cfg, t + 2, b + 3)) {   // larger than needed, as the driver's may be
            float[] y = new float[rows * out], hT = new float[b * out], cT = new float[b * hid];
            be.forward(new Calls.Forward(cfg, w, t, b, x, h0, c0, seg(y), seg(hT), seg(cT), ws, seq));
            r.put("y", y);
            r.put("hT", hT);
            r.put("cT", cT);

            float[] yi = new float[rows * out], hTi = new float[b * out], cTi = new float[b * hid];
            be.forward(new Calls.Forward(cfg, w, t, b, x, h0, c0, seg(yi), seg(hTi), seg(cTi), null, seq));
            r.put("inference.y", yi);
            r.put("inference.hT", hTi);
            r.put("inference.cT", cTi);

            float[] dx = new float[rows * in], dh0 = new float[b * out], dc0 = new float[b * hid];
            be.backward(new Calls.Backward(cfg, w, ws, t, b, x, dy, dhT, dcT, seg(dx), seg(dh0), seg(dc0),
                    gradients(cfg, grads), c.mode() == GradientMode.ACCUMULATE, seq));
            r.put("dx", dx);
            r.put("dh0", dh0);
            r.put("dc0", dc0);
            r.put("dWih", grads[0]);
            r.put("dWhh", grads[1]);
            r.put("dbIh", grads[2]);
            r.put("dbHh", grads[3]);
            if (cfg.hasProjection()) r.put("dWhr", grads[4]);
            if (cfg.peepholes()) r.put("dPeepholes", grads[5]);
        }
        return r;
    }

    private static LstmGradients gradients(LstmConfig cfg, float[][] g) {
        LstmGradients.Builder b = LstmGradients.builder(seg(g[0]), seg(g[1])).bias(seg(g[2]), seg(g[3]));
        if (cfg.hasProjection()) b.projection(seg(g[4]));
        if (cfg.peepholes()) b.peepholes(seg(g[5]));
        return b.build();
    }

    private static MemorySegment seg(float[] a) {
        return MemorySegment.ofArray(a);
    }

    @Test
    void aPackedCallWithEverySequenceTLongIsTheUniformCall() {
        for (Case c : List.of(
                new Case("uniform", 5, 17, 0, false, 0f, new int[] {4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4},
                        true, 1, GradientMode.ACCUMULATE, 31),
                new Case("uniform every feature", 16, 17, 5, true, 0.4f, new int[] {6, 6, 6}, true, 1,
                        GradientMode.OVERWRITE, 32),
                new Case("uniform T=1", 3, 7, 0, true, 0f, new int[] {1, 1}, false, 1, GradientMode.OVERWRITE, 33))) {
            Map<String, float[]> packed = run(c, BACKEND, true), uniform = run(c, BACKEND, false);
            for (var e : uniform.entrySet()) {
                assertArrayEquals(e.getValue(), packed.get(e.getKey()), c + ": " + e.getKey());
            }
        }
    }

    @Test
    void resultsDoNotDependOnTheThreadSchedule() {
        for (Case c : List.of(new Case("schedules", 19, 21, 0, true, 0.4f, lengths(18, 4, 7), true, 1,
                        GradientMode.ACCUMULATE, 377),
                new Case("schedules projection", 9, 21, 9, true, 0.4f, lengths(18, 4, 8), true, 1,
                        GradientMode.OVERWRITE, 378))) {
            Map<String, float[]> ascending = null;
            for (HostDevice.Schedule s : HostDevice.Schedule.values()) {
                HostDevice.schedule(s);
                Map<String, float[]> out = run(c, BACKEND, true);
                if (ascending == null) {
                    ascending = out;
                    continue;
                }
                for (var e : ascending.entrySet()) {
                    assertArrayEquals(e.getValue(), out.get(e.getKey()), c + " " + s + ": " + e.getKey());
                }
            }
        }
    }

    @Test
    void gridStrideLoopsCoverWhatTheGridDoesNot() {
        System.setProperty(Kernels.MAX_GRID_Y_PROPERTY, "1");
        try {
            for (int p : new int[] {0, 7}) {
                assertAgrees(new Case("grid y = 1", 20, 20, p, true, 0.4f, THIRTY_FIVE, true, 1,
                        GradientMode.ACCUMULATE, 391), BACKEND);
            }
        } finally {
            System.clearProperty(Kernels.MAX_GRID_Y_PROPERTY);
        }
    }

    @Test
    void optionalArgumentsMayBeAbsent() {
        // No dy (only dhT reaches the sequences, each at its own last step), no dx/dh0/dc0, no weight gradients
        // beyond dWih/dWhh (no bias, dWhr, dPeepholes); no hT/cT forward.
        LstmConfig cfg = LstmConfig.builder(6, 13).projectionSize(4).peepholes(true).cellClip(0.4f).build();
        int[] bs = {3, 3, 2, 1};
        int t = bs.length, b = 3, rows = 9, hid = 13, out = 4, in = 6;
        RandomData rnd = new RandomData(61);
        LstmWeights weights = FeatureHarness.weights(cfg, rnd);
        MemorySegment x = seg(rnd.uniform(rows * in, 1)), dhT = seg(rnd.uniform(b * out, 1));
        Map<String, float[]> got = new LinkedHashMap<>(), want = new LinkedHashMap<>();
        for (String name : List.of(BACKEND, ReferenceBackend.NAME)) {
            Map<String, float[]> r = name.equals(BACKEND) ? got : want;
            try (LstmBackend be = open(name);
                 BackendWeights w = be.pack(cfg, weights);
                 BackendWorkspace ws = be.newWorkspace(cfg, t, b)) {
                float[] y = new float[rows * out], dWih = new float[4 * hid * in], dWhh = new float[4 * hid * out];
                Calls.Sequences seq = Calls.Sequences.packed(bs);
                be.forward(new Calls.Forward(cfg, w, t, b, x, null, null, seg(y), null, null, ws, seq));
                be.backward(new Calls.Backward(cfg, w, ws, t, b, x, null, dhT, null, null, null, null,
                        LstmGradients.of(dWih, dWhh, null, null), false, seq));
                r.put("y", y);
                r.put("dWih", dWih);
                r.put("dWhh", dWhh);
            }
        }
        double rtol = Tolerance.forCall(in, hid, t, b);
        for (String name : want.keySet()) {
            Comparison.Result r = Comparison.compare(name, seg(got.get(name)), seg(want.get(name)),
                    want.get(name).length, rtol, k -> "[" + k + "]");
            assertTrue(r.passed(), r::describe);
        }
    }

    @Test
    void malformedBatchSizesAndPaddedCallsAreRefused() {
        LstmConfig cfg = LstmConfig.of(3, 5);
        try (LstmBackend be = open(BACKEND); BackendWeights w = be.pack(cfg, new RandomData(1).weights(cfg))) {
            MemorySegment x = seg(new float[3 * 3 * 3]), y = seg(new float[3 * 3 * 5]);
            for (int[] bs : new int[][] {{3, 1, 2}, {2, 2, 1}, {3, 0, 0}}) {
                assertThrows(IllegalArgumentException.class, () -> be.forward(new Calls.Forward(cfg, w, 3, 3, x, null,
                        null, y, null, null, null, Calls.Sequences.packed(bs))), Arrays.toString(bs));
            }
            assertThrows(IllegalArgumentException.class, () -> be.forward(new Calls.Forward(cfg, w, 3, 3, x, null,
                    null, y, null, null, null, Calls.Sequences.padded(new int[] {3, 2, 1}, false))));
            assertTrue(be.packedSequences());
        }
    }
}
