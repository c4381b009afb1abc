package org.lstmk.spi;

import org.lstmk.api.LstmConfig;

/**
 * Entry point of a backend, registered in {@code META-INF/services/org.lstmk.spi.BackendProvider}.
 *
 * <p>Implementations must load on any JVM: they may not link classes of optional dependencies (the Vector API
 * module, JCuda) until {@link #availability()} has confirmed them and {@link #open(BackendOptions)} is called.
 */
public interface BackendProvider {
    /** Short lower-case name used by {@code -Dlstm.backend=} and {@code LSTM_BACKEND=}, e.g. {@code "simd"}. */
    String name();

    /** One line saying what the backend is. */
    String description();

    /**
     * Preference among usable backends when the user forces none: higher wins. The reference is 0; a backend
     * that should be chosen only when forced returns {@link #autoSelectable()} false instead of a low number.
     */
    int priority();

    /** Whether the dispatcher may choose this backend by itself; false for test vehicles. */
    default boolean autoSelectable() { return true; }

    /** Whether the backend can run here, computed once and cached by the implementation. Never throws. */
    Availability availability();

    /**
     * Whether the backend can run {@code config} (its layers, directions and cell features), and if not which
     * feature it lacks. Stacks, directions and variable lengths are built by the layer driver
     * ({@code org.lstmk.driver}) from single-layer calls, so every backend has them; the default refuses the cell
     * features (projection, peepholes, cell clip) by name. Never throws.
     */
    default Support supports(LstmConfig config) {
        return Support.plainCell(name(), config);
    }

    /**
     * Whether two instances of this backend may run calls at the same time (one per direction of a bidirectional
     * layer) and accept each other's packed weights and workspaces. The layer driver then runs the two directions
     * of a layer concurrently, each instance with half the threads. Default false.
     */
    default boolean concurrentInstances() { return false; }

    /**
     * Whether weights packed by one instance work in every other instance of this provider in the process, read by
     * any number of calls at once on any threads (the packed copy is immutable and tied to no instance's thread,
     * stream or scratch). Engines on such a backend then share one {@code PackedWeights}; otherwise each engine
     * accepts only the weights it packed. Default false.
     */
    default boolean sharedWeights() { return false; }

    /**
     * The execution paths this backend chooses among per call, each with when it is taken and how to turn it off, one
     * line each, for {@code lstmk info}. Default none.
     */
    default java.util.List<String> paths() { return java.util.List.of(); }

    /**
     * Opens an instance; called only when {@link #availability()} is usable.
     *
     * @throws IllegalStateException if the backend fails to start although it looked usable
     */
    LstmBackend open(BackendOptions options);
}
