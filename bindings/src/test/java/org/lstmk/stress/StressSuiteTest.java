package org.lstmk.stress;

import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.lstmk.api.BackendInfo;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.cuda.CudaHostProvider;
import org.lstmk.cuda.HostDevice;

/**
 * The stress suite: every {@link Scenarios scenario} on every product backend present in this process (reference,
 * simd, cuda-host, and cuda where a GPU is), bounded in time. What a server does to an embedded engine: one engine
 * and one packed copy shared by many threads, closing things under running calls, random shapes, and many calls
 * and forgotten engines while resident memory, threads and native allocations are watched.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class StressSuiteTest {
    private static final LstmConfig CFG = LstmConfig.of(19, 37);

    static List<String> backends() {
        List<String> names = List.of("reference", "simd", "cuda-host", "cuda");
        return Lstm.backends().stream().filter(BackendInfo::usable).map(BackendInfo::name).filter(names::contains)
                .toList();
    }

    /** The cuda-host build counts its allocations process-wide; the CPU backends' arenas show in RSS. */
    private static LongSupplier nativeAllocations(String backend) {
        return backend.equals(CudaHostProvider.NAME) ? HostDevice::processLiveAllocations : () -> 0;
    }

    /** The host build runs each CUDA thread as a fiber: fewer calls keep it within the suite's few minutes. */
    private static int scale(String backend, int n) {
        return backend.equals(CudaHostProvider.NAME) ? Math.max(1, n / 10) : n;
    }

    @ParameterizedTest
    @MethodSource("backends")
    void sharedEngineAcrossEightThreads(String backend) {
        Scenarios.sharedEngine(backend, CFG, 8, scale(backend, 20), 101);
    }

    @ParameterizedTest
    @MethodSource("backends")
    void sharedWeightsAcrossEightEngines(String backend) {
        Scenarios.sharedWeights(backend, CFG, 8, scale(backend, 20), 102);
    }

    @ParameterizedTest
    @MethodSource("backends")
    void closeWeightsDuringCalls(String backend) {
        for (int round = 0; round < 5; round++) Scenarios.closeDuringCalls(backend, CFG, Scenarios.Closing.WEIGHTS, 8, 103 + round);
    }

    @ParameterizedTest
    @MethodSource("backends")
    void closeEngineDuringCalls(String backend) {
        for (int round = 0; round < 5; round++) Scenarios.closeDuringCalls(backend, CFG, Scenarios.Closing.ENGINE, 8, 113 + round);
    }

    @ParameterizedTest
    @MethodSource("backends")
    void closeWorkspaceDuringBackward(String backend) {
        Scenarios.closeWorkspaceDuringBackward(backend, CFG, scale(backend, 50), 104);
    }

    @ParameterizedTest
    @MethodSource("backends")
    void randomShapes(String backend) {
        Scenarios.randomShapes(backend, scale(backend, 60), 105);
    }

    @ParameterizedTest
    @MethodSource("backends")
    void hundredThousandCallsLeaveNothingBehind(String backend) {
        Scenarios.Footprint[] f = Scenarios.manyCalls(backend, LstmConfig.of(5, 8), scale(backend, 100_000),
                scale(backend, 400), 32 * 1024, nativeAllocations(backend), 106);
        System.out.println("[stress] " + backend + ": before " + f[0] + ", after " + f[1]);
    }
}
