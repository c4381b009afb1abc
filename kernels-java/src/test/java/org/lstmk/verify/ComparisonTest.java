package org.lstmk.verify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.lstmk.api.Layout;

/** {@link Comparison}: the pass/fail rule at its edges, the reported errors, and where the worst element is. */
class ComparisonTest {
    private static final double RTOL = 1e-5;
    private static final float NAN = Float.NaN, INF = Float.POSITIVE_INFINITY;

    private static Comparison.Result compare(float[] actual, float[] expected) {
        return Comparison.compare("t", MemorySegment.ofArray(actual), MemorySegment.ofArray(expected), expected.length,
                RTOL, Comparison.matrix("t", expected.length));
    }

    @Test
    void identicalTensorsPassWithZeroError() {
        Comparison.Result r = compare(new float[] {1, -2, 3}, new float[] {1, -2, 3});
        assertTrue(r.passed());
        assertEquals(0, r.maxAbs());
        assertEquals(0, r.maxRel());
        assertEquals(0, r.margin());
        assertTrue(r.describe().startsWith("t: ok, max abs 0"), r.describe());
    }

    @Test
    void aNonFiniteOutputAgainstAFiniteReferenceReportsAnInfiniteError() {
        Comparison.Result r = compare(new float[] {1, NAN}, new float[] {1, 2});
        assertFalse(r.passed());
        assertEquals(Double.POSITIVE_INFINITY, r.maxAbs());
        assertTrue(r.describe().startsWith("t: MISMATCH, max abs Infinity"), r.describe());
    }

    @Test
    void zeroTensorsPass() {
        Comparison.Result r = compare(new float[5], new float[5]);
        assertTrue(r.passed());
        assertEquals(0, r.margin());
    }

    @Test
    void emptyComparisonPasses() {
        Comparison.Result r = Comparison.compare("none", MemorySegment.ofArray(new float[0]),
                MemorySegment.ofArray(new float[0]), 0, RTOL, Comparison.matrix("none", 1));
        assertTrue(r.passed());
        assertEquals(0, r.count());
    }

    @ParameterizedTest(name = "actual {0} vs expected {1}: passes {2}")
    @CsvSource({
        "NaN, NaN, true",                     // NaN where the reference has NaN: the same answer
        "1, NaN, false", "NaN, 1, false", "NaN, 0, false",
        "Infinity, Infinity, true", "-Infinity, -Infinity, true",
        "-Infinity, Infinity, false", "1e30, Infinity, false", "Infinity, 1, false", "NaN, Infinity, false",
        "0, 0, true", "-0.0, 0, true",
        "1e-31, 0, true",                     // the 1e-30 absolute floor forgives flushed subnormals...
        "1e-20, 0, false",                    // ...but nothing more when the whole tensor is zero
        // float underflow: a reference that is subnormal or zero in float against a backend's zero or subnormal
        "0, 1e-39, true", "1e-39, 0, true", "-1e-40, 1e-39, true", "0, -1.4e-45, true",
        // float overflow: the reference's ∞ (a double past Float.MAX_VALUE) and a backend within rtol of the top,
        // either way, with the same sign; anything further, or the other sign, is a mismatch
        "3.4028235e38, Infinity, true", "3.4028e38, Infinity, true", "-3.4028e38, -Infinity, true",
        "Infinity, 3.4028235e38, true", "-Infinity, -3.4028e38, true",
        "3.39e38, Infinity, false", "Infinity, 3.39e38, false", "-3.4028235e38, Infinity, false",
        "-Infinity, 3.4028235e38, false", "NaN, 3.4028235e38, false"})
    void specialValues(float actual, float expected, boolean passes) {
        Comparison.Result r = compare(new float[] {actual}, new float[] {expected});
        assertEquals(passes, r.passed(), r.describe());
        assertEquals(passes ? "ok" : "MISMATCH", r.describe().split(", ")[0].substring(3));
    }

    @Test
    void boundIsRelativeToTheElementPlusTheTensorScale() {
        // Element 1 has reference 0 in a tensor of scale 1: its bound is rtol·(0 + 1) = 1e-5.
        assertTrue(compare(new float[] {1, 0.9e-5f}, new float[] {1, 0}).passed());
        assertFalse(compare(new float[] {1, 1.1e-5f}, new float[] {1, 0}).passed());
        // An element of 100 in the same tensor gets rtol·(100 + 100) = 2e-3.
        assertTrue(compare(new float[] {100.0019f, 0}, new float[] {100, 0}).passed());
        assertFalse(compare(new float[] {100.0021f, 0}, new float[] {100, 0}).passed());
        // The scale ignores non-finite reference elements.
        assertFalse(compare(new float[] {NAN, 1e-3f}, new float[] {NAN, 0}).passed());
        assertTrue(compare(new float[] {INF, 1}, new float[] {INF, 1}).passed());
    }

    /**
     * A caller's float32 floor ({@link Tolerance#float32Floor}) forgives a tensor entirely below it, as gradients
     * through saturated gates are (σ rounded to 1 in float32, so σ(1−σ) = 0 where double has e^−30), and nothing
     * above it.
     */
    @Test
    void aResolutionFloorForgivesOnlyDifferencesBelowIt() {
        float[] reference = {9.4e-14f, -3e-14f, 1e-15f}, float32 = {0, 0, 0};
        double floor = Tolerance.float32Floor(1, 1, 4);
        assertFalse(compare(float32, reference).passed(), "without the floor, a mismatch");
        assertTrue(Comparison.compare("t", MemorySegment.ofArray(float32), MemorySegment.ofArray(reference), 3, RTOL,
                floor, Comparison.matrix("t", 3)).passed());
        assertFalse(Comparison.compare("t", MemorySegment.ofArray(new float[] {0, 1e-6f, 0}),
                MemorySegment.ofArray(reference), 3, RTOL, floor, Comparison.matrix("t", 3)).passed());
        assertEquals(0x1p-24 * 2 * 3 * 10, Tolerance.float32Floor(2, 3, 100), 1e-20);
    }

    @Test
    void reportsMaxErrorsAndTheWorstElement() {
        Comparison.Result r = compare(new float[] {1, 2.5f, 3, 4.01f}, new float[] {1, 2, 3, 4});
        assertFalse(r.passed());
        assertEquals(0.5, r.maxAbs(), 1e-6);
        assertEquals(0.25, r.maxRel(), 1e-6);
        assertEquals("t[0, 1]", r.worstAt());
        assertEquals(2.5, r.actual());
        assertEquals(2.0, r.expected());
        assertEquals(0.5 / (RTOL * (2 + 4)), r.margin(), 1e-3);
        assertTrue(r.describe().startsWith("t: MISMATCH, max abs 0.500, max rel 0.250, worst t[0, 1] = 2.500000 vs 2.000000"),
                r.describe());
    }

    @Test
    void maxRelIgnoresElementsNegligibleAgainstTheTensor() {
        // 1e-5 against 1e-9 is a huge relative error, but on an element 1e-9 of a tensor of scale 1.
        Comparison.Result r = compare(new float[] {1, 1e-5f}, new float[] {1, 1e-9f});
        assertEquals(0, r.maxRel());
        assertTrue(r.passed(), r.describe());
    }

    @Test
    void namesLocations() {
        assertEquals("dWhh[2, 1]", Comparison.matrix("dWhh", 7).apply(15));
        // T=4, B=3, width 5: element (t=2, b=1, k=3).
        assertEquals("y[t=2, b=1, 3]", Comparison.sequence("y", Layout.TIME_MAJOR, 4, 3, 5).apply((2 * 3 + 1) * 5 + 3));
        assertEquals("y[t=2, b=1, 3]", Comparison.sequence("y", Layout.BATCH_MAJOR, 4, 3, 5).apply((1 * 4 + 2) * 5 + 3));
        assertEquals("y[t=3, b=2, 4]", Comparison.sequence("y", Layout.TIME_MAJOR, 4, 3, 5).apply(4 * 3 * 5 - 1));
        assertEquals("y[t=3, b=2, 4]", Comparison.sequence("y", Layout.BATCH_MAJOR, 4, 3, 5).apply(4 * 3 * 5 - 1));
    }

    @Test
    void worstElementOfASequenceIsNamedByStepAndBatch() {
        float[] expected = new float[4 * 3 * 5], actual = new float[expected.length];
        java.util.Arrays.fill(expected, 0.5f);
        java.util.Arrays.fill(actual, 0.5f);
        actual[(1 * 4 + 2) * 5 + 3] = 0.6f; // batch-major (b=1, t=2, k=3)
        Comparison.Result r = Comparison.compare("y", MemorySegment.ofArray(actual), MemorySegment.ofArray(expected),
                expected.length, RTOL, Comparison.sequence("y", Layout.BATCH_MAJOR, 4, 3, 5));
        assertEquals("y[t=2, b=1, 3]", r.worstAt());
        assertFalse(r.passed());
    }
}
