package org.lstmk.simd;

/**
 * How long an engine's inference calls run on the caller alone after one of its workers was found descheduled
 * ({@link StepBoard#evict}: its core is taken by other work, e.g. more engines than cores, or another process).
 * Sharing a step with such a worker only costs (its items are waited for, then computed twice), so the next calls
 * leave it out for a period that doubles while every call that tries to share again loses a worker the same way
 * ({@link #MIN_NANOS} up to {@link #MAX_NANOS}), and ends at the first call that shares without eviction. On a quiet
 * machine a worker is hardly ever evicted, and then only a few calls run alone.
 */
final class SoloBackoff {
    static final long MIN_NANOS = 10_000_000L;
    static final long MAX_NANOS = 1_000_000_000L;

    private long until, period;

    /** Whether a call starting at {@code now} should run on the caller alone. */
    synchronized boolean solo(long now) {
        return period != 0 && now - until < 0;
    }

    /** Records how a call that shared its work with other threads went. */
    synchronized void shared(boolean evicted, long now) {
        if (evicted) {
            period = period == 0 ? MIN_NANOS : Math.min(MAX_NANOS, 2 * period);
            until = now + period;
        } else {
            period = 0;
        }
    }
}
