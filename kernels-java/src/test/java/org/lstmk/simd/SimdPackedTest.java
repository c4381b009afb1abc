package org.lstmk.simd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.lstmk.api.LstmConfig;
import org.lstmk.spi.BackendOptions;
import org.lstmk.spi.BackendWeights;
import org.lstmk.spi.Calls;
import org.lstmk.verify.Comparison;
import org.lstmk.verify.RandomData;

/**
 * Packed calls ({@link Calls.Sequences#packed}, PyTorch's {@code PackedSequence}) on the SIMD backend directly
 * through the SPI, against the scalar reference given the same packed calls ({@link PackedProblem}): training
 * forward, backward (dx, dh0, dc0, every weight gradient, overwritten and accumulated), inference forward. Lengths
 * include 1 and T; B = 1, 5, 16 and 24 (a step where 23 of 24 sequences end);
 * odd H (1, 7, 17, 33) and I ≠ H; with and without initial state and {@code dh_T, dc_T}; 1 and 2 threads; projection,
 * peepholes and clip alone and together; more rows than one weight-gradient chunk; buffers of a confined arena. And
 * a packed call whose sequences all have T steps is the uniform call, bit for bit; and the optional arguments
 * ({@code dy}, {@code dx}, final states, weight gradients) may be left out.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class SimdPackedTest {
    static final int[] HIDDEN = {1, 7, 17, 33};
    static final int[] INPUT = {3, 16};
    static final int[] STEPS = {1, 9, 20};
    static final int[] BATCH = {1, 5, 16};

    static List<PackedProblem> problems() {
        List<PackedProblem> c = new ArrayList<>();
        long seed = 3000;
        int k = 0;
        // the plain cell over the sizes, the other axes cycled through
        for (int hid : HIDDEN) {
            for (int variant = 0; variant < 3; variant++, k++) {
                int steps = STEPS[(k + variant) % 3], batch = BATCH[k % 3];
                c.add(new PackedProblem("plain", INPUT[k % 2], hid, 0, false, 0f,
                        PackedProblem.randomLengths(steps, batch, seed), k % 3 != 1, k % 2 == 1, 1, false, seed++));
            }
        }
        // cell features: peepholes, clip (saturating), projection, and all three
        for (int hid : new int[] {7, 33}) {
            for (int variant = 0; variant < 4; variant++, k++) {
                boolean peep = variant == 0 || variant == 3;
                float clip = variant == 1 || variant == 3 ? 3f : 0f;
                int proj = variant >= 2 ? (hid == 7 ? 3 : 17) : 0;
                int steps = k % 2 == 0 ? 9 : 20, batch = k % 3 == 0 ? 16 : 5;
                c.add(new PackedProblem("features", INPUT[k % 2], hid, proj, peep, clip,
                        PackedProblem.randomLengths(steps, batch, seed), k % 3 != 2, k % 2 == 0,
                        clip > 0 ? 100 : 1, false, seed++));
            }
        }
        // a step where all but one sequence end (a row tile of both kinds: the cell runs twice on it)
        int[] drop = new int[24];
        Arrays.fill(drop, 3);
        drop[0] = 12;
        c.add(new PackedProblem("drop", 16, 17, 0, false, 0f, drop, true, false, 1, false, seed++));
        c.add(new PackedProblem("drop", 9, 33, 12, true, 2f, drop, true, true, 100, false, seed++));
        // more rows than a weight-gradient chunk, several input projection chunks
        c.add(new PackedProblem("long", 8, 48, 0, true, 0f, new int[] {70, 45, 30, 30, 2}, true, true, 1, false,
                seed++));
        c.add(new PackedProblem("long", 24, 65, 20, false, 0f, PackedProblem.randomLengths(60, 4, seed), false,
                false, 1, false, seed++));
        // several unit blocks per thread
        c.add(new PackedProblem("wide", 40, 100, 0, false, 0f, PackedProblem.randomLengths(12, 16, seed), true,
                true, 1, false, seed++));
        c.add(new PackedProblem("wide", 40, 100, 40, true, 3f, PackedProblem.randomLengths(12, 16, seed), true,
                false, 100, false, seed++));
        // the caller's buffers confined to the calling thread
        c.add(new PackedProblem("confined", 16, 33, 0, false, 0f, PackedProblem.randomLengths(9, 7, seed), true,
                true, 1, true, seed++));
        c.add(new PackedProblem("confined", 5, 17, 9, true, 3f, PackedProblem.randomLengths(9, 7, seed), false,
                false, 100, true, seed++));
        return c;
    }

    static Stream<Arguments> cases() {
        List<Arguments> a = new ArrayList<>();
        for (PackedProblem p : problems()) for (int th : new int[] {1, 2}) a.add(Arguments.of(p, th));
        return a.stream();
    }

    @ParameterizedTest(name = "{0}, threads={1}")
    @MethodSource("cases")
    void agreesWithTheReference(PackedProblem p, int threads) {
        PackedProblem.Inputs in = p.inputs();
        assertAgrees(p, p.runSimd(in, threads, true), p.runReference(in));
    }

    static void assertAgrees(PackedProblem p, PackedProblem.Outputs simd, PackedProblem.Outputs ref) {
        StringBuilder failed = new StringBuilder();
        List<Comparison.Result> results = p.compare(simd, ref);
        for (Comparison.Result r : results) if (!r.passed()) failed.append("\n  ").append(r.describe());
        assertTrue(failed.isEmpty(), "SIMD (" + SimdSpecies.describe() + ") differs from the reference on " + p
                + failed);
        assertEquals(ref.values.size(), results.size());
    }

    /** No {@code dy}, {@code dx}, final states or weight gradients: what is asked for is still right. */
    static Stream<Arguments> optionalCases() {
        List<Arguments> a = new ArrayList<>();
        int k = 0;
        for (PackedProblem p : problems()) if (!p.confined()) a.add(Arguments.of(p, k++ % 2 + 1));
        return a.stream();
    }

    @ParameterizedTest(name = "{0}, threads={1}")
    @MethodSource("optionalCases")
    void optionalArgumentsMayBeLeftOut(PackedProblem p, int threads) {
        PackedProblem.Inputs in = p.inputs();
        assertAgrees(p, p.runSimd(in, threads, true, false), p.runReference(in, false));
    }

    /** Every sequence T steps long: the packed call is the uniform one. */
    static Stream<Arguments> uniformCases() {
        List<Arguments> a = new ArrayList<>();
        long seed = 4000;
        int[][] shapes = {{3, 33, 0, 9, 5}, {16, 64, 0, 6, 16}, {7, 17, 5, 9, 3}, {16, 40, 20, 5, 16}, {4, 7, 0, 1, 1}};
        int k = 0;
        for (int[] s : shapes) {
            int[] lengths = new int[s[4]];
            Arrays.fill(lengths, s[3]);
            boolean features = s[2] > 0;
            PackedProblem p = new PackedProblem("uniform", s[0], s[1], s[2], features, features ? 3f : 0f, lengths,
                    k % 2 == 0, k % 2 == 1, features ? 100 : 1, false, seed++);
            for (int th : new int[] {1, 2}) a.add(Arguments.of(p, th));
            k++;
        }
        return a.stream();
    }

    @ParameterizedTest(name = "{0}, threads={1}")
    @MethodSource("uniformCases")
    void packedWithEveryLengthTIsTheUniformCall(PackedProblem p, int threads) {
        PackedProblem.Inputs in = p.inputs();
        PackedProblem.Outputs packed = p.runSimd(in, threads, true), uniform = p.runSimd(in, threads, false);
        for (String name : uniform.values.keySet()) {
            assertArrayEquals(uniform.get(name), packed.get(name), name + " of " + p);
        }
        assertAgrees(p, packed, p.runReference(in));
    }

    @Test
    void takesPackedSequences() {
        try (SimdBackend backend = new SimdBackend(new BackendOptions(1, null))) {
            assertTrue(backend.packedSequences());
        }
    }

    /** A call whose {@code sequences} is null is uniform. */
    @Test
    void nullSequencesAreUniform() {
        LstmConfig cfg = LstmConfig.of(3, 5);
        RandomData rnd = new RandomData(7);
        float[] x = rnd.uniform(4 * 2 * 3, 1), y = new float[4 * 2 * 5], yNull = new float[4 * 2 * 5];
        try (SimdBackend backend = new SimdBackend(new BackendOptions(1, null));
             BackendWeights w = backend.pack(cfg, rnd.weights(cfg))) {
            backend.forward(new Calls.Forward(cfg, w, 4, 2, MemorySegment.ofArray(x), null, null,
                    MemorySegment.ofArray(y), null, null, null, Calls.Sequences.UNIFORM));
            backend.forward(new Calls.Forward(cfg, w, 4, 2, MemorySegment.ofArray(x), null, null,
                    MemorySegment.ofArray(yNull), null, null, null, null));
        }
        assertArrayEquals(y, yNull);
    }

    @Test
    void rejectsMalformedBatchSizesAndPaddedCalls() {
        LstmConfig cfg = LstmConfig.of(3, 5);
        try (SimdBackend backend = new SimdBackend(new BackendOptions(1, null));
             BackendWeights w = backend.pack(cfg, new RandomData(1).weights(cfg))) {
            MemorySegment x = MemorySegment.ofArray(new float[3 * 4 * 3]), y = MemorySegment.ofArray(new float[3 * 4 * 5]);
            for (int[] sizes : new int[][] {{4, 2}, {3, 3, 2}, {4, 2, 3}, {4, 0, 0}, {5, 4, 4}}) {
                Calls.Forward f = new Calls.Forward(cfg, w, 3, 4, x, null, null, y, null, null, null,
                        Calls.Sequences.packed(sizes));
                assertThrows(IllegalArgumentException.class, () -> backend.forward(f), Arrays.toString(sizes));
            }
            Calls.Forward padded = new Calls.Forward(cfg, w, 3, 4, x, null, null, y, null, null, null,
                    Calls.Sequences.padded(new int[] {3, 3, 2, 1}, false));
            assertThrows(IllegalArgumentException.class, () -> backend.forward(padded));
        }
    }
}
