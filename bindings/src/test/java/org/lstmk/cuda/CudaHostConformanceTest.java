package org.lstmk.cuda;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.lstmk.api.GradientMode;
import org.lstmk.api.Layout;
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

    static void assertPasses(Case c) {
        ConformanceSuite.Outcome o = ConformanceSuite.run(c, CudaHostProvider.NAME, 1);
        assertTrue(o.passed(), () -> c + " disagrees with the reference:\n" + o.results().stream()
                .filter(r -> !r.passed()).map(Comparison.Result::describe).collect(Collectors.joining("\n")));
    }
}
