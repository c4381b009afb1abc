package org.lstmk.simd;

import static org.lstmk.simd.SimdSpecies.FLOAT;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Vectorised sigmoid and tanh for the gate epilogues: inline FMA code, no calls, so the register tile around them
 * survives (the Vector API's {@code EXP}/{@code TANH} call out-of-line stubs that clobber every vector register;
 * {@code ActivationBenchmark} measures both).
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
    static final float SIGMOID_CLAMP = 87f;
    static final float TANH_CLAMP = 9f;

    /** Logistic function {@code 1/(1+e^−x)}. */
    static FloatVector sigmoid(FloatVector x) {
        return gate(x, false);
    }

    /** Hyperbolic tangent. */
    static FloatVector tanh(FloatVector x) {
        return gate(x, true);
    }

    /**
     * {@code tanh(x) = m / (m + 2)} with {@code m = e^{2x} − 1}, or {@code sigmoid(x) = 1 / (e^{−x} + 1)}: one
     * exponential body for both, so that a loop over the four gates of a block inlines one, not two.
     */
    static FloatVector gate(FloatVector x, boolean tanh) {
        FloatVector z = tanh ? x.max(-TANH_CLAMP).min(TANH_CLAMP).mul(2f) : x.neg().max(-SIGMOID_CLAMP).min(SIGMOID_CLAMP);
        FloatVector t = z.fma(LOG2E, ROUNDER);                 // ROUNDER + round(z·log2 e)
        FloatVector n = t.sub(ROUNDER);
        FloatVector r = n.fma(MINUS_LN2_HI, z).add(n.mul(-LN2_LO)); // z − n·ln2, in two parts
        FloatVector u = r.fma(r.mul(poly(r)), r);              // e^r − 1 = r + r²·q(r)
        FloatVector s = pow2(t);
        if (tanh) {
            FloatVector m = s.fma(u, s.sub(1f));               // e^z − 1 = 2^n·(e^r − 1) + (2^n − 1)
            return flushSubnormal(m.div(m.add(2f)));
        }
        return ONE.div(s.fma(u, s).add(1f));                   // 1 / (2^n·(1 + (e^r − 1)) + 1)
    }

    /** Zero for the results below the smallest normal float (tanh x ≈ x for tiny x), so none enters the cell. */
    static FloatVector flushSubnormal(FloatVector v) {
        return v.blend(0f, v.abs().compare(VectorOperators.LT, Float.MIN_NORMAL));
    }

    private static FloatVector poly(FloatVector r) {
        return r.fma(Q4, Q3).fma(r, VQ2).fma(r, VQ1).fma(r, VQ0);
    }

    /** {@code 2^n} from {@code t = ROUNDER + n}: n sits in the low mantissa bits of t. */
    private static FloatVector pow2(FloatVector t) {
        IntVector bits = t.reinterpretAsInts();
        return bits.lanewise(VectorOperators.LSHL, 23).add(0x3F800000).reinterpretAsFloats();
    }
}
