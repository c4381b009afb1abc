package org.lstmk.verify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@link Tolerance}: floored, growing with the reductions, and still far below the errors of real bugs. */
class ToleranceTest {
    @Test
    void smallCallsGetTheFloor() {
        assertEquals(1e-5, Tolerance.forCall(1, 1, 1, 1));
        assertEquals(1e-5, Tolerance.forCall(2, 2, 2, 2)); // 2e-6·(√4 + √4) = 8e-6 < floor
        assertEquals(2e-6 * (Math.sqrt(8) + Math.sqrt(12)), Tolerance.forCall(3, 5, 4, 3), 1e-12); // above it
    }

    @Test
    void growsWithEveryDimension() {
        double base = Tolerance.forCall(256, 256, 50, 16);
        assertTrue(Tolerance.forCall(512, 256, 50, 16) > base);
        assertTrue(Tolerance.forCall(256, 512, 50, 16) > base);
        assertTrue(Tolerance.forCall(256, 256, 100, 16) > base);
        assertTrue(Tolerance.forCall(256, 256, 50, 32) > base);
    }

    @Test
    void staysTightForLargeCalls() {
        // The demo's shape, and a big one: a wrong gate (errors ≥ 1e-2 of the scale) must still fail.
        assertTrue(Tolerance.forCall(256, 256, 50, 16) < 2e-4, "demo shape: " + Tolerance.forCall(256, 256, 50, 16));
        assertTrue(Tolerance.forCall(4096, 4096, 1000, 256) < 2e-3);
    }
}
