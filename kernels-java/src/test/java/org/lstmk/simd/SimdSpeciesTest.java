package org.lstmk.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/** The width forced by {@code -Dlstm.simd.bits} is the width every kernel of this JVM runs at. */
class SimdSpeciesTest {
    @Test
    void theForcedWidthIsUsed() {
        String bits = System.getProperty(SimdSpecies.BITS_PROPERTY);
        int hardware = FloatVector.SPECIES_PREFERRED.vectorBitSize();
        int expected = bits == null ? hardware : Math.min(Integer.parseInt(bits), hardware);
        assertEquals(expected, SimdSpecies.FLOAT.vectorBitSize(), SimdSpecies.describe());
        assertEquals(expected / 32, SimdSpecies.L);
    }

    @Test
    void aWidthThatIsNotOneOfTheThreeIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> SimdSpecies.choose("384"));
        assertThrows(IllegalArgumentException.class, () -> SimdSpecies.choose("wide"));
        assertEquals(128, SimdSpecies.choose("128").vectorBitSize());
    }
}
