package org.lstmk.bench;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.lstmk.api.GradientMode;
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
 * {@code lstmk demo --task check}: a random LSTM (I = H = 256, B = 16, T = 50), forward (training) and backward through the
 * dispatcher's choice, timed, then the same through the scalar reference and compared. Exit 1 on mismatch.
 */
final class KernelCheck {
    private KernelCheck() {}

    private static final int I = 256, H = 256, B = 16, T = 50;

    /** Every output of one forward + backward. */
    private record Outputs(float[] y, float[] hT, float[] cT, float[] dx, float[] dh0, float[] dc0, LstmGradients grads) {}

    /** @param backend a backend to force, or null for the dispatcher's choice */
    static int run(String backend) {
        LstmConfig cfg = LstmConfig.of(I, H);
        RandomData rnd = new RandomData(42);
        LstmWeights weights = rnd.weights(cfg);
        float[] x = rnd.uniform(T * B * I, 1), dy = rnd.uniform(T * B * H, 1);
        float[] h0 = rnd.uniform(B * H, 0.5), c0 = rnd.uniform(B * H, 0.5);

        double fwdMs, bwdMs;
        Outputs got;
        String chosen;
        Lstm.Builder builder = Lstm.builder(cfg);
        if (backend != null) builder.backend(backend);
        try (Lstm lstm = builder.build()) {
            chosen = lstm.selection().describe();
            System.out.printf("LSTM I=%d H=%d B=%d T=%d, %s%n", I, H, B, T, chosen);
            // The JIT needs a few dozen calls before the SIMD kernels are compiled: time only after that.
            final int warmUp = 40, timed = 15;
            long[] fwd = new long[timed], bwd = new long[timed];
            got = null;
            try (PackedWeights w = lstm.pack(weights); TrainingWorkspace ws = lstm.newWorkspace(T, B)) {
                for (int rep = 0; rep < warmUp + timed; rep++) {
                    Outputs o = blank(cfg);
                    long t0 = System.nanoTime();
                    forward(lstm, w, ws, x, h0, c0, o);
                    long t1 = System.nanoTime();
                    backward(lstm, w, ws, x, dy, o);
                    long t2 = System.nanoTime();
                    if (rep >= warmUp) {
                        fwd[rep - warmUp] = t1 - t0;
                        bwd[rep - warmUp] = t2 - t1;
                    }
                    got = o;
                }
            }
            fwdMs = median(fwd) / 1e6;
            bwdMs = median(bwd) / 1e6;
        }
        Outputs ref = blank(cfg);
        try (Lstm lstm = Lstm.builder(cfg).backend(ReferenceBackend.NAME).build();
             PackedWeights w = lstm.pack(weights); TrainingWorkspace ws = lstm.newWorkspace(T, B)) {
            forward(lstm, w, ws, x, h0, c0, ref);
            backward(lstm, w, ws, x, dy, ref);
        }
        double flop = 2.0 * T * B * 4 * H * (I + H);
        System.out.printf(Locale.ROOT, "forward (training)  %8.3f ms per call  %7.2f GFLOP/s%n", fwdMs, flop / fwdMs / 1e6);
        System.out.printf(Locale.ROOT, "backward            %8.3f ms per call  %7.2f GFLOP/s%n", bwdMs, 2 * flop / bwdMs / 1e6);

        double rtol = Tolerance.forCall(I, H, T, B);
        List<Comparison.Result> results = new ArrayList<>();
        cmp(results, "y", got.y, ref.y, rtol, H);
        cmp(results, "hT", got.hT, ref.hT, rtol, H);
        cmp(results, "cT", got.cT, ref.cT, rtol, H);
        cmp(results, "dx", got.dx, ref.dx, rtol, I);
        cmp(results, "dh0", got.dh0, ref.dh0, rtol, H);
        cmp(results, "dc0", got.dc0, ref.dc0, rtol, H);
        cmp(results, "dWih", got.grads.dWih(), ref.grads.dWih(), rtol, I);
        cmp(results, "dWhh", got.grads.dWhh(), ref.grads.dWhh(), rtol, H);
        cmp(results, "dbIh", got.grads.dbIh(), ref.grads.dbIh(), rtol, 4 * H);
        double maxAbs = results.stream().mapToDouble(Comparison.Result::maxAbs).max().orElse(0);
        double maxRel = results.stream().mapToDouble(Comparison.Result::maxRel).max().orElse(0);
        boolean ok = results.stream().allMatch(Comparison.Result::passed);
        double margin = results.stream().mapToDouble(Comparison.Result::margin).max().orElse(0);
        System.out.printf(Locale.ROOT, "vs reference        max abs error %.3g, max rel error %.3g; worst element at %.2f of its"
                + " bound (rtol %.2g × (|ref| + max|ref|)): %s%n", maxAbs, maxRel, margin, rtol, ok ? "ok" : "MISMATCH");
        if (!ok) results.stream().filter(r -> !r.passed()).forEach(r -> System.out.println("  " + r.describe()));
        return ok ? 0 : 1;
    }

    private static Outputs blank(LstmConfig cfg) {
        return new Outputs(new float[T * B * H], new float[B * H], new float[B * H], new float[T * B * I],
                new float[B * H], new float[B * H], LstmGradients.allocate(cfg));
    }

    private static void forward(Lstm lstm, PackedWeights w, TrainingWorkspace ws, float[] x, float[] h0, float[] c0,
                                Outputs o) {
        lstm.forwardTraining(w, T, B, MemorySegment.ofArray(x), LstmState.of(h0, c0), MemorySegment.ofArray(o.y),
                LstmState.of(o.hT, o.cT), ws);
    }

    private static void backward(Lstm lstm, PackedWeights w, TrainingWorkspace ws, float[] x, float[] dy, Outputs o) {
        lstm.backward(w, ws, MemorySegment.ofArray(x), MemorySegment.ofArray(dy), null, MemorySegment.ofArray(o.dx),
                LstmState.of(o.dh0, o.dc0), o.grads, GradientMode.OVERWRITE);
    }

    private static void cmp(List<Comparison.Result> out, String name, float[] a, float[] e, double rtol, int cols) {
        cmp(out, name, MemorySegment.ofArray(a), MemorySegment.ofArray(e), rtol, cols);
    }

    private static void cmp(List<Comparison.Result> out, String name, MemorySegment a, MemorySegment e, double rtol, int cols) {
        out.add(Comparison.compare(name, a, e, a.byteSize() / Float.BYTES, rtol, Comparison.matrix(name, cols)));
    }

    private static double median(long[] a) {
        long[] s = a.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
