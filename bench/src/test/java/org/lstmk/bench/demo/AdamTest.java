package org.lstmk.bench.demo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class AdamTest {
    @Test
    void firstStepMovesEachParameterByTheLearningRateAgainstTheSignOfItsGradient() {
        // Step 1 with bias correction: m̂ = g, v̂ = g², so Δp = −lr·g/(|g| + ε) = −lr·sign(g) (0 for g = 0).
        float[] p = {1.0f, -2.0f, 0.5f};
        Adam adam = new Adam(List.of(p), 0.01);
        adam.step(List.of(new float[] {0.1f, -0.3f, 0f}));
        assertArrayEquals(new float[] {0.99f, -1.99f, 0.5f}, p, 1e-6f);
        assertEquals(1, adam.steps());
    }

    @Test
    void secondStepAgainstHandComputedMoments() {
        float[] p = {1.0f};
        Adam adam = new Adam(List.of(p), 0.01, 0.9, 0.999, 1e-8);
        adam.step(List.of(new float[] {0.1f}));   // p = 0.99, m = 0.01, v = 1e-5
        adam.step(List.of(new float[] {0.2f}));
        // m = 0.9·0.01 + 0.1·0.2 = 0.029;  v = 0.999·1e-5 + 0.001·0.04 = 4.999e-5
        // m̂ = 0.029 / (1 − 0.81) = 0.1526316;  v̂ = 4.999e-5 / (1 − 0.998001) = 0.02500750
        // Δp = 0.01 · 0.1526316 / (√0.02500750 + 1e-8) = 0.01 · 0.1526316 / 0.1581376 = 0.00965182
        assertEquals(0.99 - 0.00965182, p[0], 2e-7);
    }

    @Test
    void updatesEveryTensorOfTheList() {
        float[] a = {0f, 0f}, b = {3f};
        Adam adam = new Adam(List.of(a, b), 0.5);
        adam.step(List.of(new float[] {-1f, 2f}, new float[] {4f}));
        assertArrayEquals(new float[] {0.5f, -0.5f}, a, 1e-6f);
        assertArrayEquals(new float[] {2.5f}, b, 1e-6f);
    }

    @Test
    void rejectsGradientsOfTheWrongShape() {
        Adam adam = new Adam(List.of(new float[2]), 0.1);
        assertThrows(IllegalArgumentException.class, () -> adam.step(List.of(new float[3])));
        assertThrows(IllegalArgumentException.class, () -> adam.step(List.of(new float[2], new float[2])));
    }

    @Test
    void clipsTheGlobalNormOnlyAboveTheLimit() {
        float[] g1 = {3f}, g2 = {0f, 4f};
        assertEquals(5.0, Adam.clipGlobalNorm(List.of(g1, g2), 1.0), 1e-12);
        assertArrayEquals(new float[] {0.6f}, g1, 1e-7f);
        assertArrayEquals(new float[] {0f, 0.8f}, g2, 1e-7f);
        assertEquals(1.0, Adam.clipGlobalNorm(List.of(g1, g2), 2.0), 1e-6);
        assertArrayEquals(new float[] {0.6f}, g1, 1e-7f);   // under the limit: unchanged
    }
}
