package org.lstmk.api;

import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import org.lstmk.driver.StackWorkspace;

/**
 * Caller-owned memory where a training forward keeps what backward needs (gate activations and states of every
 * step of every layer and direction, and the outputs of the inner layers), sized once for up to
 * {@code maxSteps × maxBatch} and reused by every call (a variable-length batch may add memory for its segments the
 * first time a new shape of lengths needs it). Holds the record of the last {@link Lstm#forwardTraining
 * forwardTraining}; {@link Lstm#backward backward} reads it and may be called on it more than once. Usable only
 * with the engine that created it. Owns native or device memory: close it; closing waits for a call using it on
 * another thread to end. A workspace that becomes unreachable unclosed is freed by a cleaner.
 */
public final class TrainingWorkspace implements AutoCloseable {
    private final Lstm owner;
    private final StackWorkspace impl;
    private final int maxSteps;
    private final int maxBatch;
    private final InUse use = new InUse("has been closed");
    private final Cleaner.Cleanable cleanable;

    // What the last training forward stored; sequences == null means none. Written under the engine's call lock.
    SequenceBatch sequences;
    PackedWeights weights;

    TrainingWorkspace(Lstm owner, StackWorkspace impl, int maxSteps, int maxBatch) {
        this.owner = owner;
        this.impl = impl;
        this.maxSteps = maxSteps;
        this.maxBatch = maxBatch;
        this.cleanable = Resources.CLEANER.register(this, impl::close);
    }

    /** Longest sequence a training forward may use. */
    public int maxSteps() { return maxSteps; }

    /** Largest batch a training forward may use. */
    public int maxBatch() { return maxBatch; }

    /** Steps of the last training forward, 0 if none yet. */
    public int steps() { SequenceBatch s = sequences; return s == null ? 0 : s.steps(); }

    /** Batch of the last training forward, 0 if none yet. */
    public int batch() { SequenceBatch s = sequences; return s == null ? 0 : s.batch(); }

    /** Whether {@link #close()} has been called. */
    public boolean isClosed() { return use.isClosed(); }

    /** The backend's workspace for one call of {@code user}, open until the matching {@link #release()}. */
    StackWorkspace acquire(Lstm user) {
        if (use.isClosed()) throw new IllegalStateException("workspace: has been closed");
        if (user != owner) {
            throw new IllegalArgumentException("workspace: belongs to another engine (" + owner.backendName()
                    + ", " + owner.config() + "); create it with the engine that runs it");
        }
        use.enter("workspace");
        return impl;
    }

    void release() {
        use.exit();
        Reference.reachabilityFence(this);
    }

    /** Frees the workspace once no call uses it (waiting for one that does). */
    @Override
    public void close() {
        if (!use.close()) return;
        weights = null;
        sequences = null;
        cleanable.clean();
    }
}
