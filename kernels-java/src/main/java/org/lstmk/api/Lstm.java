package org.lstmk.api;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongPredicate;
import org.lstmk.dispatch.Dispatcher;
import org.lstmk.driver.LayerDriver;
import org.lstmk.driver.StackWorkspace;
import org.lstmk.spi.BackendOptions;
import org.lstmk.spi.BackendWeights;
import org.lstmk.spi.Calls;
import org.lstmk.spi.LstmBackend;

/**
 * An LSTM engine: a configuration (layers, directions, cell features) bound to the backend the dispatcher chose for
 * it (or the caller forced). The entry point of the library.
 *
 * <pre>{@code
 * LstmConfig cfg = LstmConfig.of(I, H);
 * try (Lstm lstm = Lstm.create(cfg);                                  // best usable backend
 *      PackedWeights w = lstm.pack(LstmWeights.of(wIh, wHh, bIh, bHh))) {  // PyTorch layout
 *     lstm.forward(w, T, B, x, null, y, null);                         // x [T,B,I] -> y [T,B,H]
 * }
 * }</pre>
 *
 * <p><b>Stacks.</b> With {@code layers(L)} and/or {@code bidirectional(true)}, weights are {@link StackWeights},
 * gradients {@link StackGradients}, states {@code h [L·D, B, H_out]} and {@code c [L·D, B, H]} (row
 * {@code layer·D + direction}), and {@code y [T, B, D·H_out]} holds {@code [forward h_t | reverse h_t]} of the last
 * layer, as in PyTorch. Sequences of different lengths are described by a {@link SequenceBatch}.
 *
 * <p><b>Buffers.</b> Every buffer is a {@link MemorySegment} of native-order {@code float32}, heap
 * ({@code MemorySegment.ofArray(float[])}) or native; the engine reads and writes it in place. A buffer may be
 * longer than its shape needs; the extra is untouched. Every argument is checked before anything is written:
 * a call that throws leaves all outputs as they were.
 *
 * <p><b>Threads.</b> An engine is safe to share: calls from several threads run one at a time, in the order they
 * take its lock (a backend may use several threads inside each call, {@link Builder#threads(int)}). For calls that
 * run side by side, give each thread its own engine: engines on one backend share one {@link PackedWeights} (one copy
 * of the model), while each engine keeps its own scratch and {@link TrainingWorkspace}s. Closing anything (the engine,
 * the weights, a workspace) while a call on another thread uses it waits for that call to end; a call that starts
 * after it throws {@link IllegalStateException}. Nothing is freed under a running kernel and no call returns results
 * computed from freed memory.
 *
 * <p><b>Resources.</b> An engine may own worker threads and native or device scratch; {@link #close()} releases
 * them. An engine that becomes unreachable unclosed is released by a cleaner, and idle worker threads end on their
 * own, so a forgotten engine costs memory only until the next garbage collection.
 */
public final class Lstm implements AutoCloseable {
    private final LstmConfig config;
    private final LstmBackend backend;
    private final BackendSelection selection;
    private final LayerDriver driver;
    /** Which engines accept this one's packed weights ({@link Resources.SharedWeights}, or a token of its own). */
    private final Object weightsFamily;
    /** Held by every call and by close: one call at a time, and close waits for the running one. */
    private final ReentrantLock calls = new ReentrantLock();
    private final Cleaner.Cleanable cleanable;
    private volatile boolean closed;   // written under calls

    private Lstm(LstmConfig config, Dispatcher.Opened opened, LstmBackend reverseLane, Executor executor) {
        this.config = config;
        this.backend = opened.backend();
        this.selection = opened.selection();
        this.driver = new LayerDriver(backend, reverseLane, config, executor);
        this.weightsFamily = opened.provider().sharedWeights()
                ? new Resources.SharedWeights(opened.provider().name(), selection.verified()) : new Object();
        this.cleanable = Resources.CLEANER.register(this, new Release(backend, driver));
    }

    /** Closes what an engine owns; also what the cleaner runs for an engine nobody closed. */
    private record Release(LstmBackend backend, LayerDriver driver) implements Runnable {
        @Override
        public void run() {
            try {
                backend.close();
            } finally {
                driver.close();   // and the reverse direction's backend instance, if any
            }
        }
    }

    /**
     * One public call: holds the engine's lock (so calls from several threads run one at a time and close waits for
     * them) and the packed weights and workspace it uses (so that closing those waits too), releasing all of it in
     * {@link #close()}.
     */
    private final class Call implements AutoCloseable {
        private PackedWeights weights;
        private TrainingWorkspace workspace;

        Call() {
            calls.lock();
            if (closed) {
                calls.unlock();
                throw new IllegalStateException("engine has been closed");
            }
        }

        BackendWeights[] weights(PackedWeights w) {
            BackendWeights[] impl = Objects.requireNonNull(w, "weights").acquire(Lstm.this, "weights");
            weights = w;
            return impl;
        }

        StackWorkspace workspace(TrainingWorkspace ws) {
            StackWorkspace impl = Objects.requireNonNull(ws, "workspace").acquire(Lstm.this);
            workspace = ws;
            return impl;
        }

        @Override
        public void close() {
            try {
                if (workspace != null) workspace.release();
            } finally {
                try {
                    if (weights != null) weights.release();
                } finally {
                    calls.unlock();
                    Reference.reachabilityFence(Lstm.this);   // the cleaner must not close the engine mid-call
                }
            }
        }
    }

    /** The family of engines that accept each other's packed weights. */
    Object weightsFamily() { return weightsFamily; }

    /** An engine on the best usable backend, honouring {@code -Dlstm.backend}, {@code LSTM_BACKEND} and {@code -Dlstm.verify}. */
    public static Lstm create(LstmConfig config) {
        return builder(config).build();
    }

    /** A builder to force a backend, set threads or turn verification on. */
    public static Builder builder(LstmConfig config) {
        return new Builder(config);
    }

    /** Every backend found in this process, best first, with whether it can run here and why (not). */
    public static List<BackendInfo> backends() {
        return Dispatcher.backends();
    }

    public LstmConfig config() { return config; }

    /** Name of the backend this engine runs on. */
    public String backendName() { return selection.backend(); }

    /** What was chosen, how, and what was skipped. */
    public BackendSelection selection() { return selection; }

    /**
     * Converts the weights of a single unidirectional layer ({@link LstmWeights}, PyTorch's layout) into the
     * backend's layout. The result does not alias the inputs and is reused by every call.
     *
     * @throws IllegalArgumentException if the configuration is a stack (use {@link #pack(StackWeights)}), a buffer
     *                                  is too short, misaligned, missing or superfluous for the configuration's
     *                                  features, or (under {@link NonFinitePolicy#REJECT}) holds a NaN or infinity
     */
    public PackedWeights pack(LstmWeights weights) {
        Objects.requireNonNull(weights, "weights");
        if (!config.isSingleLayer()) {
            throw new IllegalArgumentException("weights: this engine runs " + config.layers() + " layer(s)"
                    + (config.bidirectional() ? " in both directions" : "") + "; pack a StackWeights with one "
                    + "LstmWeights per layer and direction");
        }
        return pack(StackWeights.of(config, weights));
    }

    /** Converts the weights of every layer and direction; as {@link #pack(LstmWeights)}. */
    public PackedWeights pack(StackWeights weights) {
        try (Call ignored = new Call()) {
            return packLocked(weights);
        }
    }

    private PackedWeights packLocked(StackWeights weights) {
        Objects.requireNonNull(weights, "weights");
        LstmConfig wc = weights.config();
        if (wc.layers() != config.layers() || wc.directions() != config.directions()) {
            throw new IllegalArgumentException("weights: built for " + wc.layers() + " layer(s) × " + wc.directions()
                    + " direction(s), the engine runs " + config.layers() + " × " + config.directions());
        }
        ArgumentChecks c = new ArgumentChecks();
        boolean[] hasBias = new boolean[config.stateLayers()];
        for (int l = 0; l < config.layers(); l++) {
            for (int d = 0; d < config.directions(); d++) {
                LstmWeights w = weights.get(l, d);
                hasBias[l * config.directions() + d] = w.hasBias();
                layerWeights(c, prefix(l, d), w, l);
            }
        }
        c.verify(config.nonFinitePolicy());
        return new PackedWeights(weightsFamily, config, backendName(), driver.pack(weights), hasBias);
    }

    private void layerWeights(ArgumentChecks c, String p, LstmWeights w, int layer) {
        int g = config.gateRows(), in = config.layerInputSize(layer), hid = config.hiddenSize(), out = config.outputSize();
        String hOut = config.hasProjection() ? "P=" : "H=";
        c.in(p + "wIh", w.wIh(), (long) g * in, "[4H=" + g + ", I=" + in + "]")
                .in(p + "wHh", w.wHh(), (long) g * out, "[4H=" + g + ", " + hOut + out + "]")
                .optIn(p + "bIh", w.bIh(), g, "[4H=" + g + "]")
                .optIn(p + "bHh", w.bHh(), g, "[4H=" + g + "]");
        feature(c, p + "wHr", w.wHr(), config.hasProjection(), "projection",
                (long) config.projectionSize() * hid, "[P=" + config.projectionSize() + ", H=" + hid + "]", false);
        feature(c, p + "peepholes", w.peepholes(), config.peepholes(), "peepholes", 3L * hid,
                "[3H=" + 3 * hid + "]", false);
    }

    /** A tensor that exists exactly when a feature is configured. */
    private static void feature(ArgumentChecks c, String name, MemorySegment s, boolean configured, String feature,
                                long floats, String shape, boolean output) {
        if (configured) {
            if (output) c.optOut(name, s, floats, shape); else c.in(name, s, floats, shape);
        } else if (s != null) {
            throw new IllegalArgumentException(name + ": given, but the configuration has no " + feature);
        }
    }

    /** Argument-name prefix of layer {@code l} direction {@code d}: none for a single layer, else {@code l1_reverse.}. */
    private String prefix(int l, int d) {
        return config.isSingleLayer() ? "" : "l" + l + (d == 1 ? "_reverse" : "") + ".";
    }

    /**
     * A training workspace for up to {@code maxSteps} timesteps of up to {@code maxBatch} sequences, for every
     * layer and direction.
     */
    public TrainingWorkspace newWorkspace(int maxSteps, int maxBatch) {
        try (Call ignored = new Call()) {
            return newWorkspaceLocked(maxSteps, maxBatch);
        }
    }

    private TrainingWorkspace newWorkspaceLocked(int maxSteps, int maxBatch) {
        ArgumentChecks.positive("maxSteps", maxSteps);
        ArgumentChecks.positive("maxBatch", maxBatch);
        // Backends index saved gates [T+1, B, 4H] with ints, as every sequence buffer. In double: the long product
        // of the largest arguments would wrap around and pass.
        double gates = ((double) maxSteps + 1) * maxBatch * config.gateRows();
        double outs = (double) maxSteps * maxBatch * config.sequenceOutputSize();
        if (gates > Integer.MAX_VALUE || outs > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("workspace: (maxSteps + 1) × maxBatch × 4H = " + String.format(java.util.Locale.ROOT, "%.0f", gates)
                    + " elements, more than the supported " + Integer.MAX_VALUE + " (maxSteps=" + maxSteps
                    + ", maxBatch=" + maxBatch + ", H=" + config.hiddenSize() + ")");
        }
        StackWorkspace ws = driver.newWorkspace(maxSteps, maxBatch);
        return new TrainingWorkspace(this, ws, maxSteps, maxBatch);
    }

    /**
     * Inference over a whole sequence.
     *
     * @param steps   sequence length {@code T >= 1}
     * @param batch   number of sequences {@code B >= 1}
     * @param x       input {@code [T,B,I]} (or {@code [B,T,I]} for {@link Layout#BATCH_MAJOR})
     * @param initial {@code h0 [L·D,B,H_out], c0 [L·D,B,H]}; null or null components mean zeros
     * @param y       output {@code [T,B,D·H_out]}: every step's hidden state of the last layer
     * @param last    receives {@code hT [L·D,B,H_out], cT [L·D,B,H]}; null or null components are not written
     */
    public void forward(PackedWeights weights, int steps, int batch, MemorySegment x, LstmState initial,
                        MemorySegment y, LstmState last) {
        forward(weights, sequences(steps, batch), x, initial, y, last);
    }

    /**
     * Inference over a batch of sequences, each of its own length ({@link SequenceBatch}): outputs past a sequence's
     * length are 0, its final state is the one after its last step. Buffers as {@link #forward(PackedWeights, int,
     * int, MemorySegment, LstmState, MemorySegment, LstmState)} with {@code T, B} of {@code sequences}.
     */
    public void forward(PackedWeights weights, SequenceBatch sequences, MemorySegment x, LstmState initial,
                        MemorySegment y, LstmState last) {
        try (Call call = new Call()) {
            BackendWeights[] w = call.weights(weights);
            checkForward(sequences, x, initial, y, last);
            driver.forward(w, sequences, x, LstmState.h(initial), LstmState.c(initial), y, LstmState.h(last),
                    LstmState.c(last), null);
        }
    }

    /** Inference with zero initial state on Java arrays; returns {@code y [T,B,D·H_out]}. */
    public float[] forward(PackedWeights weights, int steps, int batch, float[] x) {
        // Sizes are checked before y is allocated: a bad size must get the API's message, not an array error.
        ArgumentChecks.positive("steps", steps);
        ArgumentChecks.positive("batch", batch);
        long n = (long) steps * batch * config.sequenceOutputSize();
        if (n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("y: [T=" + steps + ", B=" + batch + ", " + outDim() + "] has " + n
                    + " elements, more than the supported " + Integer.MAX_VALUE);
        }
        float[] y = new float[(int) n];
        forward(weights, steps, batch, MemorySegment.ofArray(Objects.requireNonNull(x, "x")), null,
                MemorySegment.ofArray(y), null);
        return y;
    }

    /**
     * Forward for training: as {@link #forward}, and saves into {@code workspace} what {@link #backward} needs.
     * {@code steps <= workspace.maxSteps()}, {@code batch <= workspace.maxBatch()}.
     */
    public void forwardTraining(PackedWeights weights, int steps, int batch, MemorySegment x, LstmState initial,
                                MemorySegment y, LstmState last, TrainingWorkspace workspace) {
        forwardTraining(weights, sequences(steps, batch), x, initial, y, last, workspace);
    }

    /** Forward for training over sequences of their own lengths; as {@link #forward(PackedWeights, SequenceBatch,
     * MemorySegment, LstmState, MemorySegment, LstmState)}. */
    public void forwardTraining(PackedWeights weights, SequenceBatch sequences, MemorySegment x, LstmState initial,
                                MemorySegment y, LstmState last, TrainingWorkspace workspace) {
        try (Call call = new Call()) {
            StackWorkspace ws = call.workspace(workspace);
            BackendWeights[] w = call.weights(weights);
            checkForward(sequences, x, initial, y, last);
            if (sequences.steps() > workspace.maxSteps() || sequences.batch() > workspace.maxBatch()) {
                throw new IllegalArgumentException("workspace: sized for steps <= " + workspace.maxSteps()
                        + " and batch <= " + workspace.maxBatch() + ", got steps=" + sequences.steps() + ", batch="
                        + sequences.batch());
            }
            workspace.sequences = null; // invalid until the forward completes
            workspace.weights = null;
            driver.forward(w, sequences, x, LstmState.h(initial), LstmState.c(initial), y, LstmState.h(last),
                    LstmState.c(last), ws);
            workspace.sequences = sequences;
            workspace.weights = weights;
        }
    }

    /**
     * Backpropagation through time over the last {@link #forwardTraining} stored in {@code workspace}.
     *
     * <p>Inputs: {@code x [T,B,I]} (the same input that forward saw, unchanged: as with cuDNN and oneDNN the
     * workspace does not promise to keep it, though a GPU backend keeps its device copy and skips the upload when
     * given the same segment), {@code dy [T,B,D·H_out]}, and {@code dLast = (dhT, dcT)} (null or null components mean zeros).
     * Outputs (each optional: null is not computed): {@code dx [T,B,I]}, {@code dInitial = (dh0, dc0)}, and the
     * weight gradients, which {@link GradientMode#OVERWRITE} replaces and {@link GradientMode#ACCUMULATE} adds to.
     * {@code T, B} and lengths are those of the stored forward; gradients in the padding are 0. {@code gradients}
     * is an {@link LstmGradients} for a single layer, a {@link StackGradients} for any configuration.
     */
    public void backward(PackedWeights weights, TrainingWorkspace workspace, MemorySegment x, MemorySegment dy,
                         LstmState dLast, MemorySegment dx, LstmState dInitial, Gradients gradients,
                         GradientMode mode) {
        try (Call call = new Call()) {
            backwardLocked(call, weights, workspace, x, dy, dLast, dx, dInitial, gradients, mode);
        }
    }

    private void backwardLocked(Call call, PackedWeights weights, TrainingWorkspace workspace, MemorySegment x,
                                MemorySegment dy, LstmState dLast, MemorySegment dx, LstmState dInitial,
                                Gradients gradients, GradientMode mode) {
        StackGradients stack = switch (gradients) {
            case null -> null;
            case StackGradients s -> s;
            case LstmGradients g when config.isSingleLayer() -> StackGradients.of(config, g);
            case LstmGradients g -> throw new IllegalArgumentException("gradients: this engine runs " + config.layers()
                    + " layer(s)" + (config.bidirectional() ? " in both directions" : "") + "; pass a StackGradients");
        };
        Objects.requireNonNull(workspace, "workspace");
        Objects.requireNonNull(mode, "mode");
        StackWorkspace ws = call.workspace(workspace);
        BackendWeights[] w = call.weights(weights);
        if (workspace.sequences == null) {
            throw new IllegalStateException("workspace: holds no training forward; call forwardTraining first");
        }
        if (workspace.weights != weights) {
            throw new IllegalArgumentException("weights: differ from those of the training forward stored in the workspace");
        }
        int steps = workspace.sequences.steps(), batch = workspace.sequences.batch();
        ArgumentChecks c = new ArgumentChecks();
        SequenceBatch seq = workspace.sequences;
        if (seq.uniform()) {
            sequence(c, "x", x, steps, batch, true, false, true);
            sequence(c, "dy", dy, steps, batch, false, false, true);
        } else {
            c.in("x", x, (long) steps * batch * config.inputSize(), sequenceShape(steps, batch, "I=" + config.inputSize()),
                    valid(seq, config.inputSize()));
            c.in("dy", dy, (long) steps * batch * config.sequenceOutputSize(), sequenceShape(steps, batch, outDim()),
                    valid(seq, config.sequenceOutputSize()));
        }
        state(c, "dLast", dLast, batch, false);
        sequence(c, "dx", dx, steps, batch, true, true, false);
        state(c, "dInitial", dInitial, batch, true);
        c.readBack(mode == GradientMode.ACCUMULATE);
        gradients(c, stack, weights);
        c.verify(config.nonFinitePolicy());
        driver.backward(w, ws, x, dy, LstmState.h(dLast), LstmState.c(dLast), dx, LstmState.h(dInitial),
                LstmState.c(dInitial), stack, mode == GradientMode.ACCUMULATE);
    }

    /**
     * One timestep of a single unidirectional layer, for frameworks that run their own time loop.
     *
     * @param x     {@code [B,I]}
     * @param prev  {@code (h [B,H_out], c [B,H])}; null or null components mean zeros
     * @param next  receives the new {@code (h, c)}; both required
     * @param gates optional {@code [B,4H]}: receives the gate activations {@code i,f,g,o} (PyTorch order; row
     *              {@code b} holds {@code i[0..H) f[0..H) g[0..H) o[0..H)}) that {@link #cellBackward} needs
     */
    public void cellForward(PackedWeights weights, int batch, MemorySegment x, LstmState prev, LstmState next,
                            MemorySegment gates) {
        try (Call call = new Call()) {
            cellForwardLocked(cellWeights(call, weights, "cellForward"), batch, x, prev, next, gates);
        }
    }

    private void cellForwardLocked(BackendWeights w, int batch, MemorySegment x, LstmState prev, LstmState next,
                                   MemorySegment gates) {
        ArgumentChecks.positive("batch", batch);
        Objects.requireNonNull(next, "next");
        int in = config.inputSize(), hid = config.hiddenSize();
        ArgumentChecks c = new ArgumentChecks()
                .in("x", x, (long) batch * in, "[B=" + batch + ", I=" + in + "]");
        state(c, "prev", prev, batch, false);
        c.out("next.h", next.h(), (long) batch * config.outputSize(), bh(batch, true))
                .out("next.c", next.c(), (long) batch * hid, bh(batch, false))
                .optOut("gates", gates, (long) batch * 4 * hid, "[B=" + batch + ", 4H=" + 4 * hid + "]")
                .verify(config.nonFinitePolicy());
        backend.cellForward(new Calls.CellForward(driver.layerConfig(0), w, batch, x, LstmState.h(prev),
                LstmState.c(prev), next.h(), next.c(), gates));
    }

    /**
     * Backward of one timestep from the gate activations saved by {@link #cellForward}.
     *
     * @param x     {@code [B,I]} the step's input
     * @param prev  the step's previous {@code (h, c)}; null components mean zeros
     * @param gates {@code [B,4H]} from {@link #cellForward}
     * @param dNext gradients reaching the new {@code (h, c)}; null components mean zeros
     * @param dx    optional {@code [B,I]}
     * @param dPrev optional, receives gradients for the previous {@code (h, c)}
     * @param gradients optional weight gradients, overwritten or accumulated per {@code mode}
     */
    public void cellBackward(PackedWeights weights, int batch, MemorySegment x, LstmState prev, MemorySegment gates,
                             LstmState dNext, MemorySegment dx, LstmState dPrev, LstmGradients gradients,
                             GradientMode mode) {
        try (Call call = new Call()) {
            Objects.requireNonNull(mode, "mode");
            cellBackwardLocked(cellWeights(call, weights, "cellBackward"), weights.hasBias(), batch, x, prev, gates,
                    dNext, dx, dPrev, gradients, mode);
        }
    }

    private void cellBackwardLocked(BackendWeights w, boolean hasBias, int batch, MemorySegment x, LstmState prev,
                                    MemorySegment gates, LstmState dNext, MemorySegment dx, LstmState dPrev,
                                    LstmGradients gradients, GradientMode mode) {
        ArgumentChecks.positive("batch", batch);
        int in = config.inputSize(), hid = config.hiddenSize();
        ArgumentChecks c = new ArgumentChecks()
                .in("x", x, (long) batch * in, "[B=" + batch + ", I=" + in + "]");
        state(c, "prev", prev, batch, false);
        c.in("gates", gates, (long) batch * 4 * hid, "[B=" + batch + ", 4H=" + 4 * hid + "]");
        state(c, "dNext", dNext, batch, false);
        c.optOut("dx", dx, (long) batch * in, "[B=" + batch + ", I=" + in + "]");
        state(c, "dPrev", dPrev, batch, true);
        c.readBack(mode == GradientMode.ACCUMULATE);
        layerGradients(c, "gradients.", gradients, hasBias, 0);
        c.verify(config.nonFinitePolicy());
        backend.cellBackward(new Calls.CellBackward(driver.layerConfig(0), w, batch, x, LstmState.h(prev),
                LstmState.c(prev), gates, LstmState.h(dNext), LstmState.c(dNext), dx, LstmState.h(dPrev),
                LstmState.c(dPrev), gradients, mode == GradientMode.ACCUMULATE));
    }

    private BackendWeights cellWeights(Call c, PackedWeights weights, String call) {
        BackendWeights[] w = c.weights(weights);
        if (!config.isSingleLayer()) {
            throw new IllegalStateException(call + ": a single step runs one layer in one direction, this engine runs "
                    + config.layers() + " layer(s)" + (config.bidirectional() ? " in both directions" : "")
                    + "; use one single-layer engine per layer and direction for your own time loop");
        }
        return w[0];
    }

    /**
     * Host memory for this engine's inputs and outputs, {@code bytes} long, zeroed, 64-byte aligned, freed when
     * {@code arena} closes (valid until then, even after this engine closes). On a GPU backend it is pinned
     * (page-locked), so that the backend copies it directly and overlaps those copies with its kernels instead of
     * going through a staging copy; elsewhere it is ordinary memory of {@code arena}. Any segment works with every
     * call: this one is only faster to copy.
     *
     * @throws IllegalArgumentException if {@code bytes} is negative
     */
    public MemorySegment allocateHost(long bytes, Arena arena) {
        Objects.requireNonNull(arena, "arena");
        if (bytes < 0) throw new IllegalArgumentException("bytes: negative (" + bytes + ")");
        try (Call ignored = new Call()) {
            return backend.allocateHost(bytes, arena);
        }
    }

    /**
     * Releases what the backend instance holds (threads, scratch, streams), after the call another thread may be
     * running on this engine has ended. Packed weights and workspaces stay open. Closing twice is harmless.
     */
    @Override
    public void close() {
        calls.lock();
        try {
            if (closed) return;
            closed = true;
            cleanable.clean();
        } finally {
            calls.unlock();
        }
    }

    @Override public String toString() { return "Lstm[" + config + ", " + selection.describe() + "]"; }

    private SequenceBatch sequences(int steps, int batch) {
        open();
        return SequenceBatch.of(steps, batch);
    }

    private void checkForward(SequenceBatch seq, MemorySegment x, LstmState initial, MemorySegment y,
                              LstmState last) {
        Objects.requireNonNull(seq, "sequences");
        int steps = seq.steps(), batch = seq.batch();
        ArgumentChecks c = new ArgumentChecks();
        if (seq.uniform()) {
            sequence(c, "x", x, steps, batch, true, false, true);
        } else {
            c.in("x", x, (long) steps * batch * config.inputSize(), sequenceShape(steps, batch, "I=" + config.inputSize()),
                    valid(seq, config.inputSize()));
        }
        state(c, "initial", initial, batch, false);
        sequence(c, "y", y, steps, batch, false, true, true);
        state(c, "last", last, batch, true);
        c.verify(config.nonFinitePolicy());
    }

    /** Registers a sequence buffer whose feature width is I ({@code inputWidth}) or D·H_out. */
    private void sequence(ArgumentChecks c, String name, MemorySegment s, int steps, int batch, boolean inputWidth,
                          boolean output, boolean required) {
        int width = inputWidth ? config.inputSize() : config.sequenceOutputSize();
        String shape = sequenceShape(steps, batch, inputWidth ? "I=" + width : outDim());
        long n = (long) steps * batch * width;
        if (output) {
            if (required) c.out(name, s, n, shape); else c.optOut(name, s, n, shape);
        } else {
            if (required) c.in(name, s, n, shape); else c.optIn(name, s, n, shape);
        }
    }

    private String sequenceShape(int steps, int batch, String dim) {
        return (config.layout() == Layout.TIME_MAJOR ? "[T=" + steps + ", B=" + batch
                : "[B=" + batch + ", T=" + steps) + ", " + dim + "]";
    }

    /** Which elements of a padded sequence of rows of {@code width} are valid (read by the call). */
    private LongPredicate valid(SequenceBatch seq, int width) {
        int steps = seq.steps(), batch = seq.batch();
        Layout layout = config.layout();
        return i -> {
            long row = i / width;
            int t = (int) (layout == Layout.TIME_MAJOR ? row / batch : row % steps);
            int b = (int) (layout == Layout.TIME_MAJOR ? row % batch : row / steps);
            return t < seq.length(b);
        };
    }

    /** The width of an output row, as messages name it: {@code H=5}, {@code P=3}, {@code D·H=10}. */
    private String outDim() {
        String unit = config.hasProjection() ? "P" : "H";
        return (config.bidirectional() ? "D·" + unit + "=" : unit + "=") + config.sequenceOutputSize();
    }

    private void state(ArgumentChecks c, String name, LstmState s, int batch, boolean output) {
        if (s == null) return;
        long rows = (long) config.stateLayers() * batch;
        long nh = rows * config.outputSize(), nc = rows * config.hiddenSize();
        if (output) {
            c.optOut(name + ".h", s.h(), nh, bh(batch, true)).optOut(name + ".c", s.c(), nc, bh(batch, false));
        } else {
            c.optIn(name + ".h", s.h(), nh, bh(batch, true)).optIn(name + ".c", s.c(), nc, bh(batch, false));
        }
    }

    private void gradients(ArgumentChecks c, StackGradients g, PackedWeights weights) {
        if (g == null) return;
        if (g.config().layers() != config.layers() || g.config().directions() != config.directions()) {
            throw new IllegalArgumentException("gradients: built for " + g.config().layers() + " layer(s) × "
                    + g.config().directions() + " direction(s), the engine runs " + config.layers() + " × "
                    + config.directions());
        }
        for (int l = 0; l < config.layers(); l++) {
            for (int d = 0; d < config.directions(); d++) {
                layerGradients(c, "gradients." + prefix(l, d), g.get(l, d), weights.hasBias(l * config.directions() + d), l);
            }
        }
    }

    private void layerGradients(ArgumentChecks c, String p, LstmGradients g, boolean hasBias, int layer) {
        if (g == null) return;
        int rows = config.gateRows(), in = config.layerInputSize(layer), hid = config.hiddenSize(),
                out = config.outputSize();
        if (g.dbIh() != null && !hasBias) {
            throw new IllegalArgumentException(p + "dbIh: the weights have no bias, so bias gradients must be null");
        }
        c.optOut(p + "dWih", g.dWih(), (long) rows * in, "[4H=" + rows + ", I=" + in + "]")
                .optOut(p + "dWhh", g.dWhh(), (long) rows * out,
                        "[4H=" + rows + ", " + (config.hasProjection() ? "P=" : "H=") + out + "]")
                .optOut(p + "dbIh", g.dbIh(), rows, "[4H=" + rows + "]")
                .optOut(p + "dbHh", g.dbHh(), rows, "[4H=" + rows + "]");
        feature(c, p + "dWhr", g.dWhr(), config.hasProjection(), "projection", (long) config.projectionSize() * hid,
                "[P=" + config.projectionSize() + ", H=" + hid + "]", true);
        feature(c, p + "dPeepholes", g.dPeepholes(), config.peepholes(), "peepholes", 3L * hid,
                "[3H=" + 3 * hid + "]", true);
    }

    /** A state's shape: {@code [B=3, H=5]} for one layer, {@code [L·D=4, B=3, H=5]} for a stack. */
    private String bh(int batch, boolean hidden) {
        String unit = hidden && config.hasProjection() ? "P=" + config.outputSize() : "H=" + config.hiddenSize();
        String rows = config.isSingleLayer() ? "" : "L·D=" + config.stateLayers() + ", ";
        return "[" + rows + "B=" + batch + ", " + unit + "]";
    }

    /** Fails fast on a closed engine before arguments are built (the call itself checks again under the lock). */
    private void open() {
        if (isClosed()) throw new IllegalStateException("engine has been closed");
    }

    /** Whether {@link #close()} has been called. */
    public boolean isClosed() { return closed; }

    /**
     * System property: whether the two directions of a bidirectional layer run concurrently, each on half the threads
     * ({@code true}), or one after the other, each on every thread ({@code false}); default {@code auto}:
     * concurrently when every layer's weights of one direction fit {@link #CONCURRENT_DIRECTIONS_MAX_WEIGHT_BYTES}.
     */
    public static final String CONCURRENT_DIRECTIONS_PROPERTY = "lstm.concurrentDirections";

    /**
     * Below this many bytes of weights per layer-direction ({@code 4H·(I_l + H_out)} floats), running the two
     * directions concurrently paid on a 2-core Zen 4 (128×1×1000: 7.3 vs 8.3 ms); above it, one direction split over
     * both cores was as fast or faster (512×1×100: 11.9 vs 11.8 ms; 512×16×100: 114 vs 98 ms), since each core then
     * streams only half of the weights ({@code bench/results/2026-12-03-layer.md}). About one core's L2.
     */
    public static final long CONCURRENT_DIRECTIONS_MAX_WEIGHT_BYTES = 1L << 20;

    static boolean concurrentDirectionsPay(LstmConfig config) {
        String p = System.getProperty(CONCURRENT_DIRECTIONS_PROPERTY, "auto").trim();
        if (p.equalsIgnoreCase("true")) return true;
        if (p.equalsIgnoreCase("false")) return false;
        for (int l = 0; l < config.layers(); l++) {
            long bytes = 4L * config.gateRows() * (config.layerInputSize(l) + config.outputSize());
            if (bytes > CONCURRENT_DIRECTIONS_MAX_WEIGHT_BYTES) return false;
        }
        return true;
    }

    /** Options for {@link Lstm}; unset options fall back to system properties, the environment, then defaults. */
    public static final class Builder {
        private final LstmConfig config;
        private String backend;
        private Boolean verify;
        private int threads;
        private Executor executor;

        private Builder(LstmConfig config) {
            this.config = Objects.requireNonNull(config, "config");
        }

        /** Forces a backend by name; overrides {@code -Dlstm.backend} and {@code LSTM_BACKEND}. */
        public Builder backend(String name) {
            this.backend = Objects.requireNonNull(name, "backend");
            return this;
        }

        /** Runs every call also through the reference and fails past the tolerance; overrides {@code -Dlstm.verify}. */
        public Builder verify(boolean verify) {
            this.verify = verify;
            return this;
        }

        /** Threads a CPU backend uses per call; 0 (default) means all available processors, 1 single-threaded. */
        public Builder threads(int threads) {
            if (threads < 0) throw new IllegalArgumentException("threads must be >= 0, got " + threads);
            this.threads = threads;
            return this;
        }

        /** Executor for a CPU backend's extra workers; it must run {@code threads - 1} tasks at once. */
        public Builder executor(Executor executor) {
            this.executor = Objects.requireNonNull(executor, "executor");
            return this;
        }

        /**
         * @throws IllegalStateException naming the reason if a forced backend is unknown or cannot run here
         */
        public Lstm build() {
            // A bidirectional layer on a backend whose instances may run at once gets one instance per direction,
            // each with half the threads: the directions then run concurrently (no barrier between the threads of
            // one direction, each core keeps its direction's weights).
            int resolved = threads == 0 ? Runtime.getRuntime().availableProcessors() : threads;
            boolean lanes = config.bidirectional() && resolved >= 2 && concurrentDirectionsPay(config);
            BackendOptions options = new BackendOptions(lanes ? resolved / 2 : threads, executor);
            Dispatcher.Opened opened = Dispatcher.open(config, backend, verify, options);
            LstmBackend reverse = null;
            try {
                if (lanes) reverse = Dispatcher.openAnother(opened, options);
                if (lanes && reverse == null) {
                    // The backend runs one call at a time: give it all the threads after all.
                    opened.backend().close();
                    opened = Dispatcher.open(config, backend, verify, new BackendOptions(threads, executor));
                }
            } catch (RuntimeException | Error e) {
                opened.backend().close();
                throw e;
            }
            return new Lstm(config, opened, reverse, executor);
        }
    }
}
