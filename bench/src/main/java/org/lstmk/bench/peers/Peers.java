package org.lstmk.bench.peers;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** The peers by name, and the check that a peer computes the same LSTM as our reference before it is timed. */
public final class Peers {
    private Peers() {}

    /** Every peer, in report order. */
    public static final List<String> ALL = List.of("simd", "reference", "onednn", "onnxruntime", "djl-pytorch",
            "tensorflow", "dl4j");

    public static Peer of(String name) {
        return switch (name) {
            case "simd", "reference" -> new OursPeer(name);
            case "onednn" -> new OneDnnPeer();
            case "onnxruntime" -> new OrtPeer();
            case "djl-pytorch" -> new DjlPeer();
            case "tensorflow" -> new TfPeer();
            case "dl4j" -> new Dl4jPeer();
            default -> throw new IllegalArgumentException("unknown peer '" + name + "'; peers: " + ALL);
        };
    }

    /** Relative tolerance of the check: |peer - ref| <= ATOL + RTOL·|ref|. */
    static final double RTOL = 1e-4, ATOL = 1e-4;

    /** Steps of the prefix run through the double-precision reference: at most ~1 GFLOP of it. */
    static int referenceSteps(Problem p) {
        double perStep = p.flops() / p.steps();
        return (int) Math.max(1, Math.min(p.steps(), Math.floor(1e9 / perStep)));
    }

    private static final Map<String, float[]> SIMD = new ConcurrentHashMap<>();

    /**
     * Checks the output of {@code r} (after one {@link Peer.Runner#run()}) against our {@code reference} backend
     * on the first {@link #referenceSteps} steps (an LSTM's output at step t depends on steps ≤ t only; the
     * reference is scalar double precision, too slow for a whole 1024×64×50 at every setup) and against our
     * {@code simd} backend (itself conformance-tested against the reference) on all of them. Throws, naming the
     * peer, the element and both values, on a mismatch; returns a one-line summary.
     */
    public static String check(String peer, Problem p, Peer.Runner r) throws Throwable {
        r.run();
        float[] y = r.output();
        int tr = referenceSteps(p);
        float[] ref = outputOf("reference", p.prefix(tr));
        double e1 = compare(peer, "reference (first " + tr + " steps)", y, ref, ref.length);
        String key = p.shape();
        float[] simd = peer.equals("simd") ? y : SIMD.computeIfAbsent(key, k -> {
            try {
                return outputOf("simd", p);
            } catch (Throwable e) {
                throw new IllegalStateException(e);
            }
        });
        double e2 = compare(peer, "simd (all " + p.steps() + " steps)", y, simd, simd.length);
        return String.format("%s %s: max |err| vs reference (%d steps) %.2e, vs simd (%d steps) %.2e", peer,
                p.shape(), tr, e1, p.steps(), e2);
    }

    /**
     * After one {@link Peer.Runner#train()}: the input gradient {@code dx} against our {@code simd} backend's
     * (forward training + backward, same {@code dy}); throws on a mismatch, returns a one-line summary.
     */
    public static String checkTraining(String peer, Problem p, Peer.Runner r) throws Throwable {
        r.train();
        float[] dx = r.inputGradient();
        float[] ref;
        try (Peer.Runner s = new OursPeer("simd").open(p, 0)) {
            s.train();
            ref = s.inputGradient();
        }
        double e = compare(peer, "simd's training dx", dx, ref, ref.length);
        return String.format("%s %s training: max |err| of dx vs simd %.2e", peer, p.shape(), e);
    }

    static float[] outputOf(String backend, Problem p) throws Throwable {
        try (Peer.Runner r = new OursPeer(backend).open(p, 0)) {
            r.run();
            return r.output();
        }
    }

    static double compare(String peer, String what, float[] y, float[] ref, int n) {
        if (y.length < n) throw new IllegalStateException(peer + ": output has " + y.length + " values, expected " + n);
        double worst = 0;
        for (int i = 0; i < n; i++) {
            double d = Math.abs((double) y[i] - ref[i]);
            if (!(d <= ATOL + RTOL * Math.abs(ref[i])))
                throw new IllegalStateException(String.format(
                        "%s disagrees with %s at y[%d]: %s vs %s (|err| %.3e > %.0e + %.0e·|ref|)", peer, what, i,
                        y[i], ref[i], d, ATOL, RTOL));
            worst = Math.max(worst, d);
        }
        return worst;
    }
}
