package org.lstmk.simd;

import static org.lstmk.simd.SimdSpecies.FLOAT;
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
 *   <li>{@code sigmoid(x) = 1 / (1 + e^−x)} with {@code x} clamped to {@code [−87, 87]}: results stay in
 *       {@code [1.6e-38, 1]}, all normal floats;</li>
 *   <li>{@code tanh(x) = m / (m + 2)} with {@code m = e^{2x} − 1} computed as {@code 2^n·(r + r²q) + (2^n − 1)}
 *       (accurate near 0, where tanh x ≈ x), {@code x} clamped to {@code [−9, 9]} (tanh(±9) rounds to ±1), and
 *       results below the smallest normal float (from subnormal inputs) flushed to zero.</li>
 * </ul>
 * Accuracy against double-precision {@code ReferenceLstm.sigmoid}/{@code Math.tanh}, measured by
 * {@code ActivationsTest} over a dense sweep of 4.2M points (every binade from 2⁻¹⁴⁹ to 2¹²⁷, ±1e4, ±88, the clamp
 * and reduction edges): sigmoid at most 2.5 ulp, tanh at most 2.5 ulp, wherever the true result is a normal float;
 * NaN in, NaN out; ±∞ saturate.
 */
final class Activations {
    private Activations() {}

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;       // few mantissa bits: n·LN2_HI is exact
    private static final float LN2_LO = -2.12194440e-4f;    // ln 2 − LN2_HI
    private static final float ROUNDER = 12582912f;         // 1.5·2^23: adding it rounds to an integer in the low bits
    private static final float Q0 = 0.49999985098838806f;   // q(r) ≈ (e^r − 1 − r)/r²
    private static final float Q1 = 0.1666650027036667f;
    private static final float Q2 = 0.04166986420750618f;
    private static final float Q3 = 0.008370991796255112f;
    private static final float Q4 = 0.0013744165189564228f;
    private static final FloatVector ONE = FloatVector.broadcast(FLOAT, 1f);
    private static final FloatVector MINUS_LN2_HI = FloatVector.broadcast(FLOAT, -LN2_HI);
    private static final FloatVector VQ2 = FloatVector.broadcast(FLOAT, Q2);
    private static final FloatVector VQ1 = FloatVector.broadcast(FLOAT, Q1);
    private static final FloatVector VQ0 = FloatVector.broadcast(FLOAT, Q0);
    private static final VectorSpecies<Integer> INT = FLOAT.vectorShape().withLanes(int.class);
    private static final int EXPONENT = 0x7F800000;
    static final float SIGMOID_CLAMP = 87f;
    static final float TANH_CLAMP = 9f;

    /**
     * {@code dst = f(src)}, or for tanh {@code dst = tanh(src)·mul} when {@code mul} is not null (the tanh result
     * flushed to zero below the smallest normal float: h of a saturated output gate would otherwise be subnormal,
     * and feed every product of the next step), for one vector, where
     * {@code f} is tanh or sigmoid: {@code tanh(x) = m / (m + 2)} with {@code m = e^{2x} − 1}, or
     * {@code sigmoid(x) = 1 / (e^{−x} + 1)}.
     *
     * <p>Memory to memory on purpose, with the whole computation in this one body: a method that takes or returns
     * a vector must be inlined by C2 or the vector is boxed on every call, and C2 refuses to inline a method that
     * it has already compiled on its own into a large body ("already compiled into a big method"), which happens
     * to any vector helper hot enough in the interpreter. Called here, the worst case is a call with primitive
     * arguments.
     */
    static void apply(MemorySegment src, long srcOff, MemorySegment dst, long dstOff, boolean tanh,
                      MemorySegment mul, long mulOff) {
        FloatVector x = FloatVector.fromMemorySegment(FLOAT, src, srcOff, ORDER);
        FloatVector z = tanh ? x.max(-TANH_CLAMP).min(TANH_CLAMP).mul(2f) : x.neg().max(-SIGMOID_CLAMP).min(SIGMOID_CLAMP);
        FloatVector t = z.fma(LOG2E, ROUNDER);                 // ROUNDER + round(z·log2 e)
        FloatVector n = t.sub(ROUNDER);
        FloatVector r = n.fma(MINUS_LN2_HI, z).add(n.mul(-LN2_LO)); // z − n·ln2, in two parts
        FloatVector q = r.fma(Q4, Q3).fma(r, VQ2).fma(r, VQ1).fma(r, VQ0);
        FloatVector u = r.fma(r.mul(q), r);                    // e^r − 1 = r + r²·q(r)
        FloatVector s = t.reinterpretAsInts().lanewise(VectorOperators.LSHL, 23).add(0x3F800000).reinterpretAsFloats();
        FloatVector y;
        if (tanh) {
            FloatVector m = s.fma(u, s.sub(1f));               // e^z − 1 = 2^n·(e^r − 1) + (2^n − 1)
            y = m.div(m.add(2f));
            if (mul != null) y = y.mul(FloatVector.fromMemorySegment(FLOAT, mul, mulOff, ORDER));
            IntVector bits = y.reinterpretAsInts();             // flushSubnormals, written out: see there
            y = bits.and(bits.and(EXPONENT).neg().lanewise(VectorOperators.ASHR, 31)).reinterpretAsFloats();
        } else {
            y = ONE.div(s.fma(u, s).add(1f));                  // 1 / (2^n·(1 + (e^r − 1)) + 1)
        }
        y.intoMemorySegment(dst, dstOff, ORDER);
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
        for (long o = 0; o < 4L * x.length; o += VB) apply(xs, o, ys, o, tanh, null, 0);
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
