package org.lstmk.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.lstmk.api.Layout;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmState;
import org.lstmk.api.PackedWeights;
import org.lstmk.verify.Comparison;
import org.lstmk.verify.ConformanceSuite;
import org.lstmk.verify.ConformanceSuite.Case;
import org.lstmk.verify.RandomData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The {@code cuda} backend on a real GPU against the reference: the same cases as the host build, plus shapes large
 * enough to fill many blocks. Every test skips, with the reason, where no usable GPU is present (CI); on a GPU
 * machine they run and assert (bench/gpu/run-device.sh, which also makes a missing GPU a failure: see
 * {@link GpuRequirement}).
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class CudaGpuTest {

    static Stream<Case> cases() {
        return Stream.of(CudaHostConformanceTest.standardCases(), CudaHostConformanceTest.oddSizes(), Stream.of(
                new Case("gpu large", 256, 256, 20, 64, Layout.TIME_MAJOR, true, 1,
                        org.lstmk.api.GradientMode.ACCUMULATE, 501),
                new Case("gpu large batch-major", 128, 300, 12, 33, Layout.BATCH_MAJOR, true, 1,
                        org.lstmk.api.GradientMode.OVERWRITE, 502))).flatMap(s -> s);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void agreesWithTheReference(Case c) {
        GpuRequirement.require();   // per test: a class-level skip would show as "0 tests"
        ConformanceSuite.Outcome o = ConformanceSuite.run(c, CudaProvider.NAME, 1);
        assertTrue(o.passed(), () -> c + " disagrees with the reference on the GPU:\n" + o.results().stream()
                .filter(r -> !r.passed()).map(Comparison.Result::describe).collect(Collectors.joining("\n")));
    }

    /** GPU twin of {@link CudaHostCellFeaturesTest}'s reference cases: peepholes, cell clip and projection on the GPU. */
    @ParameterizedTest(name = "{0}")
    @MethodSource({"org.lstmk.cuda.CudaHostCellFeaturesTest#peepholeAndClipCases",
            "org.lstmk.cuda.CudaHostCellFeaturesTest#projectionCases"})
    void cellFeaturesAgreeWithTheReference(FeatureHarness.Case c) {
        GpuRequirement.require();   // per test: a class-level skip would show as "0 tests"
        FeatureHarness.Outcome o = FeatureHarness.check(c, CudaProvider.NAME);
        assertTrue(o.passed(), () -> c + " disagrees with the reference on the GPU:\n" + o.failures());
        if (c.clip() > 0) {
            CudaHostCellFeaturesTest.assertClampedGatesExact(c, o.got().get("cell.gates"), o.want().get("cell.gates"));
        }
    }

    /** {@link CudaHostPackedTest}'s cases and two large enough to fill many blocks. */
    static Stream<CudaHostPackedTest.Case> packedCases() {
        return Stream.concat(CudaHostPackedTest.cases(), Stream.of(
                new CudaHostPackedTest.Case("gpu large packed", 128, 256, 0, false, 0f,
                        CudaHostPackedTest.lengths(64, 20, 503), true, 1, org.lstmk.api.GradientMode.ACCUMULATE, 503),
                new CudaHostPackedTest.Case("gpu large packed projection+peep+clip", 96, 160, 48, true, 0.5f,
                        CudaHostPackedTest.lengths(40, 12, 504), true, 1, org.lstmk.api.GradientMode.OVERWRITE, 504)));
    }

    /** GPU twin of {@link CudaHostPackedTest}'s reference cases: packed sequences on the GPU. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("packedCases")
    void packedSequencesAgreeWithTheReference(CudaHostPackedTest.Case c) {
        GpuRequirement.require();   // per test: a class-level skip would show as "0 tests"
        CudaHostPackedTest.assertAgrees(c, CudaProvider.NAME);
    }

    @Test
    void gpuAndHostBuildGiveTheSameInference() {
        GpuRequirement.require();   // per test: a class-level skip would show as "0 tests"
        int in = 64, hid = 96, t = 10, b = 24;
        LstmConfig cfg = LstmConfig.of(in, hid);
        RandomData rnd = new RandomData(44);
        var weights = rnd.weights(cfg);
        float[] x = rnd.uniform(t * b * in, 1);
        float[] gpu = inference(CudaProvider.NAME, cfg, weights, x, t, b);
        float[] again = inference(CudaProvider.NAME, cfg, weights, x, t, b);
        assertArrayEquals(gpu, again, "two GPU runs are bit-for-bit equal (no atomics, fixed reduction order)");
        float[] host = inference(CudaHostProvider.NAME, cfg, weights, x, t, b);
        Comparison.Result r = Comparison.compare("y", MemorySegment.ofArray(gpu), MemorySegment.ofArray(host),
                gpu.length, 1e-5, k -> "[" + k + "]");
        assertTrue(r.passed(), r::describe);
    }

    private static float[] inference(String backend, LstmConfig cfg, org.lstmk.api.LstmWeights weights, float[] x,
                                     int t, int b) {
        float[] y = new float[t * b * cfg.hiddenSize()];
        try (Lstm lstm = Lstm.builder(cfg).backend(backend).verify(false).build();
             PackedWeights w = lstm.pack(weights)) {
            lstm.forward(w, t, b, MemorySegment.ofArray(x), (LstmState) null, MemorySegment.ofArray(y), null);
        }
        return y;
    }
}
