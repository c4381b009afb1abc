package org.lstmk.simd;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Who does which work item of each phase of a team's time loop, without a barrier. Every phase (a step, or with
 * projection each half of a step) is cut into items, each with a <em>home</em> thread that normally does it (so
 * that its weight panels stay in that thread's caches). An item is taken by a compare-and-set of its claim, and
 * marked done when finished; a thread that has finished its own items takes the others' unclaimed ones from the end
 * their home reaches last, and a phase is complete when every item is done. A slow or descheduled thread therefore
 * holds back at most the item it is inside, not its whole share, and where items may be computed twice (they only
 * write values that do not depend on who computes them, over nothing they read), a waiting thread does that one too
 * ({@link #help} with {@code redo}).
 *
 * <p>Claims and done marks are phase numbers + 1, only ever raised, so the board needs no reset between phases and a
 * thread that wakes up late finds every item of the phases it missed claimed and done. Each home's marks lie in
 * cache lines of their own: in the usual case each thread writes only its own lines.
 */
final class StepBoard {
    private static final VarHandle MARK = MethodHandles.arrayElementVarHandle(long[].class);
    /** Longs per 128 bytes: adjacent-line prefetching must not couple two homes. */
    private static final int LINE = 16;
    /** Spins with {@link Thread#onSpinWait} between looks at the clock while waiting. */
    private static final int SPINS_PER_CHECK = 64;
    /** Waiting longer than this without a redo, a thread yields its core at every look (more threads than cores). */
    static final long YIELD_AFTER_NANOS = 50_000;
    /**
     * The least a waiting thread waits for an item before computing it again itself (and evicting its claimer):
     * longer than the hiccups of a quiet machine (an interrupt, the hypervisor), shorter than the time slice of
     * another process (0.75–3 ms) that a descheduled thread waits out.
     */
    static final long MIN_PATIENCE_NANOS = 200_000;

    /** Computes item {@code item} of home {@code home} of the phase being waited for. */
    @FunctionalInterface
    interface Item {
        void run(int home, int item);
    }

    /** Items of home {@code home} in the phase being waited for. */
    @FunctionalInterface
    interface Count {
        int items(int home);
    }

    private final int homes, stride;
    /**
     * Per home: {@code stride/2} claim marks ({@code (phase + 1) << 8 | claimer}), then {@code stride/2} done marks
     * ({@code phase + 1}), after a line of padding.
     */
    private final long[] marks;
    /** Per thread, a line apart: 1 once evicted ({@link #evict}). */
    private final long[] evicted;
    private volatile boolean anyEvicted, stalled;

    /** @param maxItems the most items any home has in any phase; threads are the homes */
    StepBoard(int homes, int maxItems) {
        if (homes > 256) throw new IllegalArgumentException("at most 256 threads, got " + homes);
        this.homes = homes;
        int half = Math.max(1, (maxItems + LINE - 1) / LINE) * LINE;
        this.stride = 2 * half;
        this.marks = new long[LINE + homes * stride];
        this.evicted = new long[(homes + 1) * LINE];
    }

    private int claimSlot(int home, int item) { return LINE + home * stride + item; }

    private int doneSlot(int home, int item) { return LINE + home * stride + stride / 2 + item; }

    /** Tests only: runs in the claiming thread after every successful claim (to stall it inside its item). */
    static volatile Runnable afterClaim;

    /** Thread {@code by} takes item {@code item} of {@code home} for {@code phase}; false if someone already has. */
    boolean claim(int home, int item, int phase, int by) {
        int slot = claimSlot(home, item);
        long to = (phase + 1L) << 8 | by;
        long v = (long) MARK.getVolatile(marks, slot);
        while (v >>> 8 <= phase) {
            long seen = (long) MARK.compareAndExchange(marks, slot, v, to);
            if (seen == v) {
                Runnable hook = afterClaim;
                if (hook != null) hook.run();
                return true;
            }
            v = seen;
        }
        return false;
    }

    /** Whether item {@code item} of {@code home} is claimed for {@code phase} (or later). */
    boolean claimed(int home, int item, int phase) {
        return (long) MARK.getVolatile(marks, claimSlot(home, item)) >>> 8 > phase;
    }

    /** The thread that last claimed item {@code item} of {@code home}. */
    private int claimer(int home, int item) {
        return (int) ((long) MARK.getVolatile(marks, claimSlot(home, item)) & 0xFF);
    }

    /** Marks the item done for {@code phase}: everything written before is visible to whoever sees it done. */
    void finish(int home, int item, int phase) {
        int slot = doneSlot(home, item);
        long v = (long) MARK.getVolatile(marks, slot);
        while (v <= phase) {
            long seen = (long) MARK.compareAndExchange(marks, slot, v, phase + 1L);
            if (seen == v) return;
            v = seen;
        }
    }

    boolean done(int home, int item, int phase) {
        return (long) MARK.getAcquire(marks, doneSlot(home, item)) > phase;
    }

    /**
     * Evicts thread {@code p} (never the caller, 0) from the rest of the call: it was found late inside an item
     * (descheduled: its core is taken), so the others stop waiting for it. It must check {@link #isEvicted} before
     * every item it starts, and leave.
     */
    void evict(int p) {
        if (p == 0 || isEvicted(p)) return;
        MARK.setVolatile(evicted, (p + 1) * LINE, 1L);
        anyEvicted = true;
    }

    boolean isEvicted(int p) {
        return (long) MARK.getVolatile(evicted, (p + 1) * LINE) != 0;
    }

    /** Whether any thread was evicted during the call. */
    boolean anyEvicted() { return anyEvicted; }

    /**
     * Whether the call met a thread descheduled inside an item: one was evicted, or (where items are not computed
     * twice) waited for longer than the patience.
     */
    boolean troubled() { return anyEvicted || stalled; }

    /**
     * Helps thread {@code me} with {@code phase} until every item of it is done: takes the items nobody has claimed
     * yet (home by home, from the end their home reaches last: the first item when {@code homeGoesBackwards}, else
     * the last), then waits for the claimed ones (unless {@code !wait}: then it returns once nothing is left to
     * claim). With {@code redo}, an item still not done after {@code patienceNanos} (at once if its claimer was
     * evicted) is computed again here, and its claimer evicted; without, the wait spins briefly and then yields the
     * core at every look. A failure of the team ({@link SpinBarrier#failure()} of {@code failures}) ends the wait
     * with {@link SpinBarrier.Aborted}.
     */
    void help(int me, int phase, Count count, Item item, boolean homeGoesBackwards, boolean wait, boolean redo,
              long patienceNanos, SpinBarrier failures) {
        for (int h = 0; h < homes; h++) {
            int n = count.items(h);
            for (int k = 0; k < n; k++) {
                int i = homeGoesBackwards ? k : n - 1 - k;
                if (done(h, i, phase)) continue;
                if (claim(h, i, phase, me)) {
                    item.run(h, i);
                    finish(h, i, phase);
                    continue;
                }
                if (!wait) continue;
                long start = System.nanoTime();
                while (!done(h, i, phase)) {
                    for (int s = 0; s < SPINS_PER_CHECK && !done(h, i, phase); s++) Thread.onSpinWait();
                    if (failures.failure() != null) throw new SpinBarrier.Aborted();
                    long waited = System.nanoTime() - start;
                    int claimer = claimer(h, i);
                    if (redo && claimer != me && (waited > patienceNanos || isEvicted(claimer))) {
                        evict(claimer);
                        item.run(h, i);
                        finish(h, i, phase);
                    } else if (waited > patienceNanos && !stalled) {
                        stalled = true; // the claimer is descheduled, and cannot be replaced
                    } else if (waited > YIELD_AFTER_NANOS) {
                        Thread.yield();
                    }
                }
            }
        }
    }
}
