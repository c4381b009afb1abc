package org.lstmk.api;

import org.lstmk.driver.StackWorkspace;

/**
 * Caller-owned memory where a training forward keeps what backward needs (gate activations and states of every
 * step of every layer and direction, and the outputs of the inner layers), sized once for up to
 * {@code maxSteps × maxBatch} and reused by every call (a variable-length batch may add memory for its segments the
 * first time a new shape of lengths needs it). Holds the record of the last {@link Lstm#forwardTraining
 * forwardTraining}; {@link Lstm#backward backward} reads it and may be called on it more than once. Usable only
 * with the engine that created it. Owns native or device memory: close it.
 */
public final class TrainingWorkspace implements AutoCloseable {
    private final Lstm owner;
    private final StackWorkspace impl;
    private final int maxSteps;
    private final int maxBatch;
    private volatile boolean closed;

    // What the last training forward stored; batch == null means none.
    SequenceBatch sequences;
    PackedWeights weights;

    TrainingWorkspace(Lstm owner, StackWorkspace impl, int maxSteps, int maxBatch) {
        this.owner = owner;
        this.impl = impl;
        this.maxSteps = maxSteps;
        this.maxBatch = maxBatch;
    }

    /** Longest sequence a training forward may use. */
    public int maxSteps() { return maxSteps; }

    /** Largest batch a training forward may use. */
    public int maxBatch() { return maxBatch; }

    /** Steps of the last training forward, 0 if none yet. */
    public int steps() { return sequences == null ? 0 : sequences.steps(); }

    /** Batch of the last training forward, 0 if none yet. */
    public int batch() { return sequences == null ? 0 : sequences.batch(); }

    /** Whether {@link #close()} has been called. */
    public boolean isClosed() { return closed; }

    StackWorkspace impl(Lstm user) {
        if (closed) throw new IllegalStateException("workspace: has been closed");
        if (user != owner) {
            throw new IllegalArgumentException("workspace: belongs to another engine (" + owner.backendName()
                    + ", " + owner.config() + "); create it with the engine that runs it");
        }
        return impl;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        weights = null;
        sequences = null;
        impl.close();
    }
}
