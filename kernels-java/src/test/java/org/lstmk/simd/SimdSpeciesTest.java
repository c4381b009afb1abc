package org.lstmk.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;
import org.lstmk.spi.Availability;

/**
 * The width forced by {@code -Dlstm.simd.bits} is the width every kernel of this JVM runs at; a value that is not a
 * width makes the backend unusable as a configuration error naming the value (through the provider's probe with the
 * value given, since this JVM's width is fixed: the dispatcher's warning is tested in a child JVM by
 * {@code DispatcherTest}).
 */
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
    void aWrongWidthIsAMisconfigurationThatSaysWhy() {
        String reason = "-Dlstm.simd.bits=77: expected 128, 256 or 512";
        Availability a = SimdProvider.probe("77");
        assertFalse(a.usable());
        assertTrue(a.misconfigured(), "the user's error, for the dispatcher to warn about");
        assertEquals(reason, a.detail());
        assertEquals(reason, SimdProvider.invalidBits("77"));
        assertEquals("-Dlstm.simd.bits=wide: expected 128, 256 or 512", SimdProvider.invalidBits("wide"));
        assertEquals(reason, assertThrows(IllegalArgumentException.class, () -> SimdSpecies.choose("77")).getMessage());
        for (String fine : new String[] {null, "", " ", "128", " 256 ", "512"}) {
            assertNull(SimdProvider.invalidBits(fine), "'" + fine + "'");
        }
        Availability usable = SimdProvider.probe("256");
        assertTrue(usable.usable() && !usable.misconfigured(), usable.toString());
    }

    @Test
    void aWidthThatIsNotOneOfTheThreeIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> SimdSpecies.choose("384"));
        assertThrows(IllegalArgumentException.class, () -> SimdSpecies.choose("wide"));
        assertEquals(128, SimdSpecies.choose("128").vectorBitSize());
    }
    @Test
    void theForcedRegisterCountShapesTheTiles() {
        int hardware = FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 512 ? 32 : 16;
        String forced = System.getProperty(SimdSpecies.REGISTERS_PROPERTY);
        assertEquals("16".equals(forced) ? 16 : hardware, SimdSpecies.REGISTERS, SimdSpecies.describe());
        assertEquals(SimdSpecies.REGISTERS == 32 ? 24 : 12, SimdSpecies.MAX_ACCUMULATORS);
        assertEquals(hardware, SimdSpecies.registers(null));
        assertEquals(hardware, SimdSpecies.registers(" "));
        assertEquals(16, SimdSpecies.registers(" 16"));
        assertEquals(hardware, SimdSpecies.registers("32"), "never more than the hardware has");
        assertEquals("-Dlstm.simd.registers must be 16 or 32, was '8'",
                assertThrows(IllegalArgumentException.class, () -> SimdSpecies.registers("8")).getMessage());
    }
}
