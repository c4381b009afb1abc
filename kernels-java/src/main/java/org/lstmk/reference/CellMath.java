package org.lstmk.reference;

/**
 * The scalar definitions every backend shares: the activations, and how a clamped gate is recognised.
 *
 * <p><b>Cell clip</b> (ONNX {@code clip}). Each gate pre-activation {@code a} is clamped to {@code [−clip, clip]}
 * before its activation, and the gradient through a clamped gate is 0. Backward sees only the saved activations,
 * so a clamped gate is recognised by its value: every backend stores a gate whose pre-activation is {@code >= clip}
 * (or {@code <= −clip}) as exactly {@link #clampedHigh} (or {@link #clampedLow}) of its gate, the float nearest to
 * the activation of {@code ±clip}, and backward treats a gate holding exactly one of those two values as clamped
 * (so a pre-activation equal to {@code ±clip} counts as clamped, and one within a rounding of it may too: a set of
 * measure zero, documented rather than avoided).
 */
public final class CellMath {
    private CellMath() {}

    /** Logistic function; exactly 0 or 1 for large |v|, never NaN for finite v. */
    public static double sigmoid(double v) {
        if (v >= 0) return 1.0 / (1.0 + Math.exp(-v));
        double e = Math.exp(v);
        return e / (1.0 + e);
    }

    /** Hyperbolic tangent; exactly ±1 for large |v|. */
    public static double tanh(double v) {
        return Math.tanh(v);
    }

    /** Gate {@code gate}'s activation (gate order i, f, g, o: tanh for g, σ otherwise). */
    public static double activation(int gate, double v) {
        return gate == ReferenceLstm.GATE_G ? tanh(v) : sigmoid(v);
    }

    /** The value a gate holds when its pre-activation was clamped to {@code +clip}. */
    public static float clampedHigh(int gate, float clip) {
        return (float) activation(gate, clip);
    }

    /** The value a gate holds when its pre-activation was clamped to {@code −clip}. */
    public static float clampedLow(int gate, float clip) {
        return (float) activation(gate, -clip);
    }

    /** Whether a gate holding {@code value} was clamped, under a clip of {@code clip} (0: no clip). */
    public static boolean clamped(int gate, double value, float clip) {
        if (clip <= 0) return false;
        float v = (float) value;
        return v == clampedHigh(gate, clip) || v == clampedLow(gate, clip);
    }
}
