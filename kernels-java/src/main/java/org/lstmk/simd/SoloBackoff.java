package org.lstmk.simd;

/**
 * How long an engine's calls run on the caller alone after its workers were found descheduled inside their work
 * ({@link StepBoard#troubled}: a core taken by other work, e.g. more engines than cores, or another process).
 * Sharing a step with such a worker only costs (its items are waited for, then in inference computed twice), so
 * after {@link #STRIKES} such calls in a row the next calls leave it out for a period that doubles while every call
 * that tries to share again meets the same ({@link #MIN_NANOS} up to {@link #MAX_NANOS}). A call that shares without
 * trouble ends the period, and halves the next one.
 */
final class SoloBackoff {
    static final long MIN_NANOS = 10_000_000L;
    static final long MAX_NANOS = 1_000_000_000L;

    /**
     * Troubled calls in a row before the first period: a quiet machine's hiccups (on this project's 2-vCPU VM the
     * host preempts a vCPU for over 200 µs in a few percent of B = 1 calls) change nothing; a busy core troubles
     * every call.
     */
    static final int STRIKES = 3;

    private long until, period;
    private int strikes;

    /** Whether a call starting at {@code now} should run on the caller alone. */
    synchronized boolean solo(long now) {
        return period != 0 && now - until < 0;
    }

    /** Records how a call that shared its work with other threads went. */
    synchronized void shared(boolean evicted, long now) {
        if (evicted) {
            if (++strikes < STRIKES) return;
            period = period == 0 ? MIN_NANOS : Math.min(MAX_NANOS, 2 * period);
            until = now + period;
        } else {
            strikes = 0;
            // a clean call: share from now on, but remember the trouble for a while (under lasting contention an
            // occasional clean call must not bring back the short periods)
            period = period / 2 < MIN_NANOS ? 0 : period / 2;
            until = now;
        }
    }
}
