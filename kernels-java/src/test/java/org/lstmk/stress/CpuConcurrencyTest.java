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
