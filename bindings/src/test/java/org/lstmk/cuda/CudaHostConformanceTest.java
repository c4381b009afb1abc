package org.lstmk.cuda;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.lstmk.api.GradientMode;
import org.lstmk.api.Layout;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmWeights;
import org.lstmk.api.MatmulPrecision;
import org.lstmk.api.PackedWeights;
import org.lstmk.verify.RandomData;
import org.lstmk.verify.Comparison;
import org.lstmk.verify.ConformanceSuite;
import org.lstmk.verify.ConformanceSuite.Case;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The whole CUDA backend (Java launch path + kernels) through the host build, against the scalar reference:
 * training forward, backward, cell forward and backward, every output compared. Never skipped: without the host
 * library these tests fail.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CudaHostConformanceTest {

    static Stream<Case> standardCases() {
        return ConformanceSuite.standardCases().stream();
    }

    /** Sizes around the kernels' tile edges (16 batch rows, 8 and 32 units, 64 GEMM rows and columns), both layouts and modes. */
    static Stream<Case> oddSizes() {
        List<Case> c = new ArrayList<>();
        long seed = 100;
        int[][] shapes = { // I, H, T, B
            {1, 1, 1, 1}, {3, 3, 2, 3}, {17, 17, 3, 17}, {33, 33, 2, 5}, {65, 17, 3, 2}, {5, 65, 2, 3},
            {2, 33, 5, 33}, {64, 16, 1, 16}, {7, 20, 4, 1}};
        for (int[] s : shapes) {
            for (Layout layout : Layout.values()) {
                GradientMode mode = (seed % 2 == 0) ? GradientMode.OVERWRITE : GradientMode.ACCUMULATE;
                c.add(new Case("odd " + layout, s[0], s[1], s[2], s[3], layout, seed % 3 != 0, 1, mode, seed++));
            }
        }
        c.add(new Case("saturating batch-major", 9, 18, 4, 5, Layout.BATCH_MAJOR, true, 100, GradientMode.ACCUMULATE, seed++));
        c.add(new Case("T=1 batch-major", 6, 10, 1, 4, Layout.BATCH_MAJOR, true, 1, GradientMode.OVERWRITE, seed++));
        c.add(new Case("B=1 batch-major", 6, 10, 7, 1, Layout.BATCH_MAJOR, false, 1, GradientMode.ACCUMULATE, seed++));
        return c.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("standardCases")
    void standardCasesAgreeWithTheReference(Case c) {
        assertPasses(c);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("oddSizes")
    void oddSizesAgreeWithTheReference(Case c) {
        assertPasses(c);
    }

    /**
     * TF32 (the projection, dx and weight-gradient GEMMs on tensor cores, emulated): the standard cases on ordinary
     * data and a few odd sizes and features, at {@code Tolerance.forPrecision}'s TF32 bound. Not saturating inputs:
     * TF32's error in a pre-activation grows with |x| (about 2⁻¹¹·Σ|x·w|), which is ~0.1 at |x| = 100 and moves gates
     * near their transition by several percent of the outputs' range (measured: up to 1.5× the bound) — a property of
     * TF32, documented on {@code MatmulPrecision.TF32}, not of these kernels.
     */
    static Stream<Case> tf32Cases() {
        List<Case> c = new ArrayList<>(ConformanceSuite.standardCases().stream().filter(k -> k.inputScale() <= 1).toList());
        c.add(new Case("tf32 odd", 65, 17, 3, 2, Layout.BATCH_MAJOR, true, 1, GradientMode.ACCUMULATE, 301));
        c.add(new Case("tf32 odd 2", 33, 65, 2, 17, Layout.TIME_MAJOR, true, 1, GradientMode.OVERWRITE, 302));
        c.add(new Case("tf32 features", 11, 13, 4, 3, Layout.TIME_MAJOR, true, 1, GradientMode.ACCUMULATE, 303,
                new ConformanceSuite.Features(1, false, true, 5, true, 2.5f)));
        return c.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tf32Cases")
    void tf32CasesAgreeWithTheReferenceAtTheirTolerance(Case c) {
        assertPasses(c, MatmulPrecision.TF32);
    }

    /** BF16: the same cases (ordinary data) at BF16's bound. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("tf32Cases")
    void bf16CasesAgreeWithTheReferenceAtTheirTolerance(Case c) {
        assertPasses(c, MatmulPrecision.BF16);
    }

    /**
     * The setting reaches the kernels: the TF32 and BF16 projections round (each a different y), FP32 gives the FP32
     * kernels' bits.
     */
    @org.junit.jupiter.api.Test
    void reducedPrecisionsChangeTheResultsAndFp32DoesNot() {
        LstmConfig fp32 = LstmConfig.of(24, 16), tf32 = fp32.toBuilder().matmulPrecision(MatmulPrecision.TF32).build(),
                bf16 = fp32.toBuilder().matmulPrecision(MatmulPrecision.BF16).build();
        RandomData rnd = new RandomData(9);
        LstmWeights weights = rnd.weights(fp32);
        float[] x = rnd.uniform(5 * 3 * 24, 1);
        float[][] y = new float[4][];
        LstmConfig[] configs = {fp32, tf32, fp32, bf16};
        for (int i = 0; i < configs.length; i++) {
            try (Lstm lstm = Lstm.builder(configs[i]).backend(CudaHostProvider.NAME).verify(false).build();
                 PackedWeights w = lstm.pack(weights)) {
                y[i] = new float[5 * 3 * 16];
                lstm.forward(w, 5, 3, MemorySegment.ofArray(x), null, MemorySegment.ofArray(y[i]), null);
            }
        }
        org.junit.jupiter.api.Assertions.assertArrayEquals(y[0], y[2], "FP32 twice: the same bits");
        assertTrue(!java.util.Arrays.equals(y[0], y[1]), "TF32 rounds the projection's inputs");
        assertTrue(!java.util.Arrays.equals(y[0], y[3]) && !java.util.Arrays.equals(y[1], y[3]),
                "BF16 rounds them further");
    }

    static void assertPasses(Case c) {
        assertPasses(c, MatmulPrecision.FP32);
    }

    static void assertPasses(Case c, MatmulPrecision precision) {
        ConformanceSuite.Outcome o = ConformanceSuite.run(c, CudaHostProvider.NAME, 1, precision);
        assertTrue(o.passed(), () -> c + " disagrees with the reference:\n" + o.results().stream()
                .filter(r -> !r.passed()).map(Comparison.Result::describe).collect(Collectors.joining("\n")));
    }
}
