package org.lstmk.verify;

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
}
