package org.lstmk.simd;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.lstmk.api.GradientMode;
import org.lstmk.api.Layout;
import org.lstmk.verify.Comparison;
import org.lstmk.verify.ConformanceSuite;
import org.lstmk.verify.ConformanceSuite.Case;

/**
 * The SIMD backend against the scalar reference through {@link ConformanceSuite}: training forward, backward, cell
 * forward and backward, every output, with the suite's tolerance ({@code Tolerance.forCall}: about 30× the √K·ε
 * growth of float32 sums of length K = I + H and K = T·B, at least 1e-5). Run at the species width of this JVM;
 * the build runs this class at 128, 256 and 512 bits ({@code -Dlstm.simd.bits}).
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class SimdConformanceTest {
    /** The issue's sizes: below, at and above one vector of every width, and odd ones. */
    static final int[] SIZES = {1, 3, 15, 16, 17, 33, 65, 100, 257};

    static List<Case> issueCases() {
        List<Case> c = new ArrayList<>();
        long seed = 100;
        for (int k = 0; k < SIZES.length; k++) {
            int s = SIZES[k];
            int other = SIZES[(k + 4) % SIZES.length];
            boolean odd = k % 2 == 1;
            // T = 1, batch of 3, initial states given
            c.add(new Case("T=1 H=" + s, other, s, 1, 3, Layout.TIME_MAJOR, true, 1, GradientMode.OVERWRITE, seed++));
            // a longer sequence; alternate layout, initial state, gradient mode and batch (row tiles 1, 5+4...)
            int steps = s <= 33 ? 40 : s <= 100 ? 16 : 6;
            c.add(new Case("long H=" + s, s, s, steps, odd ? 9 : 1, odd ? Layout.BATCH_MAJOR : Layout.TIME_MAJOR,
                    !odd, 1, odd ? GradientMode.ACCUMULATE : GradientMode.OVERWRITE, seed++));
        }
        // saturating gates, several tile shapes
        c.add(new Case("saturating B=16", 33, 17, 9, 16, Layout.TIME_MAJOR, true, 100, GradientMode.ACCUMULATE, seed++));
        c.add(new Case("saturating B=7", 16, 65, 5, 7, Layout.BATCH_MAJOR, false, 1e3, GradientMode.OVERWRITE, seed++));
        c.add(new Case("huge inputs B=2", 3, 100, 4, 2, Layout.TIME_MAJOR, true, 1e4, GradientMode.ACCUMULATE, seed++));
        // batch sizes that exercise every row-tile split, and I != H
        c.add(new Case("B=13", 100, 33, 6, 13, Layout.TIME_MAJOR, true, 1, GradientMode.ACCUMULATE, seed++));
        c.add(new Case("B=30", 7, 48, 4, 30, Layout.BATCH_MAJOR, true, 1, GradientMode.OVERWRITE, seed++));
        c.add(new Case("T·B over one chunk", 9, 20, 70, 3, Layout.TIME_MAJOR, true, 1, GradientMode.ACCUMULATE, seed++));
        return c;
    }

    static Stream<Arguments> cases() {
        List<Arguments> a = new ArrayList<>();
        // The conformance matrix (layers, directions, lengths, and the cell features this backend supports).
        for (Case c : ConformanceSuite.supported(ConformanceSuite.matrix(), SimdBackend.NAME)) {
            if (!c.features().equals(ConformanceSuite.Features.PLAIN)) a.add(Arguments.of(c, 2));
        }
        for (Case c : ConformanceSuite.standardCases()) for (int th : new int[] {1, 2}) a.add(Arguments.of(c, th));
        for (Case c : issueCases()) for (int th : new int[] {1, 2}) a.add(Arguments.of(c, th));
        return a.stream();
    }

    @ParameterizedTest(name = "{0}, threads={1}")
    @MethodSource("cases")
    void agreesWithTheReference(Case c, int threads) {
        ConformanceSuite.Outcome o = ConformanceSuite.run(c, SimdBackend.NAME, threads);
        StringBuilder failed = new StringBuilder();
        for (Comparison.Result r : o.results()) if (!r.passed()) failed.append("\n  ").append(r.describe());
        assertTrue(o.passed(), "SIMD (" + SimdSpecies.describe() + ") differs from the reference on " + c + failed);
    }
}
