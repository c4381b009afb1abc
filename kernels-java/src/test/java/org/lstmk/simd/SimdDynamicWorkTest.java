package org.lstmk.simd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.lstmk.spi.BackendOptions;

/**
 * The forward pass's work is taken dynamically ({@link StepBoard}): whichever thread computes an item, and however
 * late a worker starts or stalls inside an item (its core taken by another process), every output of training
 * forward, backward and inference is bit for bit the one of an undisturbed call on the same number of threads, and
 * agrees with the reference; and backward, whose result does not depend on its thread count, gives the same bits on
 * one thread. Stalls are made by {@link StepBoard#afterClaim}: a worker thread sleeps inside the item
 * it has just claimed, so that the caller takes its other items, and in inference computes that one again.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class SimdDynamicWorkTest {
    static List<PackedProblem> problems() {
        List<PackedProblem> c = new ArrayList<>();
        int[] uniform16 = new int[16];
        Arrays.fill(uniform16, 9);
        // B = 1 (small steps: the home's own-units product before the wait), B = 16, several blocks per thread,
        // packed lengths, projection (a second phase per step), peepholes and clip
        c.add(new PackedProblem("b1", 40, 100, 0, false, 0f, new int[] {30}, true, false, 1, false, 91));
        c.add(new PackedProblem("b16", 24, 70, 0, false, 0f, uniform16, true, true, 1, false, 92));
        c.add(new PackedProblem("packed", 40, 100, 0, true, 3f, PackedProblem.randomLengths(12, 16, 93), true, false,
                100, false, 93));
        c.add(new PackedProblem("projection", 40, 100, 40, false, 0f, PackedProblem.randomLengths(12, 5, 94), false,
                true, 1, false, 94));
        c.add(new PackedProblem("projection-b1", 16, 65, 20, true, 0f, new int[] {25}, true, false, 1, false, 95));
        return c;
    }

    private ExecutorService pool;

    @AfterEach
    void tearDown() throws InterruptedException {
        StepBoard.afterClaim = null;
        ForwardPass.inProjection = null;
        if (pool != null) {
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
        }
    }

    private PackedProblem.Outputs runOn(PackedProblem p, PackedProblem.Inputs in, BackendOptions options) {
        try (SimdBackend backend = new SimdBackend(options)) {
            return p.run(in, backend, p.batchSizes(), true);
        }
    }

    private static void assertSameBits(PackedProblem p, PackedProblem.Outputs expected, PackedProblem.Outputs got) {
        assertEquals(expected.values.keySet(), got.values.keySet());
        for (String name : expected.values.keySet()) {
            assertArrayEquals(expected.get(name), got.get(name), 0f, p + ": " + name + " differs from the undisturbed call");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("problems")
    void workersThatStallInsideTheirItemsChangeNoBit(PackedProblem p) {
        PackedProblem.Inputs in = p.inputs();
        PackedProblem.Outputs undisturbed = runOn(p, in, new BackendOptions(2, null));
        SimdPackedTest.assertAgrees(p, undisturbed, p.runReference(in));
        AtomicInteger claims = new AtomicInteger();
        pool = Executors.newFixedThreadPool(1, r -> new Thread(r, "stalling-worker"));
        Thread caller = Thread.currentThread();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        StepBoard.afterClaim = () -> {
            if (Thread.currentThread() == caller) {
                // the caller waits (inside its first items) until the worker has started and claimed one of its own
                while (claims.get() == 0 && System.nanoTime() < deadline) LockSupport.parkNanos(100_000);
            } else if (claims.incrementAndGet() % 3 == 0) {
                // the worker sleeps inside one item in three, long enough for the caller to give up waiting for it
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
            }
        };
        PackedProblem.Outputs stalled = runOn(p, in, new BackendOptions(2, pool));
        if (Runtime.getRuntime().availableProcessors() >= 2) {
            assertTrue(claims.get() > 0, "the worker never claimed an item: nothing was tested");
        } else {
            assertEquals(0, claims.get(), "one processor: the calls must run on the caller alone (CallCount)");
        }
        assertSameBits(p, undisturbed, stalled);
    }

    /**
     * A worker that stalls between computing a tile of an input projection chunk and writing it to the gate rows,
     * while the caller computes the same item again (projection included) and goes on with the steps that read it:
     * the late write must leave exactly what the caller wrote (the projection adds the bias on its way to the gate
     * rows; added in place there, the late write added it twice).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("problems")
    void aWorkerThatStallsInsideAProjectionChangesNoBit(PackedProblem p) {
        PackedProblem.Inputs in = p.inputs();
        PackedProblem.Outputs undisturbed = runOn(p, in, new BackendOptions(2, null));
        AtomicInteger stalls = new AtomicInteger();
        pool = Executors.newFixedThreadPool(1, r -> new Thread(r, "stalling-worker"));
        Thread caller = Thread.currentThread();
        ForwardPass.inProjection = () -> {
            if (Thread.currentThread() != caller && stalls.incrementAndGet() % 3 == 1) {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
            }
        };
        // the worker may start after the caller has taken every projection: a few calls until it has stalled in one
        for (int call = 0; call < 5 && (call == 0 || stalls.get() == 0); call++) {
            assertSameBits(p, undisturbed, runOn(p, in, new BackendOptions(2, pool)));
        }
        if (Runtime.getRuntime().availableProcessors() >= 2) {
            assertTrue(stalls.get() > 0, "the worker never computed a projection tile: nothing was tested");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("problems")
    void aWorkerThatStartsLateChangesNoBit(PackedProblem p) {
        PackedProblem.Inputs in = p.inputs();
        PackedProblem.Outputs undisturbed = runOn(p, in, new BackendOptions(2, null));
        // every worker starts 20 ms after it is asked to: the caller does the whole call alone
        pool = Executors.newFixedThreadPool(1);
        java.util.concurrent.Executor late = task -> pool.execute(() -> {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
            task.run();
        });
        assertSameBits(p, undisturbed, runOn(p, in, new BackendOptions(2, late)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("problems")
    void callsOnTheCallerAloneChangeNoBit(PackedProblem p) {
        PackedProblem.Inputs in = p.inputs();
        AtomicInteger tasks = new AtomicInteger();
        pool = Executors.newFixedThreadPool(1);
        java.util.concurrent.Executor counting = task -> {
            tasks.incrementAndGet();
            pool.execute(task);
        };
        PackedProblem.Outputs undisturbed;
        try (SimdBackend backend = new SimdBackend(new BackendOptions(2, counting))) {
            undisturbed = p.run(in, backend, p.batchSizes(), true);
        }
        int shared = tasks.getAndSet(0);
        try (SimdBackend backend = new SimdBackend(new BackendOptions(2, counting))) {
            // as after workers were descheduled again and again: calls leave them out for the next second (the
            // training forward runs its two homes' items on the caller, backward runs on one thread)
            for (int i = 0; i < 8; i++) backend.solo.shared(true, System.nanoTime());
            assertSameBits(p, undisturbed, p.run(in, backend, p.batchSizes(), true));
        }
        assertEquals(0, tasks.get(), "the calls should have started no worker");
        if (Runtime.getRuntime().availableProcessors() >= 2) {
            assertTrue(shared >= 1, "the undisturbed calls should have started workers: nothing was compared");
        }
    }

    /** More threads asked for than the processors can run: the work is cut for all of them, the same bits solo. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("problems")
    void moreThreadsThanProcessorsChangeNoBit(PackedProblem p) {
        PackedProblem.Inputs in = p.inputs();
        int threads = 2 * Runtime.getRuntime().availableProcessors();
        PackedProblem.Outputs shared = runOn(p, in, new BackendOptions(threads, null));
        SimdPackedTest.assertAgrees(p, shared, p.runReference(in));
        try (SimdBackend backend = new SimdBackend(new BackendOptions(threads, null))) {
            for (int i = 0; i < 8; i++) backend.solo.shared(true, System.nanoTime());
            assertSameBits(p, shared, p.run(in, backend, p.batchSizes(), true));
        }
    }

    @Test
    void callsInFlightShareTheProcessors() {
        int processors = Runtime.getRuntime().availableProcessors();
        int first = CallCount.enter(64);
        int second = CallCount.enter(64);
        int third = CallCount.enter(1);
        CallCount.leave();
        CallCount.leave();
        CallCount.leave();
        assertEquals(Math.min(64, processors), first);
        assertEquals(Math.max(1, processors / 2), second);
        assertEquals(1, third);
        assertEquals(Math.min(64, processors), CallCount.enter(64), "leave() must give the processors back");
        CallCount.leave();
    }

    @Test
    void theBoardsMarksOnlyRise() {
        StepBoard b = new StepBoard(2, 3);
        assertTrue(b.claim(1, 2, 5, 1));
        assertTrue(!b.claim(1, 2, 5, 0), "claimed twice for one phase");
        assertTrue(!b.claim(1, 2, 4, 0), "claimed for an earlier phase after a later one");
        assertTrue(b.claimed(1, 2, 5) && !b.claimed(1, 1, 5) && !b.claimed(0, 2, 5));
        b.finish(1, 2, 5);
        b.finish(1, 2, 3); // a late thread finishing an old phase must not lower the mark
        assertTrue(b.done(1, 2, 5) && b.done(1, 2, 4) && !b.done(1, 2, 6));
        assertTrue(b.claim(1, 2, 6, 0));
        b.evict(0); // the caller is never evicted: it ends the call
        assertTrue(!b.isEvicted(0) && !b.anyEvicted());
        b.evict(1);
        assertTrue(b.isEvicted(1) && b.anyEvicted());
    }

    @Test
    void soloBackoffStartsAfterStrikesInARowDoublesAndHalvesAfterACleanCall() {
        SoloBackoff b = new SoloBackoff();
        long now = 1_000;
        assertTrue(!b.solo(now));
        for (int i = 1; i < SoloBackoff.STRIKES; i++) {
            b.shared(true, now);
            assertTrue(!b.solo(now + 1), i + " troubled call(s) in a row change nothing");
        }
        b.shared(true, now);
        assertTrue(b.solo(now + SoloBackoff.MIN_NANOS - 1) && !b.solo(now + SoloBackoff.MIN_NANOS));
        now += SoloBackoff.MIN_NANOS;
        b.shared(true, now);
        assertTrue(b.solo(now + 2 * SoloBackoff.MIN_NANOS - 1) && !b.solo(now + 2 * SoloBackoff.MIN_NANOS));
        for (int i = 0; i < 40; i++) b.shared(true, now);
        assertTrue(b.solo(now + SoloBackoff.MAX_NANOS - 1) && !b.solo(now + SoloBackoff.MAX_NANOS));
        b.shared(false, now);
        assertTrue(!b.solo(now + 1), "a clean call ends the period");
        for (int i = 0; i < SoloBackoff.STRIKES; i++) b.shared(true, now);
        assertTrue(b.solo(now + SoloBackoff.MAX_NANOS - 1), "the next period starts from half of the last");
        for (int i = 0; i < 40; i++) b.shared(false, now);
        for (int i = 1; i < SoloBackoff.STRIKES; i++) b.shared(true, now);
        assertTrue(!b.solo(now + 1), "after clean calls, troubled calls short of the strikes change nothing again");
        b.shared(false, now);
        for (int i = 1; i < SoloBackoff.STRIKES; i++) b.shared(true, now);
        assertTrue(!b.solo(now + 1), "a clean call in between starts the count again");
        b.shared(true, now);
        assertTrue(b.solo(now + SoloBackoff.MIN_NANOS - 1) && !b.solo(now + SoloBackoff.MIN_NANOS));
    }
}
