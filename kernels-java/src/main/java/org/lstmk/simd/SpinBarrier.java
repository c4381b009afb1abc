package org.lstmk.simd;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The per-step barrier of a team of {@code n} threads: each thread publishes how many barriers it has reached in
 * its own cache line (release) and spins until every other thread has reached as many (acquire). One cache-line
 * transfer per thread and barrier, no parking: cheap enough for a barrier every timestep at B = 1. A thread that
 * has waited for {@link StepBoard#YIELD_AFTER_NANOS} yields its core at every look, so that more threads than cores
 * still make progress.
 *
 * <p>A failure anywhere ({@link #fail}) releases every waiter with {@link Aborted}, so an exception in one worker
 * never leaves the others spinning.
 */
final class SpinBarrier {
    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle FAILURE;
    /** Longs per thread: 128 bytes, so that adjacent-line prefetching does not couple two threads' slots. */
    private static final int STRIDE = 16;
    /** Spins between looks at the clock. */
    private static final int SPINS_PER_CHECK = 64;

    static {
        try {
            FAILURE = MethodHandles.lookup().findVarHandle(SpinBarrier.class, "failure", Throwable.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Thrown in the threads that did not fail, to unwind them after another one failed. */
    static final class Aborted extends RuntimeException {
        Aborted() { super("another thread of the team failed", null, false, false); }
    }

    private final int parties;
    private final long[] arrived;
    @SuppressWarnings("unused") // through FAILURE
    private volatile Throwable failure;

    SpinBarrier(int parties) {
        this.parties = parties;
        this.arrived = new long[(parties + 1) * STRIDE];
    }

    int parties() { return parties; }

    /** Waits until every thread has called this as often as thread {@code me}. */
    void await(int me) {
        arrive(me);
        awaitOthers(me);
    }

    /**
     * The first half of {@link #await}: tells the others that thread {@code me} has reached the barrier (all its
     * writes before this are visible to whoever sees the arrival), without waiting. Work that needs nobody else's
     * results can run between this and {@link #awaitOthers}, hiding the barrier's latency.
     */
    void arrive(int me) {
        if (parties == 1) return;
        int mine = (me + 1) * STRIDE;
        SLOT.setRelease(arrived, mine, (long) SLOT.getOpaque(arrived, mine) + 1);
    }

    /** The second half of {@link #await}: waits until every other thread has arrived as often as {@code me}. */
    void awaitOthers(int me) {
        if (parties == 1) return;
        long round = (long) SLOT.getOpaque(arrived, (me + 1) * STRIDE);
        for (int other = 0; other < parties; other++) {
            if (other == me) continue;
            int slot = (other + 1) * STRIDE;
            long start = 0;
            while ((long) SLOT.getAcquire(arrived, slot) < round) {
                if (failure != null) throw new Aborted();
                for (int s = 0; s < SPINS_PER_CHECK && (long) SLOT.getAcquire(arrived, slot) < round; s++) {
                    Thread.onSpinWait();
                }
                long now = System.nanoTime();
                if (start == 0) start = now;
                else if (now - start > StepBoard.YIELD_AFTER_NANOS) Thread.yield(); // its core is taken: give it ours
            }
        }
    }

    /** Records the first failure and releases every waiter. */
    void fail(Throwable t) {
        FAILURE.compareAndSet(this, null, t);
    }

    /** The first failure, or null. */
    Throwable failure() { return failure; }
}
