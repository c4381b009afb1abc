package org.lstmk.api;

import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import org.lstmk.spi.BackendWeights;

/**
 * Weights converted once by an engine's backend into its preferred layout (gate-interleaved, padded, on the GPU),
 * for every layer and direction of the engine's configuration. Opaque and immutable once packed.
 *
 * <p><b>Sharing.</b> One packed copy serves any number of engines and threads at once: every engine on the same
 * backend (and verification setting) with an equal {@link LstmConfig} accepts it, so N request threads, each with its
 * own engine, need one copy of the model in memory (or on the device). A backend whose packed copy is tied to one
 * instance ({@code BackendProvider.sharedWeights()} false) accepts it only in the engine that packed it.
 *
 * <p><b>Closing.</b> Owns native or device memory: close it (try-with-resources). Closing waits for the calls that
 * are using the weights on other threads to end, then frees; a call that starts afterwards throws. Closing twice
 * is harmless. Weights that become unreachable unclosed are freed by a cleaner.
 */
public final class PackedWeights implements AutoCloseable {
    private final Object family;            // engines whose family equals this one accept the weights
    private final LstmConfig config;
    private final String backend;
    private final boolean[] hasBias;
    private final BackendWeights[] impl;   // [layer·D + direction]
    private final InUse use = new InUse("packed weights have been closed");
    private final Cleaner.Cleanable cleanable;

    PackedWeights(Object family, LstmConfig config, String backend, BackendWeights[] impl, boolean[] hasBias) {
        this.family = family;
        this.config = config;
        this.backend = backend;
        this.impl = impl;
        this.hasBias = hasBias;
        this.cleanable = Resources.CLEANER.register(this, new Release(impl));
    }

    /** The configuration the weights were packed for. */
    public LstmConfig config() { return config; }

    /** Name of the backend that owns the packed copy. */
    public String backend() { return backend; }

    /** Whether the first layer has biases. */
    public boolean hasBias() { return hasBias[0]; }

    /** Whether layer-direction {@code layer·D + direction} has biases. */
    boolean hasBias(int stateLayer) { return hasBias[stateLayer]; }

    /** Whether {@link #close()} has been called. */
    public boolean isClosed() { return use.isClosed(); }

    /**
     * The backend's copies, for one call of {@code user}; the weights stay open until the matching {@link #release()}.
     */
    BackendWeights[] acquire(Lstm user, String argument) {
        if (use.isClosed()) throw new IllegalStateException(argument + ": packed weights have been closed");
        if (!family.equals(user.weightsFamily())) {
            throw new IllegalArgumentException(argument + (user.weightsFamily() instanceof Resources.SharedWeights
                    ? ": packed by the " + backend + " backend, this engine runs " + user.backendName()
                            + "; pack them with an engine on the same backend"
                    : ": packed weights belong to another engine (" + backend + ", " + config + ") and this backend"
                            + " cannot share them; pack them with the engine that runs them"));
        }
        if (!config.equals(user.config())) {
            throw new IllegalArgumentException(argument + ": packed for " + config + ", this engine runs "
                    + user.config());
        }
        use.enter(argument);
        return impl;
    }

    /** Ends the use {@link #acquire} began. */
    void release() {
        use.exit();
        Reference.reachabilityFence(this);
    }

    /** Frees the packed copies once no call uses them (waiting for those that do). */
    @Override
    public void close() {
        if (use.close()) cleanable.clean();
    }

    /** Frees every layer's copy even if one fails; what the cleaner runs for weights nobody closed. */
    private record Release(BackendWeights[] impl) implements Runnable {
        @Override
        public void run() {
            RuntimeException first = null;
            for (BackendWeights w : impl) {
                try {
                    w.close();
                } catch (RuntimeException e) {
                    if (first == null) first = e; else first.addSuppressed(e);
                }
            }
            if (first != null) throw first;
        }
    }
}
