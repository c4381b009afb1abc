package org.lstmk.simd;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.LongFunction;
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
 * One random packed call ({@link Calls.Sequences#packed}: PyTorch's {@code PackedSequence}) of one layer, run on a
 * backend directly through the SPI: training forward, backward, inference forward, every output kept by name.
 *
 * @param lengths      each sequence's length, sorted by decreasing length (the first is T)
 * @param proj         projection size P (0: none)
 * @param clip         cell clip (0: none)
 * @param initialState whether {@code h0, c0, dhT, dcT} are given (else null: zeros)
 * @param accumulate   whether the weight gradients are added to random prior values
 * @param confined     whether the caller's buffers are native segments of a confined arena (copied in and out by
 *                     the calling thread) rather than heap arrays (copied by each worker)
 */
record PackedProblem(String name, int in, int hid, int proj, boolean peepholes, float clip, int[] lengths,
                     boolean initialState, boolean accumulate, double inputScale, boolean confined, long seed) {
    LstmConfig config() {
        return LstmConfig.builder(in, hid).projectionSize(proj).peepholes(peepholes).cellClip(clip).build();
    }

    int out() { return proj > 0 ? proj : hid; }

    int steps() { return lengths[0]; }

    int batch() { return lengths.length; }

    /** Sequences live at each step. */
    int[] batchSizes() {
        int[] sizes = new int[steps()];
        for (int len : lengths) for (int t = 0; t < len; t++) sizes[t]++;
        return sizes;
    }

    /** Rows of the packed sequence buffers. */
    int rows() {
        int n = 0;
        for (int len : lengths) n += len;
        return n;
    }

    /** Lengths in {@code [1, steps]}, 1 and {@code steps} among them (when {@code batch > 1}), sorted decreasing. */
    static int[] randomLengths(int steps, int batch, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] len = new int[batch];
        for (int b = 0; b < batch; b++) len[b] = 1 + rnd.nextInt(steps);
        len[0] = steps;
        if (batch > 1) len[batch - 1] = 1;
        return sortedDecreasing(len);
    }

    static int[] sortedDecreasing(int[] lengths) {
        int[] s = lengths.clone();
        Arrays.sort(s);
        for (int i = 0, j = s.length - 1; i < j; i++, j--) {
            int x = s[i];
            s[i] = s[j];
            s[j] = x;
        }
        return s;
    }

    @Override public String toString() {
        return String.format(Locale.ROOT, "%s I=%d H=%d%s%s%s T=%d B=%d lengths=%s%s%s%s", name, in, hid,
                proj > 0 ? " P=" + proj : "", peepholes ? " peep" : "", clip > 0 ? " clip=" + clip : "", steps(),
                batch(), compact(lengths), initialState ? " h0c0" : "", accumulate ? " accumulate" : "",
                confined ? " confined" : "");
    }

    private static String compact(int[] a) {
        return a.length <= 8 ? Arrays.toString(a) : Arrays.toString(Arrays.copyOf(a, 8)).replace("]", ", …]");
    }

    /** The random inputs of the problem; the same for every backend. */
    final class Inputs {
        final LstmWeights weights;
        final float[] x, h0, c0, dy, dhT, dcT;
        final float[][] prior;

        Inputs() {
            int n = rows(), b = batch(), g = 4 * hid, o = out();
            RandomData rnd = new RandomData(seed);
            weights = rnd.weights(config());
            x = rnd.uniform(n * in, inputScale);
            h0 = initialState ? rnd.uniform(b * o, 1) : null;
            c0 = initialState ? rnd.uniform(b * hid, 1) : null;
            dy = rnd.uniform(n * o, 1);
            dhT = initialState ? rnd.uniform(b * o, 1) : null;
            dcT = initialState ? rnd.uniform(b * hid, 1) : null;
            prior = new float[][] {rnd.uniform(g * in, 1), rnd.uniform(g * o, 1), rnd.uniform(g, 1), rnd.uniform(g, 1),
                    rnd.uniform(proj * hid, 1), rnd.uniform(peepholes ? 3 * hid : 0, 1)};
            if (!accumulate) for (float[] p : prior) Arrays.fill(p, Float.NaN); // overwritten: must not be read
        }
    }

    Inputs inputs() { return new Inputs(); }

    /** Every output of one run, by name. */
    static final class Outputs {
        final Map<String, float[]> values = new LinkedHashMap<>();
        final Map<String, LongFunction<String>> where = new LinkedHashMap<>();

        void put(String name, float[] v, LongFunction<String> at) {
            values.put(name, v);
            where.put(name, at);
        }

        float[] get(String name) { return values.get(name); }
    }

    /** Runs the calls on the reference backend. */
    Outputs runReference(Inputs p, boolean everything) {
        return run(p, new ReferenceBackend(), batchSizes(), everything);
    }

    Outputs runReference(Inputs p) { return runReference(p, true); }

    /** Runs the calls on a SIMD backend of {@code threads} threads, packed ({@code packed}) or as a uniform call. */
    Outputs runSimd(Inputs p, int threads, boolean packed, boolean everything) {
        try (SimdBackend backend = new SimdBackend(new BackendOptions(threads, null))) {
            return run(p, backend, packed ? batchSizes() : null, everything);
        }
    }

    Outputs runSimd(Inputs p, int threads, boolean packed) { return runSimd(p, threads, packed, true); }

    /**
     * Training forward, backward and inference forward on {@code backend}, packed with {@code batchSizes} or uniform
     * when null (then every length must be T). The training workspace is larger than the call. Unless
     * {@code everything}, the optional arguments are left out: no {@code dy} (zeros), no {@code hT, cT, dx} and no
     * weight gradients wanted; then only {@code y, dh0, dc0} and the inference {@code y} are kept.
     */
    Outputs run(Inputs p, LstmBackend backend, int[] batchSizes, boolean everything) {
        LstmConfig cfg = config();
        int t = steps(), b = batch(), n = rows(), o = out(), g = 4 * hid;
        Calls.Sequences seq = batchSizes == null ? Calls.Sequences.UNIFORM : Calls.Sequences.packed(batchSizes);
        float[] y = new float[n * o], hT = new float[b * o], cT = new float[b * hid];
        float[] dx = new float[n * in], dh0 = new float[b * o], dc0 = new float[b * hid];
        float[] yInf = new float[n * o], hInf = new float[b * o], cInf = new float[b * hid];
        float[][] grads = new float[p.prior.length][];
        for (int i = 0; i < grads.length; i++) grads[i] = p.prior[i].clone();
        try (Arena arena = confined ? Arena.ofConfined() : null;
             BackendWeights w = backend.pack(cfg, p.weights);
             BackendWorkspace ws = backend.newWorkspace(cfg, t + 2, b + 3)) {
            Segments s = new Segments(arena);
            MemorySegment xs = s.in(p.x), ys = s.out(y), hTs = everything ? s.out(hT) : null,
                    cTs = everything ? s.out(cT) : null;
            backend.forward(new Calls.Forward(cfg, w, t, b, xs, s.in(p.h0), s.in(p.c0), ys, hTs, cTs, ws, seq));
            MemorySegment dxs = everything ? s.out(dx) : null, dh0s = s.out(dh0), dc0s = s.out(dc0);
            MemorySegment[] gs = new MemorySegment[grads.length];
            for (int i = 0; i < gs.length; i++) gs[i] = s.in(grads[i]);
            LstmGradients.Builder gb = LstmGradients.builder(gs[0], gs[1]).bias(gs[2], gs[3]);
            if (proj > 0) gb.projection(gs[4]);
            if (peepholes) gb.peepholes(gs[5]);
            backend.backward(new Calls.Backward(cfg, w, ws, t, b, xs, everything ? s.in(p.dy) : null, s.in(p.dhT),
                    s.in(p.dcT), dxs, dh0s, dc0s, everything ? gb.build() : null, accumulate, seq));
            MemorySegment yInfs = s.out(yInf), hInfs = everything ? s.out(hInf) : null,
                    cInfs = everything ? s.out(cInf) : null;
            backend.forward(new Calls.Forward(cfg, w, t, b, xs, s.in(p.h0), s.in(p.c0), yInfs, hInfs, cInfs, null,
                    seq));
            s.back();
            if (arena != null) {
                for (int i = 0; i < gs.length; i++) {
                    MemorySegment.copy(gs[i], 0, MemorySegment.ofArray(grads[i]), 0, 4L * grads[i].length);
                }
            }
        }
        Outputs r = new Outputs();
        int[] sizes = batchSizes();
        r.put("y", y, packedRow("y", sizes, o));
        if (!everything) {
            r.put("dh0", dh0, Comparison.matrix("dh0", o));
            r.put("dc0", dc0, Comparison.matrix("dc0", hid));
            r.put("inference.y", yInf, packedRow("inference.y", sizes, o));
            return r;
        }
        r.put("hT", hT, Comparison.matrix("hT", o));
        r.put("cT", cT, Comparison.matrix("cT", hid));
        r.put("dx", dx, packedRow("dx", sizes, in));
        r.put("dh0", dh0, Comparison.matrix("dh0", o));
        r.put("dc0", dc0, Comparison.matrix("dc0", hid));
        r.put("dWih", grads[0], Comparison.matrix("dWih", in));
        r.put("dWhh", grads[1], Comparison.matrix("dWhh", o));
        r.put("dbIh", grads[2], Comparison.matrix("dbIh", g));
        r.put("dbHh", grads[3], Comparison.matrix("dbHh", g));
        if (proj > 0) r.put("dWhr", grads[4], Comparison.matrix("dWhr", hid));
        if (peepholes) r.put("dPeepholes", grads[5], Comparison.matrix("dPeepholes", hid));
        r.put("inference.y", yInf, packedRow("inference.y", sizes, o));
        r.put("inference.hT", hInf, Comparison.matrix("inference.hT", o));
        r.put("inference.cT", cInf, Comparison.matrix("inference.cT", hid));
        return r;
    }

    /** Names element {@code i} of a packed buffer by step and sequence, e.g. {@code y[t=3, b=0, 17]}. */
    static LongFunction<String> packedRow(String name, int[] sizes, int width) {
        return i -> {
            long row = i / width;
            int t = 0;
            while (row >= sizes[t]) row -= sizes[t++];
            return name + "[t=" + t + ", b=" + row + ", " + (i % width) + "]";
        };
    }

    /** Every output of {@code tested} against {@code expected}, with {@code Tolerance.forCall} of the call's size. */
    List<Comparison.Result> compare(Outputs tested, Outputs expected) {
        double rtol = Tolerance.forCall(in, hid, steps(), batch());
        List<Comparison.Result> results = new ArrayList<>();
        for (String name : expected.values.keySet()) {
            float[] e = expected.get(name), a = tested.get(name);
            results.add(Comparison.compare(name, MemorySegment.ofArray(a), MemorySegment.ofArray(e), e.length, rtol,
                    expected.where.get(name)));
        }
        return results;
    }

    /**
     * The caller's buffers of one run: heap arrays, or copies in a confined arena ({@link #back} copies the outputs
     * back to their arrays).
     */
    private static final class Segments {
        private final Arena arena;
        private final List<float[]> outs = new ArrayList<>();
        private final List<MemorySegment> outSegs = new ArrayList<>();

        Segments(Arena arena) { this.arena = arena; }

        MemorySegment in(float[] a) {
            if (a == null) return null;
            if (arena == null) return MemorySegment.ofArray(a);
            MemorySegment s = arena.allocate(Math.max(4L, 4L * a.length), 64);
            MemorySegment.copy(MemorySegment.ofArray(a), 0, s, 0, 4L * a.length);
            return a.length == 0 ? s.asSlice(0, 0) : s;
        }

        MemorySegment out(float[] a) {
            MemorySegment s = in(a);
            if (arena != null) {
                outs.add(a);
                outSegs.add(s);
            }
            return s;
        }

        void back() {
            for (int i = 0; i < outs.size(); i++) {
                MemorySegment.copy(outSegs.get(i), 0, MemorySegment.ofArray(outs.get(i)), 0, 4L * outs.get(i).length);
            }
        }
    }
}
