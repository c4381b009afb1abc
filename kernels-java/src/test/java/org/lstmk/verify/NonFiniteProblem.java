package org.lstmk.verify;

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
import org.lstmk.api.SequenceBatch;
import org.lstmk.api.TrainingWorkspace;
import org.lstmk.reference.ReferenceLstm;

/**
 * One small single-layer problem with one IEEE special value (±∞ or NaN) planted in one input, run through the public
 * API (training forward, backward, inference forward; uniform or variable-length {@link SequenceBatch}) on a backend,
 * every output kept by name. Shared by the SIMD backend's and the CUDA host build's IEEE edge-case tests, which
 * compare each backend with the double-precision reference through {@link Comparison}: a NaN of the reference must be
 * NaN there, an infinity the same infinity, and no other element may be non-finite.
 *
 * <p>The value goes where padding of a vectorised or tiled backend would meet it: the last input feature (next to
 * padded input columns), the last hidden unit (next to padded units) and its rows of the weights. With {@code x} at
 * ±∞ every gate of the affected row saturates, so the reference's gradients there are exact zeros and
 * {@code 0·∞ = NaN} appears only where IEEE puts it (the column of {@code dW_ih} that the ∞ multiplies).
 *
 * @param target  where the value goes
 * @param value   {@code +∞}, {@code −∞} or NaN
 * @param lengths each sequence's length in the caller's order, or null for a uniform batch of {@code batch}
 * @param proj    projection size (0: none)
 * @param clip    cell clip (0: none)
 */
public record NonFiniteProblem(Target target, float value, int in, int hid, int proj, boolean peepholes, float clip,
                               int steps, int batch, int[] lengths, long seed) {
    /** Where the special value is planted. */
    public enum Target {
        /** {@code x[t=1, b=1, I−1]}. */
        X,
        /** {@code x} in the padding of sequence 1 (past its length): never read, so nothing may change. */
        X_PADDING,
        /** {@code h0[b=1, H_out−1]}. */
        H0,
        /** {@code c0[b=1, H−1]}. */
        C0,
        /** {@code W_ih} at the last unit's f row, last column. */
        W_IH,
        /** {@code W_hh} at the last unit's g row, first column. */
        W_HH,
        /** {@code b_ih} at the last unit's o row. */
        BIAS,
        /** The peephole {@code P_f} of the last unit (peephole problems only). */
        PEEPHOLE,
        /** {@code W_hr} at the last row and unit (projection problems only). */
        W_HR
    }

    /** The poisoned sequence: it has length 2 in variable-length problems, so {@code t = 1} is its last step. */
    static final int ROW = 1;

    public NonFiniteProblem {
        if (batch < 2 || steps < 3) throw new IllegalArgumentException("needs B >= 2 and T >= 3");
        if (lengths != null && (lengths.length != batch || lengths[ROW] != 2)) {
            throw new IllegalArgumentException("sequence " + ROW + " must have length 2");
        }
    }

    /** Lengths for {@code batch} sequences of at most {@code steps}: the longest first, sequence 1 of length 2. */
    public static int[] variableLengths(int steps, int batch) {
        int[] len = new int[batch];
        for (int b = 0; b < batch; b++) len[b] = 1 + (steps - 1 + b * 2) % steps;
        len[0] = steps;
        len[ROW] = 2;
        if (batch > 2) len[batch - 1] = 1;
        return len;
    }

    public LstmConfig config() {
        return LstmConfig.builder(in, hid).projectionSize(proj).peepholes(peepholes).cellClip(clip)
                .layout(Layout.TIME_MAJOR).build();
    }

    public int out() { return proj > 0 ? proj : hid; }

    public SequenceBatch sequences() {
        return lengths == null ? SequenceBatch.of(steps, batch) : SequenceBatch.of(steps, lengths);
    }

    @Override public String toString() {
        return String.format(Locale.ROOT, "%s=%s I=%d H=%d%s%s%s T=%d B=%d %s", target, value, in, hid,
                proj > 0 ? " P=" + proj : "", peepholes ? " peep" : "", clip > 0 ? " clip=" + clip : "", steps,
                batch, lengths == null ? "uniform" : "lengths " + java.util.Arrays.toString(lengths));
    }

    /** Every output of one backend, by name, with what a comparison needs to name an element. */
    public static final class Outputs {
        final Map<String, float[]> values = new LinkedHashMap<>();
        final Map<String, LongFunction<String>> where = new LinkedHashMap<>();

        void put(String name, float[] v, LongFunction<String> at) {
            values.put(name, v);
            where.put(name, at);
        }

        public float[] get(String name) { return values.get(name); }
    }

    /** Runs the problem on {@code backend} with {@code threads} (verification off: the test compares itself). */
    public Outputs run(String backend, int threads) {
        LstmConfig cfg = config();
        int t = steps, b = batch, o = out(), g = 4 * hid;
        RandomData rnd = new RandomData(seed);
        double k = 1 / Math.sqrt(hid);
        float[] wIh = rnd.uniform(g * in, k), wHh = rnd.uniform(g * o, k), bIh = rnd.uniform(g, k),
                bHh = rnd.uniform(g, k), wHr = rnd.uniform(proj * hid, k), peep = rnd.uniform(peepholes ? 3 * hid : 0, 0.5);
        float[] x = rnd.uniform(t * b * in, 1), h0 = rnd.uniform(b * o, 1), c0 = rnd.uniform(b * hid, 1);
        float[] dy = rnd.uniform(t * b * o, 1), dhT = rnd.uniform(b * o, 1), dcT = rnd.uniform(b * hid, 1);
        int last = hid - 1;
        switch (target) {
            case X -> x[(1 * b + ROW) * in + in - 1] = value;
            case X_PADDING -> {
                if (lengths == null) throw new IllegalStateException("X_PADDING needs variable lengths");
                x[((t - 1) * b + ROW) * in + in - 1] = value;
            }
            case H0 -> h0[ROW * o + o - 1] = value;
            case C0 -> c0[ROW * hid + last] = value;
            case W_IH -> wIh[(ReferenceLstm.GATE_F * hid + last) * in + in - 1] = value;
            case W_HH -> wHh[(ReferenceLstm.GATE_G * hid + last) * o] = value;
            case BIAS -> bIh[ReferenceLstm.GATE_O * hid + last] = value;
            case PEEPHOLE -> peep[ReferenceLstm.PEEP_F * hid + last] = value;
            case W_HR -> wHr[(proj - 1) * hid + last] = value;
        }
        if (lengths != null) {
            // the padding is never read; dy there is not part of the problem either
            for (int s = 0; s < t; s++) {
                for (int r = 0; r < b; r++) {
                    if (s >= lengths[r]) java.util.Arrays.fill(dy, (s * b + r) * o, (s * b + r + 1) * o, 0f);
                }
            }
        }
        LstmWeights.Builder wb = LstmWeights.builder(seg(wIh), seg(wHh)).bias(seg(bIh), seg(bHh));
        if (proj > 0) wb.projection(seg(wHr));
        if (peepholes) wb.peepholes(seg(peep));
        float[] y = new float[t * b * o], hT = new float[b * o], cT = new float[b * hid];
        float[] dx = new float[t * b * in], dh0 = new float[b * o], dc0 = new float[b * hid];
        float[] dWih = new float[g * in], dWhh = new float[g * o], dbIh = new float[g], dbHh = new float[g];
        float[] dWhr = new float[proj * hid], dPeep = new float[peepholes ? 3 * hid : 0];
        float[] yInf = new float[t * b * o], hInf = new float[b * o], cInf = new float[b * hid];
        LstmGradients.Builder gb = LstmGradients.builder(seg(dWih), seg(dWhh)).bias(seg(dbIh), seg(dbHh));
        if (proj > 0) gb.projection(seg(dWhr));
        if (peepholes) gb.peepholes(seg(dPeep));
        SequenceBatch seq = sequences();
        try (Lstm lstm = Lstm.builder(cfg).backend(backend).threads(threads).verify(false).build();
             PackedWeights w = lstm.pack(wb.build());
             TrainingWorkspace ws = lstm.newWorkspace(t, b)) {
            MemorySegment xs = seg(x);
            LstmState initial = LstmState.of(h0, c0);
            lstm.forwardTraining(w, seq, xs, initial, seg(y), LstmState.of(hT, cT), ws);
            lstm.backward(w, ws, xs, seg(dy), LstmState.of(dhT, dcT), seg(dx), LstmState.of(dh0, dc0), gb.build(),
                    GradientMode.OVERWRITE);
            lstm.forward(w, seq, xs, initial, seg(yInf), LstmState.of(hInf, cInf));
        }
        Outputs r = new Outputs();
        r.put("y", y, Comparison.sequence("y", Layout.TIME_MAJOR, t, b, o));
        r.put("hT", hT, Comparison.matrix("hT", o));
        r.put("cT", cT, Comparison.matrix("cT", hid));
        r.put("dx", dx, Comparison.sequence("dx", Layout.TIME_MAJOR, t, b, in));
        r.put("dh0", dh0, Comparison.matrix("dh0", o));
        r.put("dc0", dc0, Comparison.matrix("dc0", hid));
        r.put("dWih", dWih, Comparison.matrix("dWih", in));
        r.put("dWhh", dWhh, Comparison.matrix("dWhh", o));
        r.put("dbIh", dbIh, Comparison.matrix("dbIh", g));
        r.put("dbHh", dbHh, Comparison.matrix("dbHh", g));
        if (proj > 0) r.put("dWhr", dWhr, Comparison.matrix("dWhr", hid));
        if (peepholes) r.put("dPeepholes", dPeep, Comparison.matrix("dPeepholes", hid));
        r.put("inference.y", yInf, Comparison.sequence("inference.y", Layout.TIME_MAJOR, t, b, o));
        r.put("inference.hT", hInf, Comparison.matrix("inference.hT", o));
        r.put("inference.cT", cInf, Comparison.matrix("inference.cT", hid));
        return r;
    }

    /**
     * Every output of {@code tested} against {@code expected} (the reference's), with {@link Tolerance#forCall}:
     * same NaN positions, same infinities, finite values within the tolerance.
     */
    public List<Comparison.Result> compare(Outputs tested, Outputs expected) {
        double rtol = Tolerance.forCall(in, hid, steps, batch);
        List<Comparison.Result> results = new ArrayList<>();
        for (Map.Entry<String, float[]> e : expected.values.entrySet()) {
            float[] r = e.getValue(), a = tested.get(e.getKey());
            results.add(Comparison.compare(e.getKey(), seg(a), seg(r), r.length, rtol, expected.where.get(e.getKey())));
        }
        return results;
    }

    /** The failed comparisons, one per line, or "" when all passed. */
    public static String failures(List<Comparison.Result> results) {
        StringBuilder m = new StringBuilder();
        for (Comparison.Result r : results) if (!r.passed()) m.append("\n  ").append(r.describe());
        return m.toString();
    }

    /** Counts of NaN and of infinite elements over every output: what a case actually exercises. */
    public static int[] nonFinite(Outputs o) {
        int nan = 0, inf = 0;
        for (float[] v : o.values.values()) {
            for (float f : v) {
                if (Float.isNaN(f)) nan++;
                else if (Float.isInfinite(f)) inf++;
            }
        }
        return new int[] {nan, inf};
    }

    /**
     * The cases over {@code hidden} sizes: every target and value, I odd, uniform and variable lengths, the
     * plain cell and in turn peepholes with a clip and projection, so that each feature meets each target.
     */
    public static List<NonFiniteProblem> cases(int[] hidden, long seed) {
        List<NonFiniteProblem> c = new ArrayList<>();
        float[] values = {Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN};
        int k = 0;
        for (int hid : hidden) {
            for (int feature = 0; feature < 3; feature++) {
                boolean peep = feature == 1;
                float clip = feature == 1 ? 3f : 0f;
                int proj = feature == 2 ? Math.max(1, hid / 2 + 1) : 0;
                for (Target target : Target.values()) {
                    if (target == Target.PEEPHOLE && !peep || target == Target.W_HR && proj == 0) continue;
                    for (float v : values) {
                        int in = k % 2 == 0 ? 3 : 5, steps = 4, batch = k % 3 == 0 ? 3 : 5;
                        boolean variable = target == Target.X_PADDING || k % 2 == 1;
                        c.add(new NonFiniteProblem(target, v, in, hid, proj, peep, clip, steps, batch,
                                variable ? variableLengths(steps, batch) : null, seed + k));
                        k++;
                    }
                }
            }
        }
        return c;
    }

    static MemorySegment seg(float[] a) {
        return MemorySegment.ofArray(a);
    }
}
