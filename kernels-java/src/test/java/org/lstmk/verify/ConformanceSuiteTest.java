package org.lstmk.verify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.lstmk.api.GradientMode;
import org.lstmk.api.Layout;
import org.lstmk.dispatch.FlippedGateTestProvider;
import org.lstmk.driver.PackedReferenceTestProvider;
import org.lstmk.driver.SegmentedReferenceTestProvider;
import org.lstmk.reference.ReferenceBackend;

/**
 * The harness itself: the reference conforms to itself exactly on every standard case, and a wrong backend (the
 * flipped-gate double) fails every one of them.
 */
class ConformanceSuiteTest {
    private static final List<String> COMPARED = List.of("y", "y (inference)", "hN", "cN", "dx", "dh0", "dc0", "dWih",
            "dWhh", "dbIh", "dbHh", "cell.hNext", "cell.cNext", "cell.gates", "cell.dx", "cell.dh", "cell.dc",
            "cell.dWih", "cell.dWhh", "cell.dbIh", "cell.dbHh");

    @Test
    void referencePassesEveryStandardCaseExactly() {
        for (ConformanceSuite.Case c : ConformanceSuite.standardCases()) {
            ConformanceSuite.Outcome o = ConformanceSuite.run(c, ReferenceBackend.NAME, 1);
            assertTrue(o.passed(), c + ": " + failures(o));
            assertEquals(COMPARED, o.results().stream().map(Comparison.Result::name).toList(), c.toString());
            // Same code, same data, deterministic: not merely within tolerance but identical.
            assertEquals(0.0, o.worst().margin(), c + ": " + o.worst().describe());
        }
    }

    @Test
    void flippedGateBackendFailsEveryStandardCase() {
        for (ConformanceSuite.Case c : ConformanceSuite.standardCases()) {
            ConformanceSuite.Outcome o = ConformanceSuite.run(c, FlippedGateTestProvider.NAME, 1);
            assertFalse(o.passed(), c + " should fail on a gate swap");
            assertFalse(o.worst().passed());
            assertTrue(o.results().stream().anyMatch(r -> !r.passed() && (r.name().equals("y") || r.name().equals("cN"))),
                    c + ": the forward itself must be caught: " + failures(o));
        }
    }

    @Test
    void moreCasesBeyondTheStandardOnes() {
        // No initial state in batch-major with accumulation; and a single unit with a long sequence.
        List<ConformanceSuite.Case> cases = List.of(
                new ConformanceSuite.Case("bm-no-state", 7, 9, 5, 3, Layout.BATCH_MAJOR, false, 1, GradientMode.ACCUMULATE, 101),
                new ConformanceSuite.Case("H=1 long", 3, 1, 33, 2, Layout.TIME_MAJOR, true, 1, GradientMode.OVERWRITE, 102));
        for (ConformanceSuite.Case c : cases) {
            assertTrue(ConformanceSuite.run(c, ReferenceBackend.NAME, 1).passed(), c.toString());
            assertFalse(ConformanceSuite.run(c, FlippedGateTestProvider.NAME, 1).passed(), c.toString());
        }
    }

    @Test
    void standardCasesCoverWhatTheyPromise() {
        List<ConformanceSuite.Case> cases = ConformanceSuite.standardCases();
        assertEquals(cases.size(), cases.stream().map(ConformanceSuite.Case::name).distinct().count(), "unique names");
        assertTrue(cases.stream().anyMatch(c -> c.steps() == 1), "T = 1");
        assertTrue(cases.stream().anyMatch(c -> c.batch() == 1), "B = 1");
        assertTrue(cases.stream().anyMatch(c -> c.layout() == Layout.BATCH_MAJOR), "batch-major");
        assertTrue(cases.stream().anyMatch(c -> c.inputScale() >= 100), "saturating inputs");
        assertTrue(cases.stream().anyMatch(c -> !c.initialState()), "without initial state");
        assertTrue(cases.stream().anyMatch(c -> c.mode() == GradientMode.ACCUMULATE), "accumulate");
        assertTrue(cases.stream().anyMatch(c -> c.mode() == GradientMode.OVERWRITE), "overwrite");
        assertTrue(cases.stream().anyMatch(c -> c.hiddenSize() % 2 == 1 && c.inputSize() % 2 == 1), "odd sizes");
    }

    @Test
    void theMatrixCoversEveryFeatureCombination() {
        List<ConformanceSuite.Case> m = ConformanceSuite.matrix();
        assertEquals(64, m.stream().map(ConformanceSuite.Case::features).distinct().count(),
                "every combination of the six axes");
        for (Layout l : Layout.values()) {
            assertTrue(m.stream().anyMatch(c -> c.layout() == l && c.features().bidirectional() && c.features().varLengths()), l + " with bidir lengths");
        }
        assertTrue(m.stream().anyMatch(c -> c.batch() == 1 && c.features().layers() == 2), "B = 1 stacks");
        assertTrue(m.stream().anyMatch(c -> c.inputScale() >= 100 && c.features().clip() > 0), "saturating clip");
        assertEquals(m.size(), m.stream().map(ConformanceSuite.Case::name).distinct().count(), "unique names");
    }

    @Test
    void referenceConformsToItselfOnTheWholeMatrix() {
        for (ConformanceSuite.Case c : ConformanceSuite.matrix()) {
            ConformanceSuite.Outcome o = ConformanceSuite.run(c, ReferenceBackend.NAME, 1);
            assertEquals(0.0, o.worst().margin(), c + ": " + o.worst().describe());
        }
    }

    @Test
    void theDriversSegmentPathConformsOnTheWholeMatrix() {
        // The reference's kernels behind the driver's sorting, segmenting and reversing (as every fast backend
        // runs), against the reference running lengths and the reverse direction itself.
        for (ConformanceSuite.Case c : ConformanceSuite.matrix()) {
            ConformanceSuite.Outcome o = ConformanceSuite.run(c, SegmentedReferenceTestProvider.NAME, 1);
            assertTrue(o.passed(), c + ": " + failures(o));
        }
    }

    @Test
    void theDriversPackedPathConformsOnTheWholeMatrix() {
        for (ConformanceSuite.Case c : ConformanceSuite.matrix()) {
            ConformanceSuite.Outcome o = ConformanceSuite.run(c, PackedReferenceTestProvider.NAME, 1);
            assertTrue(o.passed(), c + ": " + failures(o));
        }
    }

    @Test
    void aBackendLackingAFeatureIsFilteredOutByName() {
        ConformanceSuite.Case peep = ConformanceSuite.matrix().stream().filter(c -> c.features().peepholes()).findFirst()
                .orElseThrow();
        assertTrue(ConformanceSuite.unsupported(peep, FlippedGateTestProvider.NAME).startsWith("peepholes"),
                ConformanceSuite.unsupported(peep, FlippedGateTestProvider.NAME));
        assertTrue(ConformanceSuite.supported(ConformanceSuite.matrix(), FlippedGateTestProvider.NAME).stream()
                .noneMatch(c -> c.features().peepholes() || c.features().projection() > 0 || c.features().clip() > 0));
    }

    private static String failures(ConformanceSuite.Outcome o) {
        return o.results().stream().filter(r -> !r.passed()).map(Comparison.Result::describe)
                .collect(Collectors.joining("; "));
    }
}
