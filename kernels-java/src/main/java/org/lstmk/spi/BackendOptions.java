package org.lstmk.spi;

import java.util.concurrent.Executor;

/**
 * Per-engine options a backend may honour.
 *
 * @param threads  number of threads a CPU backend uses per call, {@code >= 1}; {@code 0} lets the backend choose
 *                 (all available processors)
 * @param executor where a CPU backend runs its extra workers ({@code threads - 1} of them; the calling thread is
 *                 one); {@code null} lets the backend own its threads. A framework that manages its own pool passes
 *                 it here. The executor must be able to run {@code threads - 1} tasks at once: workers wait for
 *                 each other at every timestep.
 */
public record BackendOptions(int threads, Executor executor) {
    public static final BackendOptions DEFAULT = new BackendOptions(0, null);

    public BackendOptions {
        if (threads < 0) throw new IllegalArgumentException("threads must be >= 0 (0 = backend's choice), got " + threads);
    }
}
