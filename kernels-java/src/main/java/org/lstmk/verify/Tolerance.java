package org.lstmk.verify;

import org.lstmk.api.MatmulPrecision;

/**
 * The relative tolerance ({@link Comparison}'s {@code rtol}) for float32 results against the double reference.
 *
 * <p>A float32 dot product of length {@code K} has a rounding error growing like {@code √K·ε} for random data
 * ({@code ε = 2⁻²⁴ ≈ 6e-8}); an LSTM call has two such reductions: {@code K = I + H} per gate, and
 * {@code K = T·B} when weight gradients sum over steps and batch. The bound is about 30× that typical growth,
 * floored at 1e-5: small enough that a wrong gate, index or sign (errors of order 1e-2 to 1) always fails, wide
 * enough for different summation orders and a few-ulp activation functions.
 */
public final class Tolerance {
    private Tolerance() {}

    /** Tolerance for a call of this size. */
    public static double forCall(int inputSize, int hiddenSize, int steps, int batch) {
        double k = Math.sqrt(inputSize + hiddenSize) + Math.sqrt((double) steps * batch);
        return Math.max(1e-5, 2e-6 * k);
    }

    /**
     * The tolerance for a call whose large matrix products use {@code precision}: {@code rtol} (from
     * {@link #forCall}) for FP32; for TF32 at least {@link #TF32_RTOL}, for BF16 {@link #BF16_RTOL}.
     */
    public static double forPrecision(MatmulPrecision precision, double rtol) {
        return switch (precision) {
            case FP32 -> rtol;
            case TF32 -> Math.max(rtol, TF32_RTOL);
            case BF16 -> Math.max(rtol, BF16_RTOL);
        };
    }

    /** BF16's tolerance, by TF32's reasoning with {@code u = 2⁻⁹}: 8u ≈ 1.6e-2 of the output's range. */
    public static final double BF16_RTOL = 8 * 0x1p-9;

    /**
     * TF32's tolerance: its inputs carry relative errors up to {@code u = 2⁻¹¹}, about {@code u} on average per
     * product (both factors), which averages rather than grows over a sum; 8u ≈ 3.9e-3 of the output's range leaves
     * room for that and still fails a wrong gate, index or sign (errors of order 1e-2 to 1).
     */
    public static final double TF32_RTOL = 8 * 0x1p-11;

    /** Float32's unit roundoff, 2⁻²⁴. */
    public static final double FLOAT_EPSILON = 0x1p-24;

    /**
     * The absolute resolution of a float32 gradient ({@link Comparison}'s {@code floor}): below it, a difference
     * from the double reference says nothing about the backend.
     *
     * <p>Backward sees the gates only as float32 activations, so a saturated gate's derivative {@code σ(1−σ)} (or
     * {@code 1−g²}) is computed from a σ rounded to within {@code ε = 2⁻²⁴} of 1, and is off by up to {@code ε}
     * absolutely: for a pre-activation past ≈17 it is exactly 0 in float32 where the double reference has
     * {@code e^{−17}} or less. Each gate gradient is that derivative times the gradient reaching the gate (at most
     * about {@code upstream}) and each output sums {@code terms} of them, each times a factor of at most
     * {@code factor} (a weight, an input, a state). Where the reference's gradients are below this bound, as with
     * saturating inputs, they are float32 underflow, not a mismatch; where they are above it, as with ordinary data,
     * the bound is far under {@code rtol}·scale and changes nothing.
     *
     * @param upstream largest magnitude of the gradients given to the call ({@code dy, dh_T, dc_T})
     * @param factor   largest magnitude of what the gate gradients are multiplied by (weights, inputs, states, 1)
     * @param terms    most terms summed into one element (gates per input, or rows per weight)
     */
    public static double float32Floor(double upstream, double factor, long terms) {
        return FLOAT_EPSILON * upstream * factor * Math.sqrt(Math.max(1, terms));
    }
}
