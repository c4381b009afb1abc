package org.lstmk.api;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import org.lstmk.reference.ReferenceBackend;
import org.lstmk.verify.RandomData;

/**
 * An engine on the reference backend (I = 3, H = 5), packed weights, and a workspace holding a training forward
 * (T = 4, B = 2), with {@link ApiCall}s of every entry point on fresh buffers. The weights and workspace the calls
 * use are fields, so a test can swap in closed or foreign ones.
 */
final class CallFixture implements AutoCloseable {
    static final int I = 3, H = 5, T = 4, B = 2, G = 4 * H;
    static final String SEQ_I = "[T=" + T + ", B=" + B + ", I=" + I + "]";
    static final String SEQ_H = "[T=" + T + ", B=" + B + ", H=" + H + "]";
    static final String BH = "[B=" + B + ", H=" + H + "]";
    static final String BI = "[B=" + B + ", I=" + I + "]";
    static final String GATES = "[B=" + B + ", 4H=" + G + "]";

    /** Every entry point that takes buffers. */
    enum Op { PACK, FORWARD, FORWARD_TRAINING, BACKWARD, CELL_FORWARD, CELL_BACKWARD }

    final LstmConfig config;
    final Lstm lstm;
    final LstmWeights rawWeights;
    final boolean bias;
    PackedWeights weights;
    TrainingWorkspace workspace;
    GradientMode mode = GradientMode.OVERWRITE;
    private final RandomData rnd = new RandomData(2024);
    private final float[] trainingX;

    CallFixture(NonFinitePolicy policy) {
        this(policy, true);
    }

    CallFixture(NonFinitePolicy policy, boolean bias) {
        this.bias = bias;
        config = LstmConfig.builder(I, H).nonFinitePolicy(policy).build();
        lstm = Lstm.builder(config).backend(ReferenceBackend.NAME).verify(false).build();
        LstmWeights w = rnd.weights(config);
        rawWeights = bias ? w : LstmWeights.of(w.wIh(), w.wHh(), null, null);
        weights = lstm.pack(rawWeights);
        workspace = lstm.newWorkspace(T, B);
        trainingX = rnd.uniform(T * B * I, 1);
        lstm.forwardTraining(weights, T, B, MemorySegment.ofArray(trainingX.clone()), null,
                MemorySegment.ofArray(new float[T * B * H]), null, workspace);
    }

    ApiCall call(Op op) {
        return switch (op) {
            case PACK -> pack();
            case FORWARD -> forward(false);
            case FORWARD_TRAINING -> forward(true);
            case BACKWARD -> backward();
            case CELL_FORWARD -> cellForward();
            case CELL_BACKWARD -> cellBackward();
        };
    }

    ApiCall pack() {
        return new ApiCall.Builder()
                .in("wIh", (long) G * I, "[4H=" + G + ", I=" + I + "]", true, floats(rawWeights.wIh()))
                .in("wHh", (long) G * H, "[4H=" + G + ", H=" + H + "]", true, floats(rawWeights.wHh()))
                .in("bIh", G, "[4H=" + G + "]", false, bias ? floats(rawWeights.bIh()) : rnd.uniform(G, 1))
                .in("bHh", G, "[4H=" + G + "]", false, bias ? floats(rawWeights.bHh()) : rnd.uniform(G, 1))
                .build("pack", a -> {
                    try (PackedWeights p = lstm.pack(LstmWeights.of(a.get("wIh"), a.get("wHh"), a.get("bIh"),
                            a.get("bHh")))) {
                        p.hasBias(); // packed and released
                    }
                }, () -> "");
    }

    ApiCall forward(boolean training) {
        return new ApiCall.Builder()
                .in("x", T * B * I, SEQ_I, true, rnd.uniform(T * B * I, 1))
                .in("initial.h", B * H, BH, false, rnd.uniform(B * H, 1))
                .in("initial.c", B * H, BH, false, rnd.uniform(B * H, 1))
                .out("y", T * B * H, SEQ_H, true)
                .out("last.h", B * H, BH, false)
                .out("last.c", B * H, BH, false)
                .build(training ? "forwardTraining" : "forward", a -> {
                    if (training) {
                        lstm.forwardTraining(weights, T, B, a.get("x"), state(a, "initial"), a.get("y"),
                                state(a, "last"), workspace);
                    } else {
                        lstm.forward(weights, T, B, a.get("x"), state(a, "initial"), a.get("y"), state(a, "last"));
                    }
                }, this::workspaceState);
    }

    ApiCall backward() {
        return gradientOutputs(new ApiCall.Builder()
                .in("x", T * B * I, SEQ_I, true, trainingX)
                .in("dy", T * B * H, SEQ_H, true, rnd.uniform(T * B * H, 1))
                .in("dLast.h", B * H, BH, false, rnd.uniform(B * H, 1))
                .in("dLast.c", B * H, BH, false, rnd.uniform(B * H, 1))
                .out("dx", T * B * I, SEQ_I, false)
                .out("dInitial.h", B * H, BH, false)
                .out("dInitial.c", B * H, BH, false))
                .build("backward", a -> lstm.backward(weights, workspace, a.get("x"), a.get("dy"), state(a, "dLast"),
                        a.get("dx"), state(a, "dInitial"), gradients(a), mode), this::workspaceState);
    }

    ApiCall cellForward() {
        return new ApiCall.Builder()
                .in("x", B * I, BI, true, rnd.uniform(B * I, 1))
                .in("prev.h", B * H, BH, false, rnd.uniform(B * H, 1))
                .in("prev.c", B * H, BH, false, rnd.uniform(B * H, 1))
                .out("next.h", B * H, BH, true)
                .out("next.c", B * H, BH, true)
                .out("gates", (long) B * G, GATES, false)
                .build("cellForward", a -> lstm.cellForward(weights, B, a.get("x"), state(a, "prev"),
                        new LstmState(a.get("next.h"), a.get("next.c")), a.get("gates")), () -> "");
    }

    ApiCall cellBackward() {
        // Plausible saved activations: i, f, o in (0, 1), g in (−1, 1).
        float[] noise = rnd.uniform(B * G, 0.5);
        float[] gates = new float[B * G];
        for (int k = 0; k < gates.length; k++) gates[k] = (k / H) % 4 == 2 ? 2 * noise[k] : 0.5f + noise[k];
        return gradientOutputs(new ApiCall.Builder()
                .in("x", B * I, BI, true, rnd.uniform(B * I, 1))
                .in("prev.h", B * H, BH, false, rnd.uniform(B * H, 1))
                .in("prev.c", B * H, BH, false, rnd.uniform(B * H, 1))
                .in("gates", (long) B * G, GATES, true, gates)
                .in("dNext.h", B * H, BH, false, rnd.uniform(B * H, 1))
                .in("dNext.c", B * H, BH, false, rnd.uniform(B * H, 1))
                .out("dx", B * I, BI, false)
                .out("dPrev.h", B * H, BH, false)
                .out("dPrev.c", B * H, BH, false))
                .build("cellBackward", a -> lstm.cellBackward(weights, B, a.get("x"), state(a, "prev"), a.get("gates"),
                        state(a, "dNext"), a.get("dx"), state(a, "dPrev"), gradients(a), mode), () -> "");
    }

    private ApiCall.Builder gradientOutputs(ApiCall.Builder b) {
        b.out("gradients.dWih", (long) G * I, "[4H=" + G + ", I=" + I + "]", false)
                .out("gradients.dWhh", (long) G * H, "[4H=" + G + ", H=" + H + "]", false);
        if (bias) b.out("gradients.dbIh", G, "[4H=" + G + "]", false).out("gradients.dbHh", G, "[4H=" + G + "]", false);
        return b;
    }

    /** The workspace's record of its training forward: what a rejected call must not change. */
    String workspaceState() {
        return "steps=" + workspace.steps() + ", batch=" + workspace.batch() + ", closed=" + workspace.isClosed();
    }

    private static LstmState state(Map<String, MemorySegment> a, String prefix) {
        return new LstmState(a.get(prefix + ".h"), a.get(prefix + ".c"));
    }

    /** The gradients record, or null when its two matrices are both absent (the record requires them). */
    private static LstmGradients gradients(Map<String, MemorySegment> a) {
        if (a.get("gradients.dWih") == null && a.get("gradients.dWhh") == null) return null;
        return LstmGradients.of(a.get("gradients.dWih"), a.get("gradients.dWhh"), a.get("gradients.dbIh"),
                a.get("gradients.dbHh"));
    }

    private static float[] floats(MemorySegment s) {
        return s.toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
    }

    @Override
    public void close() {
        weights.close();
        workspace.close();
        lstm.close();
    }
}
