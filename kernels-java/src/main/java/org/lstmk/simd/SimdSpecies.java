package org.lstmk.simd;

import java.nio.ByteOrder;
import java.util.Locale;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The one float species every SIMD kernel uses, decided once per JVM: the hardware's preferred width, or the width
 * forced by {@code -Dlstm.simd.bits=128|256|512} (so that one machine can test every width). Being a static final
 * constant, it lets the JIT compile each kernel for exactly one vector length.
 */
final class SimdSpecies {
    private SimdSpecies() {}

    /** System property forcing the vector width in bits. */
    static final String BITS_PROPERTY = "lstm.simd.bits";

    static final VectorSpecies<Float> FLOAT = choose(System.getProperty(BITS_PROPERTY));

    /** Floats per vector. */
    static final int L = FLOAT.length();

    /** Bytes per vector. */
    static final long VB = 4L * L;

    /** Byte order of every segment the kernels touch (the API requires native order). */
    static final ByteOrder ORDER = ByteOrder.nativeOrder();

    /** System property forcing the register count tiles are shaped for: 16 (as with AVX2) or 32. */
    static final String REGISTERS_PROPERTY = "lstm.simd.registers";

    /**
     * Vector registers the hardware has (32 with AVX-512, 16 otherwise), whatever the species: a forced narrow
     * species on an AVX-512 machine still has 32 registers, and tile shapes are chosen from this. {@code
     * -Dlstm.simd.registers=16} shapes them for 16 (so that an AVX-512 machine tests an AVX2 machine's tiles).
     */
    static final int REGISTERS = registers(System.getProperty(REGISTERS_PROPERTY));

    /** Accumulators a register tile may hold, leaving room for the B vectors and a broadcast. */
    static final int MAX_ACCUMULATORS = REGISTERS == 32 ? 24 : 12;

    /**
     * The species for {@code bits}, the value of {@code -Dlstm.simd.bits} (null or blank: the hardware's).
     *
     * @throws IllegalArgumentException with {@link SimdProvider#invalidBits}'s reason for a value it rejects (in
     *                                  the static initialiser only when the provider's probe was bypassed)
     */
    static VectorSpecies<Float> choose(String bits) {
        String invalid = SimdProvider.invalidBits(bits);
        if (invalid != null) throw new IllegalArgumentException(invalid);
        if (bits == null || bits.isBlank()) return FloatVector.SPECIES_PREFERRED;
        int b = Integer.parseInt(bits.trim());
        // Wider than the hardware would run in the Vector API's slow Java fallback: use the hardware's width.
        if (b > FloatVector.SPECIES_PREFERRED.vectorBitSize()) return FloatVector.SPECIES_PREFERRED;
        return VectorSpecies.of(float.class, VectorShape.forBitSize(b));
    }

    /**
     * The registers to shape tiles for, given {@code -Dlstm.simd.registers} (null or blank: the hardware's); never
     * more than the hardware has.
     *
     * @throws IllegalArgumentException naming the property when the value is not 16 or 32
     */
    static int registers(String forced) {
        int hardware = FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 512 ? 32 : 16;
        if (forced == null || forced.isBlank()) return hardware;
        return switch (forced.trim()) {
            case "16" -> 16;
            case "32" -> hardware;
            default -> throw new IllegalArgumentException(
                    "-D" + REGISTERS_PROPERTY + " must be 16 or 32, was '" + forced + "'");
        };
    }

    /** E.g. "AVX-512: 16 floats per vector". */
    static String describe() {
        int bits = FLOAT.vectorBitSize();
        String isa = switch (bits) {
            case 512 -> "AVX-512";
            case 256 -> "AVX2";
            case 128 -> "SSE/NEON";
            default -> bits + "-bit";
        };
        String asked = System.getProperty(BITS_PROPERTY);
        String forced = asked == null || asked.isBlank() ? ""
                : asked.trim().equals(Integer.toString(bits)) ? " (forced by -D" + BITS_PROPERTY + ")"
                : " (-D" + BITS_PROPERTY + "=" + asked.trim() + " is wider than this CPU's vectors)";
        String registers = System.getProperty(REGISTERS_PROPERTY) == null ? ""
                : String.format(Locale.ROOT, ", tiles for %d registers (-D%s)", REGISTERS, REGISTERS_PROPERTY);
        return String.format(Locale.ROOT, "%s: %d floats per vector%s%s", isa, L, forced, registers);
    }
}
