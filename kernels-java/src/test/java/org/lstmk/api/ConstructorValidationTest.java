package org.lstmk.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.lstmk.spi.Availability;
import org.lstmk.spi.BackendOptions;

/** The checks of the value types and builders: LstmConfig, LstmWeights, LstmGradients, LstmState, Lstm.Builder. */
class ConstructorValidationTest {
    private static final MemorySegment M = MemorySegment.ofArray(new float[4]);

    @ParameterizedTest
    @ValueSource(ints = {0, -1, Integer.MIN_VALUE})
    void configRejectsNonPositiveSizes(int bad) {
        assertIae("inputSize must be >= 1, got " + bad, () -> LstmConfig.of(bad, 4));
        assertIae("hiddenSize must be >= 1, got " + bad, () -> LstmConfig.of(4, bad));
        assertIae("inputSize must be >= 1, got " + bad, () -> LstmConfig.builder(bad, 4).build());
    }

    @Test
    void configRejectsWeightMatricesBeyondOneBuffer() {
        // 4·H·max(I, H) must fit an int: H = 23170 is the largest square layer (4·23170² = 2 147 395 600).
        assertEquals(23170, LstmConfig.of(23170, 23170).hiddenSize());
        assertIae("4 × hiddenSize × max(inputSize, hiddenSize) = 2147580964 exceeds 2147483647 elements (I=1, H=23171)",
                () -> LstmConfig.of(1, 23171));
        assertIae("4 × hiddenSize × max(inputSize, hiddenSize) = 2400000000 exceeds 2147483647 elements (I=600000, H=1000)",
                () -> LstmConfig.of(600_000, 1000));
    }

    @Test
    void configDefaultsBuilderAndEquality() {
        LstmConfig c = LstmConfig.of(3, 5);
        assertEquals(Layout.TIME_MAJOR, c.layout());
        assertEquals(NonFinitePolicy.PROPAGATE, c.nonFinitePolicy());
        assertEquals(20, c.gateRows());
        LstmConfig b = LstmConfig.builder(3, 5).layout(Layout.BATCH_MAJOR).nonFinitePolicy(NonFinitePolicy.REJECT).build();
        assertEquals(b, b.toBuilder().build());
        assertEquals(b.hashCode(), b.toBuilder().build().hashCode());
        assertNotEquals(c, b);
        assertNotEquals(c, LstmConfig.of(5, 3));
        assertTrue(b.toString().contains("I=3") && b.toString().contains("H=5") && b.toString().contains("BATCH_MAJOR"));
        assertNpe("layout", () -> LstmConfig.builder(3, 5).layout(null));
        assertNpe("nonFinitePolicy", () -> LstmConfig.builder(3, 5).nonFinitePolicy(null));
        assertEquals(MatmulPrecision.FP32, c.matmulPrecision());
        assertFalse(c.toString().contains("matmul"), "the default is not spelled out");
        LstmConfig tf32 = c.toBuilder().matmulPrecision(MatmulPrecision.TF32).build();
        assertNotEquals(c, tf32);
        assertEquals(tf32, tf32.toBuilder().build());
        assertEquals(tf32.hashCode(), tf32.toBuilder().build().hashCode());
        assertEquals(MatmulPrecision.TF32, tf32.layer(0, Layout.BATCH_MAJOR).matmulPrecision(), "a layer keeps it");
        assertTrue(tf32.toString().contains("matmul=TF32"), tf32.toString());
        assertNotEquals(tf32, c.toBuilder().matmulPrecision(MatmulPrecision.BF16).build());
        assertNpe("matmulPrecision", () -> LstmConfig.builder(3, 5).matmulPrecision(null));
    }

    @Test
    void weightsNeedBothMatricesAndBothOrNoBiases() {
        assertNpe("wIh", () -> LstmWeights.of(null, M, M, M));
        assertNpe("wHh", () -> LstmWeights.of(M, null, M, M));
        assertNpe("bIh and bHh must both be given or both be null (no bias); got bIh=null", () -> LstmWeights.of(M, M, null, M));
        assertNpe("bIh and bHh must both be given or both be null (no bias); got bHh=null", () -> LstmWeights.of(M, M, M, null));
        assertNpe("wIh", () -> LstmWeights.of(null, new float[1], null, null));
        assertNpe("wHh", () -> LstmWeights.of(new float[1], null, null, null));
        assertNpe("bIh and bHh must both be given or both be null (no bias); got bIh=null",
                () -> LstmWeights.of(new float[1], new float[1], null, new float[1]));
        assertFalse(LstmWeights.of(M, M, null, null).hasBias());
        assertTrue(LstmWeights.of(M, M, M, M).hasBias());
    }

    @Test
    void gradientsNeedBothMatricesAndBothOrNoBiases() {
        assertNpe("dWih", () -> LstmGradients.of(null, M, M, M));
        assertNpe("dWhh", () -> LstmGradients.of(M, null, M, M));
        assertNpe("dbIh and dbHh must both be given or both be null; got dbIh=null", () -> LstmGradients.of(M, M, null, M));
        assertNpe("dbIh and dbHh must both be given or both be null; got dbHh=null", () -> LstmGradients.of(M, M, M, null));
        assertNpe("dWih", () -> LstmGradients.of(null, new float[1], null, null));
        LstmGradients g = LstmGradients.allocate(LstmConfig.of(3, 5));
        assertEquals(20 * 3 * 4, g.dWih().byteSize());
        assertEquals(20 * 5 * 4, g.dWhh().byteSize());
        assertEquals(20 * 4, g.dbIh().byteSize());
        assertEquals(20 * 4, g.dbHh().byteSize());
    }

    @Test
    void statesAllowMissingComponents() {
        LstmState s = LstmState.of(null, new float[2]);
        assertNull(s.h());
        assertEquals(8, s.c().byteSize());
        LstmState a = LstmState.allocate(3, 5);
        assertEquals(60, a.h().byteSize());
        assertEquals(60, a.c().byteSize());
        assertThrows(IllegalArgumentException.class, () -> LstmState.allocate(1 << 16, 1 << 16));
    }

    @Test
    void builderChecksItsOptions() {
        assertNpe("config", () -> Lstm.builder(null));
        assertNpe("backend", () -> Lstm.builder(LstmConfig.of(1, 1)).backend(null));
        assertNpe("executor", () -> Lstm.builder(LstmConfig.of(1, 1)).executor(null));
        assertIae("threads must be >= 0, got -1", () -> Lstm.builder(LstmConfig.of(1, 1)).threads(-1));
        assertIae("threads must be >= 0 (0 = backend's choice), got -2", () -> new BackendOptions(-2, null));
        assertNpe("detail", () -> new Availability(true, null));
    }

    private static void assertIae(String message, Executable call) {
        assertEquals(message, assertThrows(IllegalArgumentException.class, call).getMessage());
    }

    private static void assertNpe(String message, Executable call) {
        assertEquals(message, assertThrows(NullPointerException.class, call).getMessage());
    }
}
