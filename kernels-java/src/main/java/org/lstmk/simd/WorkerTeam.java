package org.lstmk.simd;

import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.function.BooleanSupplier;

/**
 * Runs one kernel call on {@code n} threads: the caller is worker 0, workers 1..n−1 are tasks on the caller's
 * {@link Executor} (from {@code BackendOptions}) or on daemon threads owned by this team. Workers synchronise with
 * a {@link SpinBarrier}. The first exception of any worker is rethrown in the caller after every worker has
 * stopped (a job that can tell that its workers will touch nothing more lets the call end without waiting for them
 * to stop: {@link Job#release}); a worker that the executor does not start within {@link #START_TIMEOUT_NANOS}
 * fails the call rather than hanging it (and is cancelled, so that it cannot run later on buffers that are no longer
 * its own).
 */
final class WorkerTeam implements AutoCloseable {
    /** How long a worker may wait in the executor's queue before the call fails. */
    static final long START_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(10);

    /**
     * The work of one call; {@code worker} in {@code [0, n)}. Only {@link #copyIn} and {@link #copyOut} touch the
     * caller's buffers, so that a call whose buffers only the calling thread may access (segments of a confined
     * arena) runs them there, and everything else on the team.
     */
    @FunctionalInterface
    interface Job {
        /** Share {@code worker} of moving the caller's inputs in. */
        default void copyIn(int worker) {}

        /** Share {@code worker} of the computation; every worker calls {@code barrier.await} equally often. */
        void compute(int worker, SpinBarrier barrier);

        /** Share {@code worker} of moving the results out to the caller; after that worker's {@link #compute}. */
        default void copyOut(int worker) {}

        /** How many shares {@link #copyIn} and {@link #copyOut} have when the call runs on {@code workers}. */
        default int copyShares(int workers) { return workers; }

        /**
         * Called on the caller once its own {@link #compute} has returned normally: returns true if the other workers
         * can no longer touch the call's memory (they may still be running, but only to find nothing left to do), so
         * that the call need not wait for them to end; false to wait for them (the default). A worker whose core is
         * taken by another process may take milliseconds to notice that the call is over.
         */
        default boolean release() { return false; }
    }

    /**
     * Runs {@code job} on {@code n} workers. With {@code callerIo}, the copies run on the calling thread (before and
     * after the team); otherwise each worker copies its own share around its computation.
     */
    void run(int n, Job job, boolean callerIo) {
        if (callerIo || n == 1) {
            int shares = job.copyShares(n);
            for (int w = 0; w < shares; w++) job.copyIn(w);
            runBodies(n, job::compute, job::release);
            for (int w = 0; w < shares; w++) job.copyOut(w);
        } else {
            runBodies(n, (w, barrier) -> {
                job.copyIn(w);
                barrier.await(w);
                job.compute(w, barrier);
                job.copyOut(w);
            }, () -> false);
        }
    }

    /** How long an owned worker thread waits for the next call before it ends (a new call starts it again). */
    static final long IDLE_SECONDS = 30;

    private static final int PENDING = 0, RUNNING = 1, DONE = 2, CANCELLED = 3;
    private static final AtomicInteger POOL_ID = new AtomicInteger();

    private final int threads;
    private final Executor executor;
    private final long startTimeoutNanos;
    private final long idleNanos;
    private ExecutorService owned;

    /** @param executor where extra workers run; null for daemon threads owned by this team */
    WorkerTeam(int threads, Executor executor) {
        this(threads, executor, START_TIMEOUT_NANOS);
    }

    WorkerTeam(int threads, Executor executor, long startTimeoutNanos) {
        this(threads, executor, startTimeoutNanos, TimeUnit.SECONDS.toNanos(IDLE_SECONDS));
    }

    WorkerTeam(int threads, Executor executor, long startTimeoutNanos, long idleNanos) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.threads = threads;
        this.executor = executor;
        this.startTimeoutNanos = startTimeoutNanos;
        this.idleNanos = idleNanos;
    }

    /** Threads a call may use. */
    int threads() { return threads; }

    /** Runs {@code job} on {@code n <= threads()} workers and returns when all have finished. */
    void run(int n, Job job) {
        runBodies(n, job::compute, job::release);
    }

    /** The body of one worker. */
    @FunctionalInterface
    interface Body {
        void run(int worker, SpinBarrier barrier);
    }

    private void runBodies(int n, Body job, BooleanSupplier release) {
        if (n < 1 || n > threads) throw new IllegalArgumentException("workers must be in [1, " + threads + "], got " + n);
        SpinBarrier barrier = new SpinBarrier(n);
        if (n == 1) {
            job.run(0, barrier);
            return;
        }
        AtomicIntegerArray state = new AtomicIntegerArray(n);
        Executor ex = executor();
        int submitted = 1;
        try {
            for (; submitted < n; submitted++) {
                int w = submitted;
                Thread caller = Thread.currentThread();
                ex.execute(() -> {
                    if (Thread.currentThread() == caller) {
                        // a direct executor: waiting here for worker 0, which is this very thread, would never end
                        state.set(w, CANCELLED);
                        barrier.fail(new IllegalStateException("the executor ran SIMD worker " + w + " on the calling "
                                + "thread; it must run the " + (n - 1) + " workers on other threads, at once"));
                        return;
                    }
                    if (!state.compareAndSet(w, PENDING, RUNNING)) return;
                    try {
                        job.run(w, barrier);
                    } catch (Throwable t) {
                        barrier.fail(t);
                    } finally {
                        state.set(w, DONE);
                    }
                });
            }
        } catch (RejectedExecutionException e) {
            barrier.fail(new IllegalStateException("the executor rejected SIMD worker " + submitted + " of " + n, e));
        } catch (Throwable t) {
            // Anything else execute() throws (OutOfMemoryError: unable to create native thread, a bug in the
            // caller's executor) must also release the workers already started, or they would spin in the barrier
            // for ever waiting for worker 0. The error itself reaches the caller after they have stopped.
            barrier.fail(t instanceof Error ? t : new IllegalStateException("the executor failed to start SIMD worker "
                    + submitted + " of " + n + ": " + t, t));
        }
        for (int w = submitted; w < n; w++) state.set(w, CANCELLED);
        Thread watchdog = startWatchdog(state, barrier, n, startTimeoutNanos);
        try {
            if (barrier.failure() == null) {
                try {
                    job.run(0, barrier);
                } catch (Throwable t) {
                    barrier.fail(t);
                }
            }
            boolean released = barrier.failure() == null && release.getAsBoolean();
            // a worker that failed while the job released them is waited for, and its failure rethrown, as always
            if (released && barrier.failure() == null) {
                // the workers can touch nothing more: one not started yet need not start at all
                for (int w = 1; w < n; w++) state.compareAndSet(w, PENDING, CANCELLED);
                return;
            }
            awaitWorkers(state, n);
        } finally {
            if (watchdog != null) watchdog.interrupt();
        }
        Throwable f = barrier.failure();
        if (f != null) rethrow(f);
    }

    /** Fails the call if a worker has not started in time; returns null when every worker already runs. */
    private static Thread startWatchdog(AtomicIntegerArray state, SpinBarrier barrier, int n, long timeout) {
        if (allStarted(state, n)) return null;
        Thread t = Thread.ofVirtual().unstarted(() -> {
            long deadline = System.nanoTime() + timeout;
            while (!allStarted(state, n)) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    for (int w = 1; w < n; w++) {
                        if (state.compareAndSet(w, PENDING, CANCELLED)) {
                            barrier.fail(new IllegalStateException("SIMD worker " + w + " of " + n
                                    + " did not start within " + TimeUnit.NANOSECONDS.toMillis(timeout)
                                    + " ms: the executor must be able to run " + (n - 1) + " tasks at once"));
                        }
                    }
                    return;
                }
                try {
                    Thread.sleep(Math.min(TimeUnit.NANOSECONDS.toMillis(left) + 1, 5));
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        t.start();
        return t;
    }

    private static boolean allStarted(AtomicIntegerArray state, int n) {
        for (int w = 1; w < n; w++) if (state.get(w) == PENDING) return false;
        return true;
    }

    private static void awaitWorkers(AtomicIntegerArray state, int n) {
        for (int w = 1; w < n; w++) {
            int spins = 0;
            int s;
            while ((s = state.get(w)) == RUNNING || s == PENDING) {
                if (++spins > (1 << 14)) {
                    Thread.yield(); // a pending worker is started by the executor or cancelled by the watchdog
                } else {
                    Thread.onSpinWait();
                }
            }
        }
    }

    private static void rethrow(Throwable f) {
        if (f instanceof RuntimeException r) throw r;
        if (f instanceof Error e) throw e;
        throw new IllegalStateException("SIMD worker failed: " + f, f);
    }

    private synchronized Executor executor() {
        if (executor != null) return executor;
        if (owned == null) {
            int pool = POOL_ID.incrementAndGet();
            AtomicInteger id = new AtomicInteger();
            ThreadFactory f = r -> {
                Thread t = new Thread(r, "lstmk-simd-" + pool + "-worker-" + id.incrementAndGet());
                t.setDaemon(true);
                return t;
            };
            // Idle workers end after IDLE_SECONDS: an engine that is never closed (nor collected) keeps no thread.
            ThreadPoolExecutor workers = new ThreadPoolExecutor(threads - 1, threads - 1, idleNanos, TimeUnit.NANOSECONDS,
                    new LinkedBlockingQueue<>(), f);
            workers.allowCoreThreadTimeOut(true);
            owned = workers;
        }
        return owned;
    }

    /** Threads of the team's own pool that are alive now (0 with a caller's executor, or once they idled out). */
    synchronized int liveOwnedThreads() {
        return owned instanceof ThreadPoolExecutor p ? p.getPoolSize() : 0;
    }

    /** Stops the owned threads (a caller-supplied executor is the caller's). */
    @Override
    public synchronized void close() {
        if (owned != null) {
            owned.shutdown();
            owned = null;
        }
    }
}
