package org.lstmk.bench.peers;

/**
 * One way to run a single-layer LSTM on the JVM, for the side-by-side JMH comparison ({@link PeerBenchmark}).
 * Every peer gets the same {@link Problem} (seeded PyTorch-layout weights and input, {@code I = H}, time-major,
 * zero initial state), converts the weights to its own layout once, and runs with {@code threads} threads.
 */
public interface Peer {
    /** The name used in {@code -p peer=...} and in the report. */
    String name();

    /** Why this peer cannot run here (library absent, ...), or null when it can. */
    default String unavailable() {
        return null;
    }

    /** Whether {@link Runner#train()} is implemented (forward training + backward with weight gradients). */
    default boolean supportsTraining() {
        return false;
    }

    /** Builds the peer's model for {@code p} (weights converted once, buffers allocated once). */
    Runner open(Problem p, int threads) throws Throwable;

    /** A model built for one problem. */
    interface Runner extends AutoCloseable {
        /** One inference call: the whole sequence, output {@code y [T,B,H]} kept by the runner. */
        void run() throws Throwable;

        /** One training step: forward training and backward with weight gradients ({@code dy} = the problem's). */
        default void train() throws Throwable {
            throw new UnsupportedOperationException("inference only");
        }

        /** The input gradient {@code dx [T,B,I]} of the last {@link #train()}. */
        default float[] inputGradient() throws Throwable {
            throw new UnsupportedOperationException("inference only");
        }

        /** The output of the last {@link #run()}, {@code [T,B,H]} time-major. */
        float[] output() throws Throwable;

        @Override
        default void close() throws Exception {}
    }
}
