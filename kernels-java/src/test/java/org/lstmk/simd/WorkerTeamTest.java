package org.lstmk.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

/** The thread team: every worker runs, barriers order them, failures reach the caller and never hang it. */
class WorkerTeamTest {
    private static final Duration LIMIT = Duration.ofSeconds(20);

    @Test
    void everyWorkerRunsAndBarriersSeparatePhases() {
        try (WorkerTeam team = new WorkerTeam(3, null)) {
            for (int call = 0; call < 50; call++) {
                int n = 1 + call % 3;
                AtomicIntegerArray phase = new AtomicIntegerArray(n);
                assertTimeoutPreemptively(LIMIT, () -> team.run(n, (w, barrier) -> {
                    for (int step = 1; step <= 200; step++) {
                        phase.set(w, step);
                        barrier.await(w);
                        // after the barrier every worker has reached this step, and none has gone past it
                        for (int o = 0; o < n; o++) {
                            int p = phase.get(o);
                            if (p != step && p != step + 1) throw new AssertionError("worker " + o + " at " + p + ", expected " + step);
                        }
                        barrier.await(w);
                    }
                }));
                for (int o = 0; o < n; o++) assertEquals(200, phase.get(o));
            }
        }
    }

    @Test
    void aWorkersExceptionReachesTheCallerAndReleasesTheOthers() {
        try (WorkerTeam team = new WorkerTeam(3, null)) {
            IllegalStateException boom = new IllegalStateException("boom in worker 2");
            RuntimeException e = assertThrows(RuntimeException.class, () -> assertTimeoutPreemptively(LIMIT,
                    () -> team.run(3, (w, barrier) -> {
                        for (int step = 0; step < 1000; step++) {
                            if (w == 2 && step == 10) throw boom;
                            barrier.await(w);
                        }
                    })));
            assertSame(boom, e);
            // the team is usable afterwards
            int[] ran = new int[3];
            team.run(3, (w, barrier) -> {
                ran[w] = 1;
                barrier.await(w);
            });
            assertEquals(3, ran[0] + ran[1] + ran[2]);
        }
    }

    @Test
    void theCallersExceptionReleasesTheWorkers() {
        try (WorkerTeam team = new WorkerTeam(2, null)) {
            UnsupportedOperationException boom = new UnsupportedOperationException("caller fails");
            RuntimeException e = assertThrows(RuntimeException.class, () -> assertTimeoutPreemptively(LIMIT,
                    () -> team.run(2, (w, barrier) -> {
                        if (w == 0) throw boom;
                        while (true) barrier.await(w);
                    })));
            assertSame(boom, e);
        }
    }

    @Test
    void anExecutorThatThrowsAnErrorReleasesTheWorkerItStarted() throws Exception {
        ExecutorService pool = Executors.newCachedThreadPool();
        try {
            CountDownLatch started = new CountDownLatch(1), ended = new CountDownLatch(1);
            AtomicInteger submissions = new AtomicInteger();
            // starts worker 1, then fails as a JVM out of threads does for worker 2
            Executor failing = task -> {
                if (submissions.incrementAndGet() > 1) throw new OutOfMemoryError("unable to create native thread");
                pool.execute(() -> {
                    started.countDown();
                    try {
                        task.run();
                    } finally {
                        ended.countDown();
                    }
                });
            };
            try (WorkerTeam team = new WorkerTeam(3, failing)) {
                OutOfMemoryError e = assertThrows(OutOfMemoryError.class, () -> assertTimeoutPreemptively(LIMIT,
                        () -> team.run(3, (w, barrier) -> {
                            for (int step = 0; step < 100; step++) barrier.await(w);
                        })));
                assertEquals("unable to create native thread", e.getMessage());
            }
            assertTrue(started.await(10, TimeUnit.SECONDS), "worker 1 never started");
            assertTrue(ended.await(10, TimeUnit.SECONDS), "worker 1 still spins in the barrier after the call failed");
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void ownedWorkersEndWhenIdle() throws Exception {
        try (WorkerTeam team = new WorkerTeam(3, null, WorkerTeam.START_TIMEOUT_NANOS, TimeUnit.MILLISECONDS.toNanos(50))) {
            assertTimeoutPreemptively(LIMIT, () -> team.run(3, (w, barrier) -> barrier.await(w)));
            assertTrue(team.liveOwnedThreads() > 0);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (team.liveOwnedThreads() > 0 && System.nanoTime() < deadline) Thread.sleep(20);
            assertEquals(0, team.liveOwnedThreads(), "idle workers of a team nobody closed must end");
            int[] ran = new int[3];   // and a later call starts them again
            assertTimeoutPreemptively(LIMIT, () -> team.run(3, (w, barrier) -> {
                ran[w] = 1;
                barrier.await(w);
            }));
            assertEquals(3, ran[0] + ran[1] + ran[2]);
        }
    }

    @Test
    void aRejectingExecutorFailsTheCallClearly() {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        pool.shutdown();
        try (WorkerTeam team = new WorkerTeam(2, pool)) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> assertTimeoutPreemptively(LIMIT, () -> team.run(2, (w, barrier) -> barrier.await(w))));
            assertTrue(e.getMessage().contains("rejected"), e.getMessage());
            assertTrue(e.getCause() instanceof RejectedExecutionException);
        }
    }

    @Test
    void anExecutorThatNeverStartsTheWorkerFailsTheCallInsteadOfHanging() throws Exception {
        ExecutorService busy = Executors.newSingleThreadExecutor();
        busy.execute(() -> {
            try {
                Thread.sleep(3_000);
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
        });
        int[] ranLate = new int[1];
        try (WorkerTeam team = new WorkerTeam(2, busy, TimeUnit.MILLISECONDS.toNanos(200))) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> assertTimeoutPreemptively(LIMIT,
                    () -> team.run(2, (w, barrier) -> {
                        if (w == 1) ranLate[0] = 1;
                        barrier.await(w);
                    })));
            assertTrue(e.getMessage().contains("did not start"), e.getMessage());
        } finally {
            busy.shutdown();
            assertTrue(busy.awaitTermination(10, TimeUnit.SECONDS));
        }
        assertEquals(0, ranLate[0], "a cancelled worker must not run once the executor gets to it");
    }

    @Test
    void anExecutorThatRunsTasksOnTheCallingThreadFailsTheCallInsteadOfHanging() {
        try (WorkerTeam team = new WorkerTeam(2, Runnable::run)) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> assertTimeoutPreemptively(LIMIT, () -> team.run(2, (w, barrier) -> barrier.await(w))));
            assertTrue(e.getMessage().contains("calling thread"), e.getMessage());
        }
    }

    @Test
    void aCallerSuppliedExecutorRunsTheWorkers() {
        ExecutorService pool = Executors.newCachedThreadPool();
        try (WorkerTeam team = new WorkerTeam(4, pool)) {
            String[] names = new String[4];
            team.run(4, (w, barrier) -> {
                names[w] = Thread.currentThread().getName();
                barrier.await(w);
            });
            assertEquals(Thread.currentThread().getName(), names[0], "the caller is worker 0");
            for (int w = 1; w < 4; w++) assertTrue(names[w].startsWith("pool-"), names[w]);
        } finally {
            pool.shutdown();
        }
    }
}
