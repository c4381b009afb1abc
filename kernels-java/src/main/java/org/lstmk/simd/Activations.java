package org.lstmk.simd;

import static org.lstmk.simd.SimdSpecies.FLOAT;
import static org.lstmk.simd.SimdSpecies.L;
import static org.lstmk.simd.SimdSpecies.ORDER;
import static org.lstmk.simd.SimdSpecies.VB;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorSpecies;
import jdk.incubator.vector.VectorOperators;

/**
 * Vectorised sigmoid and tanh for the gate epilogues, in plain FMA code (the Vector API's {@code EXP}/{@code TANH}
 * are out-of-line stubs; {@code ActivationBenchmark} measures both).
 *
 * <p>Both rest on one exponential kernel: {@code e^x = 2^n · e^r} with {@code n = round(x/ln 2)},
 * {@code |r| ≤ ln2/2} (Cody–Waite reduction with a two-part ln 2), {@code e^r − 1 = r + r²·q(r)} with {@code q}
 * a degree-4 polynomial fitted for relative error (≈5e-9, under 0.1 ulp), and {@code 2^n} built in the exponent
 * bits. Inputs are clamped first, so neither NaN (from ±∞) nor a subnormal can appear:
 * <ul>
 *   <li>{@code sigmoid(x) = 1 / (1 + e^−x)} with {@code x} clamped to {@code [−88, 88]}: results are normal floats
 *       in {@code [1.2e-38, 1]}, or exactly 0 below {@code x ≈ −87.34}, where the true value is subnormal and is
 *       flushed like every other result. So {@code sigmoid(−∞) = 0} and {@code sigmoid(+∞) = 1} exactly, as in the
 *       reference: a gate saturated by an infinite pre-activation has {@code σ(1−σ) = 0} exactly, and its gradient
 *       times that infinity is NaN exactly where IEEE arithmetic (and the reference) put it. (A clamp at −87 left
 *       {@code σ(−∞) ≈ 1.6e-38}, whose product with ∞ was ∞ instead of NaN.) 88 keeps {@code e^88 ≈ 1.65e38}, and
 *       its {@code 2^n} (n = 127), finite;</li>
 *   <li>{@code tanh(x) = m / (m + 2)} with {@code m = e^{2x} − 1} computed as {@code 2^n·(r + r²q) + (2^n − 1)}
 *       (accurate near 0, where tanh x ≈ x), {@code x} clamped to {@code [−9, 9]} (tanh(±9) rounds to ±1), and
 *       results below the smallest normal float (from subnormal inputs) flushed to zero.</li>
 * </ul>
 * The clamps are a compare and a blend each rather than {@code max}/{@code min}, whose Java semantics (NaN, −0) cost
 * six instructions each: the value is the same for every non-NaN input, and a NaN passes both blends and comes out
 * NaN.
 *
 * <p>Accuracy against double-precision {@code ReferenceLstm.sigmoid}/{@code Math.tanh}, measured by
 * {@code ActivationsTest} over a dense sweep of 4.2M points (every binade from 2⁻¹⁴⁹ to 2¹²⁷, ±1e4, ±88, the clamp
 * and reduction edges): sigmoid at most 2.5 ulp, tanh at most 2.5 ulp, wherever the true result is a normal float;
 * NaN in, NaN out; ±∞ saturate.
 */
final class Activations {
    private Activations() {}

    // the exponential's constants; the generated PlainForwardCell uses them too
    static final float LOG2E = 1.44269504088896341f;
    static final float LN2_HI = 0.693359375f;       // few mantissa bits: n·LN2_HI is exact
    static final float LN2_LO = -2.12194440e-4f;    // ln 2 − LN2_HI
    static final float ROUNDER = 12582912f;         // 1.5·2^23: adding it rounds to an integer in the low bits
    static final float Q0 = 0.49999985098838806f;   // q(r) ≈ (e^r − 1 − r)/r²
    static final float Q1 = 0.1666650027036667f;
    static final float Q2 = 0.04166986420750618f;
    static final float Q3 = 0.008370991796255112f;
    static final float Q4 = 0.0013744165189564228f;
    static final FloatVector MINUS_LN2_HI = FloatVector.broadcast(FLOAT, -LN2_HI);
    static final FloatVector VQ2 = FloatVector.broadcast(FLOAT, Q2);
    static final FloatVector VQ1 = FloatVector.broadcast(FLOAT, Q1);
    static final FloatVector VQ0 = FloatVector.broadcast(FLOAT, Q0);
    private static final VectorSpecies<Integer> INT = FLOAT.vectorShape().withLanes(int.class);
    static final int EXPONENT = 0x7F800000;
    static final float SIGMOID_CLAMP = 88f;
    static final float TANH_CLAMP = 9f;

    /**
     * {@code vectors} vectors {@code dst[v] = f_v(src[v])}, or {@code dst[v] = f_v(src[v])·mul[v]} when {@code mul} is
     * not null, vector {@code v} at byte offset {@code off + v·stride} of its segment; {@code f_v} is tanh when
     * {@code (v & tanhMask) == tanhValue}, sigmoid otherwise. So {@code (3, 2)} takes gate rows (i, f, g, o per unit
     * block: tanh on g only), {@code (0, 0)} is tanh throughout and {@code (0, 1)} sigmoid throughout.
     *
     * <p>Both functions go through one expression, {@code y = num / (m + 1 + d)} with {@code m = e^z − d}:
     * tanh is {@code z = 2x}, {@code d = 1}, {@code num = m}; sigmoid is {@code z = −x}, {@code d = 0},
     * {@code num = 1}. Results (after the
     * multiplication) below the smallest normal float are flushed to zero: h of a saturated output gate would
     * otherwise be subnormal and feed every product of the next step.
     *
     * <p>One loop over memory, with the exponential written once inside it: nothing is called per vector (C2 does
     * not inline a body this size into the cell kernels; ActivationBenchmark measured the loop ~10% faster than a
     * call per vector) and
     * no vector crosses a method boundary, where it would be boxed.
     */
    static void activate(MemorySegment src, long srcOff, long srcStride, MemorySegment dst, long dstOff,
                         long dstStride, int vectors, int tanhMask, int tanhValue, MemorySegment mul, long mulOff,
                         long mulStride) {
        for (int v = 0; v < vectors; v++) {
            boolean tanh = (v & tanhMask) == tanhValue;
            float scale = tanh ? 2f : -1f, clamp = tanh ? 2 * TANH_CLAMP : SIGMOID_CLAMP, isTanh = tanh ? 1f : 0f;
            FloatVector x = FloatVector.fromMemorySegment(FLOAT, src, srcOff + v * srcStride, ORDER);
            FloatVector z = x.mul(scale);
            z = z.blend(clamp, z.compare(VectorOperators.GT, clamp)).blend(-clamp, z.compare(VectorOperators.LT, -clamp));
            FloatVector t = z.fma(LOG2E, ROUNDER);                 // ROUNDER + round(z·log2 e)
            FloatVector n = t.sub(ROUNDER);
            FloatVector r = n.fma(MINUS_LN2_HI, z).add(n.mul(-LN2_LO)); // z − n·ln2, in two parts
            FloatVector q = r.fma(Q4, Q3).fma(r, VQ2).fma(r, VQ1).fma(r, VQ0);
            FloatVector u = r.fma(r.mul(q), r);                    // e^r − 1 = r + r²·q(r)
            FloatVector s = t.reinterpretAsInts().lanewise(VectorOperators.LSHL, 23).add(0x3F800000)
                    .reinterpretAsFloats();                        // 2^n
            // tanh: m = e^z − 1 = 2^n·(e^r − 1) + (2^n − 1), y = m / (m + 2); sigmoid: m = e^z = 2^n·(e^r − 1) + 2^n,
            // y = 1 / (m + 1); the same roundings as two separate expressions
            FloatVector m = s.fma(u, s.sub(isTanh));
            FloatVector y = m.fma(isTanh, 1f - isTanh).div(m.add(1f + isTanh));
            if (mul != null) y = y.mul(FloatVector.fromMemorySegment(FLOAT, mul, mulOff + v * mulStride, ORDER));
            IntVector bits = y.reinterpretAsInts();                // flushSubnormals, written out: see there
            bits.and(bits.and(EXPONENT).neg().lanewise(VectorOperators.ASHR, 31))
                    .intoMemorySegment(dst, dstOff + v * dstStride, ORDER);
        }
    }

    /**
     * The gates of a feature cell ({@code FeatureCell}) activated in place, with the cell clip fused in:
     * {@code vectors} vectors, the first {@code per} of every group of {@code stride} bytes starting at {@code off}
     * ({@code per = 4, stride = 4·VB}: all gates of the row; {@code 3}: i, f, g of each block; {@code 1}: o, with
     * {@code off} at the first o), the activation tanh for the third of each group and sigmoid otherwise, as
     * {@link #activate} computes them. When {@code clip}, a vector whose pre-activation {@code a} has
     * {@code bits(clip) <= bits(|a|) <= bits(∞)} (see {@code FeatureCell}) then holds the high or low constant of
     * its kind ({@code a} negative: low), exactly as the separate pass did; NaN is never clamped.
     */
    static void activateGates(MemorySegment m, long off, long stride, int vectors, int per, boolean clip,
                              int clipBits, int sigmoidHigh, int sigmoidLow, int tanhHigh, int tanhLow) {
        int limit = clipBits - 1;
        long o = off, skip = stride - (per - 1) * VB;
        for (int v = 0, k = 0; v < vectors; v++) {
            boolean tanh = k == 2;
            float scale = tanh ? 2f : -1f, clamp = tanh ? 2 * TANH_CLAMP : SIGMOID_CLAMP, isTanh = tanh ? 1f : 0f;
            FloatVector x = FloatVector.fromMemorySegment(FLOAT, m, o, ORDER);
            FloatVector z = x.mul(scale);
            z = z.blend(clamp, z.compare(VectorOperators.GT, clamp)).blend(-clamp, z.compare(VectorOperators.LT, -clamp));
            FloatVector t = z.fma(LOG2E, ROUNDER);
            FloatVector n = t.sub(ROUNDER);
            FloatVector r = n.fma(MINUS_LN2_HI, z).add(n.mul(-LN2_LO));
            FloatVector q = r.fma(Q4, Q3).fma(r, VQ2).fma(r, VQ1).fma(r, VQ0);
            FloatVector u = r.fma(r.mul(q), r);
            FloatVector s = t.reinterpretAsInts().lanewise(VectorOperators.LSHL, 23).add(0x3F800000)
                    .reinterpretAsFloats();
            FloatVector mm = s.fma(u, s.sub(isTanh));
            FloatVector y = mm.fma(isTanh, 1f - isTanh).div(mm.add(1f + isTanh));
            IntVector bits = y.reinterpretAsInts();
            bits = bits.and(bits.and(EXPONENT).neg().lanewise(VectorOperators.ASHR, 31));
            if (clip) {
                int high = tanh ? tanhHigh : sigmoidHigh, low = tanh ? tanhLow : sigmoidLow;
                IntVector a = x.reinterpretAsInts();
                IntVector mag = a.and(0x7FFFFFFF);
                IntVector clamped = mag.neg().add(limit).and(mag.sub(EXPONENT + 1)).lanewise(VectorOperators.ASHR, 31);
                IntVector value = a.lanewise(VectorOperators.ASHR, 31).and(high ^ low).lanewise(VectorOperators.XOR, high);
                bits = bits.lanewise(VectorOperators.XOR, bits.lanewise(VectorOperators.XOR, value).and(clamped));
            }
            bits.intoMemorySegment(m, o, ORDER);
            if (++k == per) {
                k = 0;
                o += skip;
            } else {
                o += VB;
            }
        }
    }

    /** {@code sigmoid} of {@code n} floats (a multiple of L) of {@code x} into {@code y}. */
    static void sigmoid(float[] x, float[] y) {
        each(x, y, false);
    }

    /** {@code tanh} of {@code n} floats (a multiple of L) of {@code x} into {@code y}. */
    static void tanh(float[] x, float[] y) {
        each(x, y, true);
    }

    private static void each(float[] x, float[] y, boolean tanh) {
        MemorySegment xs = MemorySegment.ofArray(x), ys = MemorySegment.ofArray(y);
        activate(xs, 0, VB, ys, 0, VB, x.length / L, 0, tanh ? 0 : 1, null, 0, 0);
    }

    /**
     * Zero for each of {@code vectors} vectors at {@code off} whose magnitude is below the smallest normal float
     * (tanh x ≈ x for tiny x; products of saturated gates), so that none enters a later product. Written with
     * integer operations rather than a compare and blend: C2 left that blend as an allocating Java fallback in
     * these kernels (JFR showed it as nearly all of their allocation).
     */
    static void flushSubnormals(MemorySegment s, long off, int vectors) {
        for (long o = off, end = off + vectors * VB; o < end; o += VB) {
            IntVector bits = IntVector.fromMemorySegment(INT, s, o, ORDER);
            // exponent field 0 (zero or subnormal): (−exponent) >> 31 is 0, otherwise all ones
            bits.and(bits.and(EXPONENT).neg().lanewise(VectorOperators.ASHR, 31)).intoMemorySegment(s, o, ORDER);
        }
    }
}
