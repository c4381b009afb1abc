package org.lstmk.simd;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lstmk.simd.SimdSpecies.L;
import static org.lstmk.simd.SimdSpecies.VB;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Every generated tile shape against a plain double-precision product, with odd K and strides. */
class MicroKernelsTest {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    @Test
    void everyGemmShapeComputesItsTile() {
        for (int mr = 1; mr <= 6; mr++) for (int nv = 1; nv <= 4; nv++) check(mr, nv, false);
    }

    @Test
    void everyBlockShapeComputesItsTile() {
        for (int mr = 1; mr <= 6; mr++) {
            for (int nb = 1; nb <= 4 && mr * 4 * nb <= 24; nb++) check(mr, nb, true);
        }
    }

    /** A: rows 37 floats apart with k contiguous; B: vectors in panels; C rows padded. */
    private static void check(int mr, int cols, boolean blocks, int k) {
        SplittableRandom rnd = new SplittableRandom(mr * 100 + cols * 10 + k);
        int nv = blocks ? 4 * cols : cols;
        long aRow = 4L * 37, aStep = 4;
        long bStep = (blocks ? 4 : 1) * VB + 64;               // a k row of a panel, plus slack
        long bVec = blocks ? bStep * k + 128 : bStep * k + 192; // next block / next panel
        long cRow = (nv + 1) * VB;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = fill(arena.allocate(aRow * mr + 4L * k, 64), rnd);
            MemorySegment b = fill(arena.allocate(bVec * cols + bStep * k + 4 * VB, 64), rnd);
            MemorySegment c = arena.allocate(cRow * mr, 64);
            if (blocks) MicroKernels.blocks(mr, cols, a, 8, aRow, aStep, b, 64, bVec, bStep, k, c, 0, cRow);
            else MicroKernels.gemm(mr, cols, a, 8, aRow, aStep, b, 64, bVec, bStep, k, c, 0, cRow);
            for (int m = 0; m < mr; m++) {
                for (int n = 0; n < nv; n++) {
                    long vec = blocks ? (n / 4) * bVec + (n % 4) * VB : n * bVec;
                    for (int lane = 0; lane < L; lane++) {
                        double e = 0, mag = 0;
                        for (int kk = 0; kk < k; kk++) {
                            double p = (double) a.get(F, 8 + m * aRow + kk * aStep) * b.get(F, 64 + vec + kk * bStep + 4L * lane);
                            e += p;
                            mag += Math.abs(p);
                        }
                        float got = c.get(F, m * cRow + n * VB + 4L * lane);
                        assertTrue(Math.abs(got - e) <= 1e-6 * mag + 1e-30, (blocks ? "blocks" : "gemm") + mr + "x" + cols
                                + " k=" + k + " C[" + m + "][" + n + "][" + lane + "] = " + got + ", expected " + e);
                    }
                }
            }
        }
    }

    private static void check(int mr, int cols, boolean blocks) {
        for (int k : new int[] {1, 7, 33}) check(mr, cols, blocks, k);
    }

    private static MemorySegment fill(MemorySegment s, SplittableRandom rnd) {
        for (long i = 0; i < s.byteSize() / 4; i++) s.set(F, 4 * i, (float) (rnd.nextDouble() * 2 - 1));
        return s;
    }
}
