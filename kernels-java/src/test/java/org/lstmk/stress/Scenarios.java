package org.lstmk.stress;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;
import org.lstmk.api.GradientMode;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmWeights;
import org.lstmk.api.PackedWeights;
import org.lstmk.api.SequenceBatch;
import org.lstmk.api.TrainingWorkspace;
import org.lstmk.verify.RandomData;

/**
 * The ways a server misuses or stresses an engine, each a bounded scenario that fails with a message saying what
 * went wrong: one engine shared by many threads, one packed copy shared by many engines, closing the weights, the
 * engine or a workspace while other threads are inside calls, random shapes. Run for the CPU backends by the
 * kernels-java tests and for every backend present by the bindings module's stress suite.
 *
 * <p>Every result is compared bit for bit with the same engine's (or an equal engine's) single-threaded result: a
 * race shows as a difference, a freed buffer as NaN or a difference, never as a pass.
 */
public final class Scenarios {
    private Scenarios() {}

    /** How long a scenario may wait for its threads before it fails (JUnit's timeout backs this up). */
    static final long WAIT_SECONDS = 120;

    /** One forward problem of a given shape, with its inputs. */
    record Problem(int steps, int batch, float[] x) {}

    static Lstm engine(String backend, LstmConfig cfg, int threads) {
        return Lstm.builder(cfg).backend(backend).verify(false).threads(threads).build();
    }

    private static List<Problem> problems(LstmConfig cfg, int n, long seed) {
        RandomData rnd = new RandomData(seed);
        Random r = new Random(seed);
        List<Problem> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int steps = 1 + r.nextInt(6), batch = 1 + r.nextInt(5);
            out.add(new Problem(steps, batch, rnd.uniform(steps * batch * cfg.inputSize(), 1)));
        }
        return out;
    }

    /** Runs {@code body(thread)} on {@code threads} threads started together; rethrows the first failure. */
    static void together(int threads, ThreadBody body) {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                done.add(pool.submit(() -> {
                    go.await();
                    body.run(id);
                    return null;
                }));
            }
            go.countDown();
            for (Future<?> f : done) {
                try {
                    f.get(WAIT_SECONDS, TimeUnit.SECONDS);
                } catch (java.util.concurrent.ExecutionException e) {
                    if (e.getCause() instanceof Error err) throw err;
                    throw new AssertionError("a thread failed: " + e.getCause(), e.getCause());
                } catch (Exception e) {
                    throw new AssertionError("a thread did not finish in " + WAIT_SECONDS + " s: " + e, e);
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @FunctionalInterface
    interface ThreadBody {
        void run(int thread) throws Exception;
    }

    /**
     * One engine, {@code threads} threads calling forward on it at once with varying T and B: every result equals
     * the engine's own single-threaded result for that input.
     */
    public static void sharedEngine(String backend, LstmConfig cfg, int threads, int callsPerThread, long seed) {
        try (Lstm lstm = engine(backend, cfg, 0);
             PackedWeights w = lstm.pack(new RandomData(seed).weights(cfg))) {
            List<Problem> ps = problems(cfg, threads, seed + 1);
            List<float[]> expected = new ArrayList<>();
            for (Problem p : ps) expected.add(lstm.forward(w, p.steps, p.batch, p.x));
            together(threads, t -> {
                for (int call = 0; call < callsPerThread; call++) {
                    int k = (t + call) % ps.size();
                    Problem p = ps.get(k);
                    assertArrayEquals(expected.get(k), lstm.forward(w, p.steps, p.batch, p.x),
                            backend + ": thread " + t + " call " + call + " (T=" + p.steps + ", B=" + p.batch
                                    + ") on a shared engine differs from the single-threaded result");
                }
            });
        }
    }

    /**
     * {@code engines} engines (one per thread) running on ONE packed copy packed by yet another engine: every
     * result equals that of an engine running its own copy.
     */
    public static void sharedWeights(String backend, LstmConfig cfg, int engines, int callsPerThread, long seed) {
        LstmWeights raw = new RandomData(seed).weights(cfg);
        List<Problem> ps = problems(cfg, engines, seed + 2);
        List<float[]> expected = new ArrayList<>();
        try (Lstm own = engine(backend, cfg, 1); PackedWeights ownCopy = own.pack(raw)) {
            for (Problem p : ps) expected.add(own.forward(ownCopy, p.steps, p.batch, p.x));
        }
        List<Lstm> lstms = new ArrayList<>();
        try (Lstm packer = engine(backend, cfg, 1); PackedWeights shared = packer.pack(raw)) {
            for (int e = 0; e < engines; e++) lstms.add(engine(backend, cfg, 1));
            together(engines, t -> {
                for (int call = 0; call < callsPerThread; call++) {
                    int k = (t + call) % ps.size();
                    Problem p = ps.get(k);
                    assertArrayEquals(expected.get(k), lstms.get(t).forward(shared, p.steps, p.batch, p.x),
                            backend + ": engine " + t + " call " + call + " on shared weights differs");
                }
            });
        } finally {
            lstms.forEach(Lstm::close);
        }
    }

    /** What is closed while calls run. */
    public enum Closing { WEIGHTS, ENGINE }

    /**
     * {@code threads} threads call forward in a loop on one engine and weights (or, for {@link Closing#WEIGHTS},
     * each on its own engine sharing the weights) while the main thread closes the weights or the engine: every call
     * either returns the correct result or throws {@link IllegalStateException} naming what was closed; none
     * returns anything else, and the process does not crash. Returns how many calls completed.
     */
    public static int closeDuringCalls(String backend, LstmConfig cfg, Closing what, int threads, long seed) {
        LstmWeights raw = new RandomData(seed).weights(cfg);
        Problem p = problems(cfg, 1, seed + 3).getFirst();
        p = new Problem(Math.max(p.steps, 4), p.batch, new RandomData(seed + 4).uniform(Math.max(p.steps, 4)
                * p.batch * cfg.inputSize(), 1));
        float[] expected;
        try (Lstm own = engine(backend, cfg, 1); PackedWeights w = own.pack(raw)) {
            expected = own.forward(w, p.steps, p.batch, p.x);
        }
        List<Lstm> lstms = new ArrayList<>();
        Lstm shared = engine(backend, cfg, 1);
        PackedWeights weights = shared.pack(raw);
        for (int t = 0; t < threads; t++) lstms.add(what == Closing.WEIGHTS ? engine(backend, cfg, 1) : shared);
        AtomicInteger completed = new AtomicInteger();
        CountDownLatch running = new CountDownLatch(threads);
        ConcurrentLinkedQueue<String> refused = new ConcurrentLinkedQueue<>();
        AtomicBoolean closed = new AtomicBoolean();
        Problem q = p;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                Lstm lstm = lstms.get(t);
                done.add(pool.submit(() -> {
                    running.countDown();
                    while (true) {
                        float[] y;
                        try {
                            y = lstm.forward(weights, q.steps, q.batch, q.x);
                        } catch (IllegalStateException e) {
                            if (!closed.get()) throw new AssertionError("refused before anything was closed", e);
                            refused.add(e.getMessage());
                            return null;
                        }
                        assertArrayEquals(expected, y, backend + ": a call running while " + what
                                + " was closed returned a wrong result");
                        completed.incrementAndGet();
                    }
                }));
            }
            assertTrue(running.await(WAIT_SECONDS, TimeUnit.SECONDS));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
            while (completed.get() < threads && System.nanoTime() < deadline) Thread.onSpinWait();
            closed.set(true);
            if (what == Closing.WEIGHTS) weights.close(); else shared.close();
            for (Future<?> f : done) {
                try {
                    f.get(WAIT_SECONDS, TimeUnit.SECONDS);
                } catch (java.util.concurrent.ExecutionException e) {
                    if (e.getCause() instanceof Error err) throw err;
                    throw new AssertionError(e.getCause());
                }
            }
        } catch (InterruptedException | java.util.concurrent.TimeoutException e) {
            throw new AssertionError(backend + ": threads did not stop after " + what + " was closed", e);
        } finally {
            pool.shutdownNow();
            weights.close();
            shared.close();
            lstms.forEach(Lstm::close);
        }
        assertEquals(threads, refused.size(), "every thread ends by being refused");
        String expectedMessage = what == Closing.WEIGHTS ? "weights: packed weights have been closed"
                : "engine has been closed";
        for (String m : refused) assertEquals(expectedMessage, m);
        return completed.get();
    }

    /**
     * A training forward and backward on one thread while another closes the workspace: the backward either
     * completes with the gradients of an undisturbed run or throws "workspace: has been closed".
     */
    public static void closeWorkspaceDuringBackward(String backend, LstmConfig cfg, int rounds, long seed) {
        RandomData rnd = new RandomData(seed);
        int steps = 5, batch = 3;
        float[] x = rnd.uniform(steps * batch * cfg.inputSize(), 1);
        float[] dy = rnd.uniform(steps * batch * cfg.sequenceOutputSize(), 1);
        try (Lstm lstm = engine(backend, cfg, 1); PackedWeights w = lstm.pack(rnd.weights(cfg))) {
            float[] expected = backward(lstm, w, null, steps, batch, x, dy);
            for (int round = 0; round < rounds; round++) {
                TrainingWorkspace ws = lstm.newWorkspace(steps, batch);
                CountDownLatch started = new CountDownLatch(1);
                Thread closer = Thread.ofPlatform().start(() -> {
                    try {
                        started.await();
                    } catch (InterruptedException e) {
                        return;
                    }
                    ws.close();
                });
                try {
                    float[] got = backward(lstm, w, ws, steps, batch, x, dy, started);
                    assertArrayEquals(expected, got, backend + ": backward while its workspace was being closed");
                } catch (IllegalStateException e) {
                    assertEquals("workspace: has been closed", e.getMessage());
                } finally {
                    started.countDown();
                    try {
                        closer.join(TimeUnit.SECONDS.toMillis(WAIT_SECONDS));
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    ws.close();
                }
                if (closer.isAlive()) fail(backend + ": closing a workspace did not return");
            }
        }
    }

    private static float[] backward(Lstm lstm, PackedWeights w, TrainingWorkspace given, int steps, int batch,
                                    float[] x, float[] dy) {
        return backward(lstm, w, given, steps, batch, x, dy, new CountDownLatch(0));
    }

    /** dx of a training forward and backward; {@code between} is released after the forward. */
    private static float[] backward(Lstm lstm, PackedWeights w, TrainingWorkspace given, int steps, int batch,
                                    float[] x, float[] dy, CountDownLatch between) {
        LstmConfig cfg = lstm.config();
        TrainingWorkspace ws = given != null ? given : lstm.newWorkspace(steps, batch);
        try {
            lstm.forwardTraining(w, SequenceBatch.of(steps, batch), MemorySegment.ofArray(x), null,
                    MemorySegment.ofArray(new float[steps * batch * cfg.sequenceOutputSize()]), null, ws);
            between.countDown();
            float[] dx = new float[x.length];
            lstm.backward(w, ws, MemorySegment.ofArray(x), MemorySegment.ofArray(dy), null, MemorySegment.ofArray(dx),
                    null, null, GradientMode.OVERWRITE);
            return dx;
        } finally {
            if (given == null) ws.close();
        }
    }

    /** Random configurations and shapes on {@code backend} against the reference; {@code calls} of them. */
    public static void randomShapes(String backend, int calls, long seed) {
        Random r = new Random(seed);
        for (int call = 0; call < calls; call++) {
            LstmConfig cfg = LstmConfig.builder(1 + r.nextInt(19), 1 + r.nextInt(33)).layers(1 + r.nextInt(2))
                    .bidirectional(r.nextBoolean()).build();
            int steps = 1 + r.nextInt(7), batch = 1 + r.nextInt(6);
            RandomData rnd = new RandomData(seed + call);
            var weights = org.lstmk.api.StackWeights.builder(cfg);
            for (int l = 0; l < cfg.layers(); l++) {
                for (int d = 0; d < cfg.directions(); d++) weights.set(l, d, rnd.weights(cfg, l));
            }
            org.lstmk.api.StackWeights sw = weights.build();
            float[] x = rnd.uniform(steps * batch * cfg.inputSize(), 1);
            int[] lengths = new int[batch];
            for (int b = 0; b < batch; b++) lengths[b] = 1 + r.nextInt(steps);
            lengths[r.nextInt(batch)] = steps;
            SequenceBatch seq = SequenceBatch.of(steps, lengths);
            float[] want = forward(org.lstmk.reference.ReferenceBackend.NAME, cfg, sw, seq, x);
            float[] got = forward(backend, cfg, sw, seq, x);
            for (int i = 0; i < want.length; i++) {
                if (!(Math.abs(want[i] - got[i]) <= 2e-5f + 2e-5f * Math.abs(want[i]))) {
                    fail(backend + " vs reference, " + cfg + " T=" + steps + " lengths=" + java.util.Arrays.toString(lengths)
                            + ": y[" + i + "] = " + got[i] + ", expected " + want[i]);
                }
            }
        }
    }

    private static float[] forward(String backend, LstmConfig cfg, org.lstmk.api.StackWeights sw, SequenceBatch seq,
                                   float[] x) {
        try (Lstm lstm = engine(backend, cfg, 0); PackedWeights w = lstm.pack(sw)) {
            float[] y = new float[seq.steps() * seq.batch() * cfg.sequenceOutputSize()];
            lstm.forward(w, seq, MemorySegment.ofArray(x), null, MemorySegment.ofArray(y), null);
            return y;
        }
    }

    /**
     * What the process holds: the JVM's native memory outside the Java heap (FFM arenas, threads' stacks, the JIT's
     * arenas: Native Memory Tracking's committed total minus the heap, which grows with garbage up to -Xmx and says
     * nothing about leaks), live threads, and the native allocations a backend counts itself (the cuda-host
     * library's, which NMT does not see).
     */
    public record Footprint(long offHeapKib, int threads, long nativeAllocations) {
        static Footprint now(LongSupplier nativeAllocations) {
            return new Footprint(nativeOutsideHeapKib(), Thread.activeCount(), nativeAllocations.getAsLong());
        }
    }

    /** Committed native memory outside the heap, from NMT (the stress suite's JVM runs with it on). */
    static long nativeOutsideHeapKib() {
        String summary;
        try {
            var server = java.lang.management.ManagementFactory.getPlatformMBeanServer();
            summary = (String) server.invoke(new javax.management.ObjectName("com.sun.management:type=DiagnosticCommand"),
                    "vmNativeMemory", new Object[] {new String[] {"summary"}}, new String[] {String[].class.getName()});
        } catch (javax.management.JMException e) {
            throw new AssertionError("cannot read Native Memory Tracking: " + e, e);
        }
        var total = java.util.regex.Pattern.compile("Total: reserved=\\d+KB, committed=(\\d+)KB").matcher(summary);
        var heap = java.util.regex.Pattern.compile("Java Heap \\(reserved=\\d+KB, committed=(\\d+)KB").matcher(summary);
        if (!total.find() || !heap.find()) {
            throw new AssertionError("Native Memory Tracking is off: run the JVM with -XX:NativeMemoryTracking=summary ("
                    + summary.strip() + ")");
        }
        return Long.parseLong(total.group(1)) - Long.parseLong(heap.group(1));
    }

    /**
     * {@code calls} forward calls of random small shapes on two engines (after as many to warm up), and
     * {@code cycles} create-pack-call cycles
     * of which every other engine and workspace is never closed (left to the cleaner): afterwards the process holds
     * no more threads and native allocations than before, and its resident memory has grown by at most
     * {@code maxOffHeapGrowthKib}. Returns the footprints before and after.
     */
    public static Footprint[] manyCalls(String backend, LstmConfig cfg, int calls, int cycles, long maxOffHeapGrowthKib,
                                        LongSupplier nativeAllocations, long seed) {
        List<Problem> ps = problems(cfg, 16, seed);
        LstmWeights raw = new RandomData(seed).weights(cfg);
        Runnable round = () -> {
            for (int c = 0; c < cycles; c++) {
                Lstm lstm = engine(backend, cfg, 2);
                PackedWeights w = lstm.pack(raw);
                TrainingWorkspace ws = lstm.newWorkspace(2, 2);
                lstm.forward(w, 2, 2, new float[4 * cfg.inputSize()]);
                if (c % 2 == 0) {
                    ws.close();
                    w.close();
                    lstm.close();
                }
            }
        };
        Footprint before = null;
        try (Lstm a = engine(backend, cfg, 2); Lstm b = engine(backend, cfg, 1); PackedWeights w = a.pack(raw)) {
            // As many calls again before measuring: classes, the JIT (whose compiler arenas stay resident), scratch,
            // the allocator's pools and the cleaner thread settle first; a leak keeps growing after that.
            for (int call = -calls; call < calls; call++) {
                if (call == 0) {
                    round.run();
                    before = settle(nativeAllocations, null);
                }
                Problem p = ps.get(Math.floorMod(call, ps.size()));
                float[] y = (call % 2 == 0 ? a : b).forward(w, p.steps, p.batch, p.x);
                if (y[0] != y[0]) fail(backend + ": NaN at call " + call);
            }
        }
        round.run();
        Footprint after = settle(nativeAllocations, before);
        assertTrue(after.threads <= before.threads + 2, backend + ": threads " + before.threads + " -> " + after.threads);
        assertTrue(after.nativeAllocations <= before.nativeAllocations, backend + ": native allocations left behind: "
                + before.nativeAllocations + " -> " + after.nativeAllocations);
        assertTrue(after.offHeapKib - before.offHeapKib <= maxOffHeapGrowthKib, backend + ": resident memory outside "
                + "the heap grew from " + before.offHeapKib + " to " + after.offHeapKib + " KiB over " + calls + " calls");
        return new Footprint[] {before, after};
    }

    /** Collects garbage until the cleaner has released what unreachable engines held (as far as {@code target}). */
    private static Footprint settle(LongSupplier nativeAllocations, Footprint target) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        Footprint f;
        do {
            System.gc();
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            f = Footprint.now(nativeAllocations);
        } while ((target == null ? System.nanoTime() < deadline - TimeUnit.SECONDS.toNanos(19)
                : f.nativeAllocations > target.nativeAllocations || f.threads > target.threads)
                && System.nanoTime() < deadline);
        return Footprint.now(nativeAllocations);
    }
}
