package org.lstmk.stress;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.PackedWeights;
import org.lstmk.verify.RandomData;

/**
 * The concurrency model on the CPU backends, scenario by scenario ({@link Scenarios}); the bindings module's stress
 * suite runs the same on every backend present, longer.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class CpuConcurrencyTest {
    /** Odd sizes (H not a multiple of any vector length), big enough for SIMD to use two workers per call. */
    private static final LstmConfig CFG = LstmConfig.of(37, 67);

    @ParameterizedTest
    @ValueSource(strings = {"reference", "simd"})
    void oneEngineSharedByEightThreads(String backend) {
        Scenarios.sharedEngine(backend, CFG, 8, 6, 11);
    }

    @ParameterizedTest
    @ValueSource(strings = {"reference", "simd"})
    void eightEnginesShareOnePackedCopy(String backend) {
        Scenarios.sharedWeights(backend, CFG, 8, 6, 12);
    }

    @ParameterizedTest
    @ValueSource(strings = {"reference", "simd"})
    void closingTheWeightsDuringCalls(String backend) {
        Scenarios.closeDuringCalls(backend, CFG, Scenarios.Closing.WEIGHTS, 4, 13);
    }

    @ParameterizedTest
    @ValueSource(strings = {"reference", "simd"})
    void closingTheEngineDuringCalls(String backend) {
        Scenarios.closeDuringCalls(backend, CFG, Scenarios.Closing.ENGINE, 4, 14);
    }

    @ParameterizedTest
    @ValueSource(strings = {"reference", "simd"})
    void closingTheWorkspaceDuringBackward(String backend) {
        Scenarios.closeWorkspaceDuringBackward(backend, CFG, 20, 15);
    }

    /**
     * A bidirectional layer offers its reverse direction to the caller's executor: one that never runs it, or throws
     * from execute(), must neither hang the call nor change its result (the caller runs the direction itself).
     */
    @ParameterizedTest
    @ValueSource(strings = {"drops", "throws"})
    void aBrokenExecutorCannotHangABidirectionalCall(String broken) {
        LstmConfig cfg = LstmConfig.builder(5, 7).bidirectional(true).build();
        java.util.concurrent.Executor executor = broken.equals("drops") ? task -> { }
                : task -> { throw new OutOfMemoryError("unable to create native thread"); };
        float[] x = new RandomData(8).uniform(4 * 3 * 5, 1);
        var weights = org.lstmk.api.StackWeights.builder(cfg);
        RandomData rnd = new RandomData(9);
        for (int d = 0; d < 2; d++) weights.set(0, d, rnd.weights(cfg, 0));
        var sw = weights.build();
        try (Lstm plain = Lstm.builder(cfg).backend("simd").threads(1).build();
             Lstm lanes = Lstm.builder(cfg).backend("simd").threads(2).executor(executor).build();
             PackedWeights w = plain.pack(sw)) {
            org.junit.jupiter.api.Assertions.assertArrayEquals(plain.forward(w, 4, 3, x), lanes.forward(w, 4, 3, x));
        }
    }

    /**
     * Engines nobody closes: their worker threads end once the engines are unreachable (the cleaner), well before
     * the workers' own idle timeout.
     */
    @Test
    void unreachableEnginesReleaseTheirWorkerThreads() throws InterruptedException {
        Set<Thread> before = simdWorkers();
        List<Lstm> forgotten = new ArrayList<>();
        try (Lstm packer = Lstm.builder(CFG).backend("simd").threads(2).build();
             PackedWeights w = packer.pack(new RandomData(3).weights(CFG))) {
            for (int i = 0; i < 20; i++) {
                forgotten.add(Lstm.builder(CFG).backend("simd").threads(2).build());
                forgotten.getLast().forward(w, 8, 8, new float[8 * 8 * CFG.inputSize()]);   // starts its worker
            }
        }
        Set<Thread> started = simdWorkers();
        started.removeAll(before);
        assertTrue(started.size() >= 20, "each engine started a worker: " + started.size());
        forgotten.clear();   // unreachable, never closed
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);   // the idle timeout is 30 s
        while (started.stream().anyMatch(Thread::isAlive) && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(50);
        }
        long alive = started.stream().filter(Thread::isAlive).count();
        assertTrue(alive == 0, alive + " worker threads of unreachable, unclosed engines are still alive");
    }

    private static Set<Thread> simdWorkers() {
        Set<Thread> s = new HashSet<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) if (t.getName().startsWith("lstmk-simd-")) s.add(t);
        return s;
    }
}
