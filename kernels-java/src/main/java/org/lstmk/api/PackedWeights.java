package org.lstmk.api;

import org.lstmk.spi.BackendWeights;

/**
 * Weights converted once by an engine's backend into its preferred layout (gate-interleaved, padded, on the GPU),
 * for every layer and direction of the engine's configuration. Opaque; immutable once packed; usable only with the
 * {@link Lstm} engine that packed them. Owns native or device memory: close it (try-with-resources). Closing twice
 * is harmless; using closed weights throws.
 */
public final class PackedWeights implements AutoCloseable {
    private final Lstm owner;
    private final BackendWeights[] impl;   // [layer·D + direction]
    private final boolean[] hasBias;
    private volatile boolean closed;

    PackedWeights(Lstm owner, BackendWeights[] impl, boolean[] hasBias) {
        this.owner = owner;
        this.impl = impl;
        this.hasBias = hasBias;
    }

    /** The configuration the weights were packed for. */
    public LstmConfig config() { return owner.config(); }

    /** Name of the backend that owns the packed copy. */
    public String backend() { return owner.backendName(); }

    /** Whether the first layer has biases. */
    public boolean hasBias() { return hasBias[0]; }

    /** Whether layer-direction {@code layer·D + direction} has biases. */
    boolean hasBias(int stateLayer) { return hasBias[stateLayer]; }

    /** Whether {@link #close()} has been called. */
    public boolean isClosed() { return closed; }

    BackendWeights[] impl(Lstm user, String argument) {
        if (closed) throw new IllegalStateException(argument + ": packed weights have been closed");
        if (user != owner) {
            throw new IllegalArgumentException(argument + ": packed weights belong to another engine ("
                    + owner.backendName() + ", " + owner.config() + "); pack them with the engine that runs them");
        }
        return impl;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
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
