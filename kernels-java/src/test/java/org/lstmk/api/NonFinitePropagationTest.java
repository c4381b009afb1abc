package org.lstmk.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lstmk.api.CallFixture.B;
import static org.lstmk.api.CallFixture.H;
import static org.lstmk.api.CallFixture.I;
import static org.lstmk.api.CallFixture.T;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/**
 * {@link NonFinitePolicy#PROPAGATE} (the default) does not scan: a NaN goes where IEEE arithmetic takes it, and only
 * there. The rejecting side is in {@link BufferValidationTest}.
 */
class NonFinitePropagationTest {
    @Test
    void nanInOneSequenceReachesAllItsStepsAndNoOtherSequence() {
        try (CallFixture f = new CallFixture(NonFinitePolicy.PROPAGATE)) {
            ApiCall call = f.forward(false);
            MemorySegment x = call.resized("x", 0);
            x.setAtIndex(ValueLayout.JAVA_FLOAT, (0L * B + 1) * I, Float.NaN); // t = 0, b = 1, feature 0
            call = call.with("x", x);
            call.run();
            float[] y = call.read("y"), hT = call.read("last.h"), cT = call.read("last.c");
            for (int t = 0; t < T; t++) {
                for (int j = 0; j < H; j++) {
                    assertTrue(Float.isFinite(y[(t * B) * H + j]), "sequence 0 untouched by the NaN, t=" + t);
                    assertTrue(Float.isNaN(y[(t * B + 1) * H + j]), "sequence 1 is NaN from step 0 on, t=" + t);
                }
            }
            for (int j = 0; j < H; j++) {
                assertTrue(Float.isFinite(hT[j]) && Float.isFinite(cT[j]), "final state of sequence 0");
                assertTrue(Float.isNaN(hT[H + j]) && Float.isNaN(cT[H + j]), "final state of sequence 1");
            }
        }
    }

    @Test
    void infinityInAnInputIsComputedWithNotRejected() {
        try (CallFixture f = new CallFixture(NonFinitePolicy.PROPAGATE)) {
            ApiCall call = f.cellForward();
            MemorySegment c = call.resized("prev.c", 0);
            c.setAtIndex(ValueLayout.JAVA_FLOAT, 0, Float.POSITIVE_INFINITY);
            call = call.with("prev.c", c);
            call.run();
            // c' = f·∞ + i·g = ∞ (f > 0), and h' = o·tanh(∞) = o: finite.
            assertEquals(Float.POSITIVE_INFINITY, call.read("next.c")[0]);
            assertTrue(Float.isFinite(call.read("next.h")[0]), "h = o·tanh(∞) = o");
        }
    }

    @Test
    void weightsWithNaNArePackedAndPoisonWhatTheyReach() {
        try (CallFixture f = new CallFixture(NonFinitePolicy.PROPAGATE)) {
            float[] wHh = f.rawWeights.wHh().toArray(ValueLayout.JAVA_FLOAT);
            wHh[0] = Float.NaN; // W_hh[i-gate row of unit 0, column 0]
            try (PackedWeights w = f.lstm.pack(LstmWeights.of(f.rawWeights.wIh(), MemorySegment.ofArray(wHh),
                    f.rawWeights.bIh(), f.rawWeights.bHh()))) {
                float[] y = f.lstm.forward(w, T, B, new float[T * B * I]);
                // Step 0: NaN·h0 = NaN·0 = NaN (IEEE, as in PyTorch) poisons unit 0's input gate only, so only h[0].
                for (int b = 0; b < B; b++) {
                    assertTrue(Float.isNaN(y[b * H]), "step 0, unit 0, b=" + b);
                    for (int j = 1; j < H; j++) assertTrue(Float.isFinite(y[b * H + j]), "step 0, unit " + j);
                }
                // Step 1 on: h[0] = NaN enters every gate through W_hh: every unit is NaN.
                for (int k = B * H; k < y.length; k++) assertTrue(Float.isNaN(y[k]), "y[" + k + "] after step 0");
            }
        }
    }
}
