package org.lstmk.api;

import org.lstmk.spi.BackendWorkspace;

/**
 * Caller-owned memory where a training forward keeps what backward needs (gate activations and states of every
 * step), sized once for up to {@code maxSteps × maxBatch} and reused by every call without reallocation.
 * Holds the record of the last {@link Lstm#forwardTraining forwardTraining}; {@link Lstm#backward backward} reads it
 * and may be called on it more than once. Usable only with the engine that created it. Owns native or device
 * memory: close it.
 */
public final class TrainingWorkspace implements AutoCloseable {
    private final Lstm owner;
    private final BackendWorkspace impl;
    private final int maxSteps;
    private final int maxBatch;
    private volatile boolean closed;

    // What the last training forward stored; steps == 0 means none.
    int steps;
    int batch;
    PackedWeights weights;

    TrainingWorkspace(Lstm owner, BackendWorkspace impl, int maxSteps, int maxBatch) {
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
    public int steps() { return steps; }

    /** Batch of the last training forward, 0 if none yet. */
    public int batch() { return batch; }

    /** Whether {@link #close()} has been called. */
    public boolean isClosed() { return closed; }

    BackendWorkspace impl(Lstm user) {
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
        impl.close();
    }
}
