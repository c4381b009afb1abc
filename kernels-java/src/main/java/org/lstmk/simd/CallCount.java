package org.lstmk.simd;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * How many SIMD forward calls are running in this JVM at once, over every engine, so that the calls together do
 * not ask for more threads than there are processors: with {@code n} calls in flight each runs on at most
 * {@code processors / n} threads (at least its caller). A server with more request threads than cores then runs
 * each call on its caller alone instead of queueing workers behind other calls' threads. What a call computes does
 * not depend on this: its work is cut for its full thread count whatever runs it ({@code ForwardPass}).
 */
final class CallCount {
    private CallCount() {}

    private static final AtomicInteger RUNNING = new AtomicInteger();

    /** Counts a call in; returns the threads it may use out of {@code wanted}. Pair with {@link #leave()}. */
    static int enter(int wanted) {
        int running = RUNNING.incrementAndGet();
        return Math.max(1, Math.min(wanted, Runtime.getRuntime().availableProcessors() / running));
    }

    static void leave() {
        RUNNING.decrementAndGet();
    }
}
