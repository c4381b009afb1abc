package org.lstmk.reference;

import java.util.Arrays;

/** Conversions between the double test problems and the float API. */
public final class Floats {
    private Floats() {}

    /** Exact: the problems hold floats widened to double. Null stays null. */
    public static float[] of(double[] d) {
        if (d == null) return null;
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    public static double[] widen(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    static float[] filled(int n, float v) {
        float[] f = new float[n];
        Arrays.fill(f, v);
        return f;
    }
}
