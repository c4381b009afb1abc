package org.lstmk.api;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executor;
import org.lstmk.dispatch.Dispatcher;
import org.lstmk.spi.BackendOptions;
import org.lstmk.spi.BackendWeights;
import org.lstmk.spi.BackendWorkspace;
import org.lstmk.spi.Calls;
import org.lstmk.spi.LstmBackend;

/**
 * An LSTM engine: one layer's configuration bound to the backend the dispatcher chose (or the caller forced).
 * The entry point of the library.
 *
 * <pre>{@code
 * LstmConfig cfg = LstmConfig.of(I, H);
 * try (Lstm lstm = Lstm.create(cfg);                                  // best usable backend
 *      PackedWeights w = lstm.pack(LstmWeights.of(wIh, wHh, bIh, bHh))) {  // PyTorch layout
 *     lstm.forward(w, T, B, x, null, y, null);                         // x [T,B,I] -> y [T,B,H]
 * }
 * }</pre>
 *
 * <p><b>Buffers.</b> Every buffer is a {@link MemorySegment} of native-order {@code float32}, heap
 * ({@code MemorySegment.ofArray(float[])}) or native; the engine reads and writes it in place. A buffer may be
 * longer than its shape needs; the extra is untouched. Every argument is checked before anything is written:
 * a call that throws leaves all outputs as they were.
 *
 * <p><b>Threads.</b> An engine runs one call at a time (like a cuDNN handle); use one engine per thread. Backends
 * may use several threads inside a call ({@link Builder#threads(int)}).
 */
public final class Lstm implements AutoCloseable {
    private final LstmConfig config;
    private final LstmBackend backend;
    private final BackendSelection selection;
    private volatile boolean closed;

    private Lstm(LstmConfig config, Dispatcher.Opened opened) {
        this.config = config;
        this.backend = opened.backend();
        this.selection = opened.selection();
    }

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
     * Converts weights in PyTorch's layout ({@link LstmWeights}) into the backend's layout. The result does not
     * alias the inputs and is reused by every call.
     *
     * @throws IllegalArgumentException if a buffer is too short, misaligned, or (under {@link NonFinitePolicy#REJECT})
     *                                  holds a NaN or infinity
     */
    public PackedWeights pack(LstmWeights weights) {
        open();
        Objects.requireNonNull(weights, "weights");
        int g = config.gateRows(), in = config.inputSize(), hid = config.hiddenSize();
        new ArgumentChecks()
                .in("wIh", weights.wIh(), (long) g * in, "[4H=" + g + ", I=" + in + "]")
                .in("wHh", weights.wHh(), (long) g * hid, "[4H=" + g + ", H=" + hid + "]")
                .optIn("bIh", weights.bIh(), g, "[4H=" + g + "]")
                .optIn("bHh", weights.bHh(), g, "[4H=" + g + "]")
                .verify(config.nonFinitePolicy());
        return new PackedWeights(this, backend.pack(config, weights), weights.hasBias());
    }

    /** A training workspace for up to {@code maxSteps} timesteps of up to {@code maxBatch} sequences. */
    public TrainingWorkspace newWorkspace(int maxSteps, int maxBatch) {
        open();
        ArgumentChecks.positive("maxSteps", maxSteps);
        ArgumentChecks.positive("maxBatch", maxBatch);
        // Backends index saved gates [T+1, B, 4H] with ints, as every sequence buffer.
        long gates = ((long) maxSteps + 1) * maxBatch * config.gateRows();
        if (gates > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("workspace: (maxSteps + 1) × maxBatch × 4H = " + gates
                    + " elements, more than the supported " + Integer.MAX_VALUE + " (maxSteps=" + maxSteps
                    + ", maxBatch=" + maxBatch + ", H=" + config.hiddenSize() + ")");
        }
        BackendWorkspace ws = backend.newWorkspace(config, maxSteps, maxBatch);
        return new TrainingWorkspace(this, ws, maxSteps, maxBatch);
    }

    /**
     * Inference over a whole sequence.
     *
     * @param steps   sequence length {@code T >= 1}
     * @param batch   number of sequences {@code B >= 1}
     * @param x       input {@code [T,B,I]} (or {@code [B,T,I]} for {@link Layout#BATCH_MAJOR})
     * @param initial {@code h0, c0 [B,H]}; null or null components mean zeros
     * @param y       output {@code [T,B,H]}: every step's hidden state
     * @param last    receives {@code hT, cT [B,H]}; null or null components are not written
     */
    public void forward(PackedWeights weights, int steps, int batch, MemorySegment x, LstmState initial,
                        MemorySegment y, LstmState last) {
        BackendWeights w = checkForward(weights, steps, batch, x, initial, y, last);
        backend.forward(new Calls.Forward(config, w, steps, batch, x, LstmState.h(initial), LstmState.c(initial),
                y, LstmState.h(last), LstmState.c(last), null));
    }

    /** Inference with zero initial state on Java arrays; returns {@code y [T,B,H]}. */
    public float[] forward(PackedWeights weights, int steps, int batch, float[] x) {
        // Sizes are checked before y is allocated: a bad size must get the API's message, not an array error.
        ArgumentChecks.positive("steps", steps);
        ArgumentChecks.positive("batch", batch);
        long n = (long) steps * batch * config.hiddenSize();
        if (n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("y: [T=" + steps + ", B=" + batch + ", H=" + config.hiddenSize()
                    + "] has " + n + " elements, more than the supported " + Integer.MAX_VALUE);
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
        Objects.requireNonNull(workspace, "workspace");
        BackendWorkspace ws = workspace.impl(this);
        BackendWeights w = checkForward(weights, steps, batch, x, initial, y, last);
        if (steps > workspace.maxSteps() || batch > workspace.maxBatch()) {
            throw new IllegalArgumentException("workspace: sized for steps <= " + workspace.maxSteps()
                    + " and batch <= " + workspace.maxBatch() + ", got steps=" + steps + ", batch=" + batch);
        }
        workspace.steps = 0; // invalid until the forward completes
        workspace.weights = null;
        backend.forward(new Calls.Forward(config, w, steps, batch, x, LstmState.h(initial), LstmState.c(initial),
                y, LstmState.h(last), LstmState.c(last), ws));
        workspace.steps = steps;
        workspace.batch = batch;
        workspace.weights = weights;
    }

    /**
     * Backpropagation through time over the last {@link #forwardTraining} stored in {@code workspace}.
     *
     * <p>Inputs: {@code x [T,B,I]} (the same input that forward saw: the workspace does not keep it, as with cuDNN
     * and oneDNN), {@code dy [T,B,H]}, and {@code dLast = (dhT, dcT) [B,H]} (null or null components mean zeros).
     * Outputs (each optional: null is not computed): {@code dx [T,B,I]}, {@code dInitial = (dh0, dc0) [B,H]}, and
     * the weight gradients, which {@link GradientMode#OVERWRITE} replaces and {@link GradientMode#ACCUMULATE}
     * adds to. {@code T, B} are those of the stored forward.
     */
    public void backward(PackedWeights weights, TrainingWorkspace workspace, MemorySegment x, MemorySegment dy,
                         LstmState dLast, MemorySegment dx, LstmState dInitial, LstmGradients gradients,
                         GradientMode mode) {
        open();
        Objects.requireNonNull(workspace, "workspace");
        Objects.requireNonNull(mode, "mode");
        BackendWorkspace ws = workspace.impl(this);
        BackendWeights w = Objects.requireNonNull(weights, "weights").impl(this, "weights");
        if (workspace.steps == 0) {
            throw new IllegalStateException("workspace: holds no training forward; call forwardTraining first");
        }
        if (workspace.weights != weights) {
            throw new IllegalArgumentException("weights: differ from those of the training forward stored in the workspace");
        }
        int steps = workspace.steps, batch = workspace.batch;
        ArgumentChecks c = new ArgumentChecks();
        sequence(c, "x", x, steps, batch, true, false, true);
        sequence(c, "dy", dy, steps, batch, false, false, true);
        state(c, "dLast", dLast, batch, false);
        sequence(c, "dx", dx, steps, batch, true, true, false);
        state(c, "dInitial", dInitial, batch, true);
        gradients(c, gradients, weights);
        c.verify(config.nonFinitePolicy());
        backend.backward(new Calls.Backward(config, w, ws, steps, batch, x, dy, LstmState.h(dLast),
                LstmState.c(dLast), dx, LstmState.h(dInitial), LstmState.c(dInitial), gradients,
                mode == GradientMode.ACCUMULATE));
    }

    /**
     * One timestep, for frameworks that run their own time loop.
     *
     * @param x     {@code [B,I]}
     * @param prev  {@code (h, c) [B,H]}; null or null components mean zeros
     * @param next  receives the new {@code (h, c) [B,H]}; both required
     * @param gates optional {@code [B,4H]}: receives the gate activations {@code i,f,g,o} (PyTorch order; row
     *              {@code b} holds {@code i[0..H) f[0..H) g[0..H) o[0..H)}) that {@link #cellBackward} needs
     */
    public void cellForward(PackedWeights weights, int batch, MemorySegment x, LstmState prev, LstmState next,
                            MemorySegment gates) {
        open();
        BackendWeights w = Objects.requireNonNull(weights, "weights").impl(this, "weights");
        ArgumentChecks.positive("batch", batch);
        Objects.requireNonNull(next, "next");
        int in = config.inputSize(), hid = config.hiddenSize();
        ArgumentChecks c = new ArgumentChecks()
                .in("x", x, (long) batch * in, "[B=" + batch + ", I=" + in + "]");
        state(c, "prev", prev, batch, false);
        c.out("next.h", next.h(), (long) batch * hid, bh(batch))
                .out("next.c", next.c(), (long) batch * hid, bh(batch))
                .optOut("gates", gates, (long) batch * 4 * hid, "[B=" + batch + ", 4H=" + 4 * hid + "]")
                .verify(config.nonFinitePolicy());
        backend.cellForward(new Calls.CellForward(config, w, batch, x, LstmState.h(prev), LstmState.c(prev),
                next.h(), next.c(), gates));
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
        open();
        Objects.requireNonNull(mode, "mode");
        BackendWeights w = Objects.requireNonNull(weights, "weights").impl(this, "weights");
        ArgumentChecks.positive("batch", batch);
        int in = config.inputSize(), hid = config.hiddenSize();
        ArgumentChecks c = new ArgumentChecks()
                .in("x", x, (long) batch * in, "[B=" + batch + ", I=" + in + "]");
        state(c, "prev", prev, batch, false);
        c.in("gates", gates, (long) batch * 4 * hid, "[B=" + batch + ", 4H=" + 4 * hid + "]");
        state(c, "dNext", dNext, batch, false);
        c.optOut("dx", dx, (long) batch * in, "[B=" + batch + ", I=" + in + "]");
        state(c, "dPrev", dPrev, batch, true);
        gradients(c, gradients, weights);
        c.verify(config.nonFinitePolicy());
        backend.cellBackward(new Calls.CellBackward(config, w, batch, x, LstmState.h(prev), LstmState.c(prev), gates,
                LstmState.h(dNext), LstmState.c(dNext), dx, LstmState.h(dPrev), LstmState.c(dPrev), gradients,
                mode == GradientMode.ACCUMULATE));
    }

    /** Releases what the backend instance holds (threads, streams). Packed weights and workspaces stay open. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        backend.close();
    }

    @Override public String toString() { return "Lstm[" + config + ", " + selection.describe() + "]"; }

    private BackendWeights checkForward(PackedWeights weights, int steps, int batch, MemorySegment x,
                                       LstmState initial, MemorySegment y, LstmState last) {
        open();
        BackendWeights w = Objects.requireNonNull(weights, "weights").impl(this, "weights");
        ArgumentChecks.positive("steps", steps);
        ArgumentChecks.positive("batch", batch);
        ArgumentChecks c = new ArgumentChecks();
        sequence(c, "x", x, steps, batch, true, false, true);
        state(c, "initial", initial, batch, false);
        sequence(c, "y", y, steps, batch, false, true, true);
        state(c, "last", last, batch, true);
        c.verify(config.nonFinitePolicy());
        return w;
    }

    /** Registers a sequence buffer whose feature width is I ({@code inputWidth}) or H. */
    private void sequence(ArgumentChecks c, String name, MemorySegment s, int steps, int batch, boolean inputWidth,
                          boolean output, boolean required) {
        int width = inputWidth ? config.inputSize() : config.hiddenSize();
        String dim = inputWidth ? "I" : "H";
        String shape = (config.layout() == Layout.TIME_MAJOR ? "[T=" + steps + ", B=" + batch
                : "[B=" + batch + ", T=" + steps) + ", " + dim + "=" + width + "]";
        long n = (long) steps * batch * width;
        if (output) {
            if (required) c.out(name, s, n, shape); else c.optOut(name, s, n, shape);
        } else {
            if (required) c.in(name, s, n, shape); else c.optIn(name, s, n, shape);
        }
    }

    private void state(ArgumentChecks c, String name, LstmState s, int batch, boolean output) {
        if (s == null) return;
        long n = (long) batch * config.hiddenSize();
        if (output) {
            c.optOut(name + ".h", s.h(), n, bh(batch)).optOut(name + ".c", s.c(), n, bh(batch));
        } else {
            c.optIn(name + ".h", s.h(), n, bh(batch)).optIn(name + ".c", s.c(), n, bh(batch));
        }
    }

    private void gradients(ArgumentChecks c, LstmGradients g, PackedWeights weights) {
        if (g == null) return;
        int rows = config.gateRows(), in = config.inputSize(), hid = config.hiddenSize();
        if (g.dbIh() != null && !weights.hasBias()) {
            throw new IllegalArgumentException("gradients.dbIh: the weights have no bias, so bias gradients must be null");
        }
        c.optOut("gradients.dWih", g.dWih(), (long) rows * in, "[4H=" + rows + ", I=" + in + "]")
                .optOut("gradients.dWhh", g.dWhh(), (long) rows * hid, "[4H=" + rows + ", H=" + hid + "]")
                .optOut("gradients.dbIh", g.dbIh(), rows, "[4H=" + rows + "]")
                .optOut("gradients.dbHh", g.dbHh(), rows, "[4H=" + rows + "]");
    }

    private String bh(int batch) { return "[B=" + batch + ", H=" + config.hiddenSize() + "]"; }

    private void open() {
        if (closed) throw new IllegalStateException("engine has been closed");
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
            return new Lstm(config, Dispatcher.open(backend, verify, new BackendOptions(threads, executor)));
        }
    }
}
