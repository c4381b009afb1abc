package org.lstmk.dispatch;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmWeights;
import org.lstmk.reference.ReferenceBackend;
import org.lstmk.spi.Availability;
import org.lstmk.spi.BackendOptions;
import org.lstmk.spi.BackendProvider;
import org.lstmk.spi.BackendWeights;
import org.lstmk.spi.BackendWorkspace;
import org.lstmk.spi.Calls;
import org.lstmk.spi.LstmBackend;

/**
 * Test double: a deliberately wrong backend. It is the reference except that its packing swaps the input gate's
 * and the forget gate's rows (reading PyTorch's i,f,g,o as f,i,g,o: the classic gate-order bug), so every result
 * is self-consistent and plausible, yet wrong. Never auto-selected, lowest priority: only tests that force it
 * see it.
 */
public final class FlippedGateTestProvider implements BackendProvider {
    public static final String NAME = "test-flipped-gate";

    @Override public String name() { return NAME; }

    @Override public String description() { return "test double: the reference with the i and f gates swapped"; }

    @Override public int priority() { return -100; }

    @Override public boolean autoSelectable() { return false; }

    @Override public Availability availability() { return Availability.usable("wraps the reference"); }

    @Override public LstmBackend open(BackendOptions options) { return new Backend(); }

    /**
     * A copy of {@code w} with the {@code H} rows of gate i and gate f exchanged in every tensor: what the double
     * computes with. Public so tests can show that the double equals the reference run on these weights.
     */
    public static LstmWeights swapInputAndForgetGates(LstmConfig cfg, LstmWeights w) {
        int hid = cfg.hiddenSize();
        return LstmWeights.of(swapped(w.wIh(), hid, cfg.inputSize()), swapped(w.wHh(), hid, hid),
                w.bIh() == null ? null : swapped(w.bIh(), hid, 1), w.bHh() == null ? null : swapped(w.bHh(), hid, 1));
    }

    private static MemorySegment swapped(MemorySegment s, int hid, int cols) {
        float[] a = new float[4 * hid * cols];
        MemorySegment.copy(s, ValueLayout.JAVA_FLOAT, 0, a, 0, a.length);
        int block = hid * cols; // gate i occupies [0, block), gate f [block, 2·block)
        for (int k = 0; k < block; k++) {
            float t = a[k];
            a[k] = a[block + k];
            a[block + k] = t;
        }
        return MemorySegment.ofArray(a);
    }

    private static final class Backend implements LstmBackend {
        private final ReferenceBackend reference = new ReferenceBackend();

        @Override public String name() { return NAME; }

        @Override public BackendWeights pack(LstmConfig config, LstmWeights weights) {
            return reference.pack(config, swapInputAndForgetGates(config, weights));
        }

        @Override public BackendWorkspace newWorkspace(LstmConfig config, int maxSteps, int maxBatch) {
            return reference.newWorkspace(config, maxSteps, maxBatch);
        }

        @Override public void forward(Calls.Forward call) { reference.forward(call); }

        @Override public void backward(Calls.Backward call) { reference.backward(call); }

        @Override public void cellForward(Calls.CellForward call) { reference.cellForward(call); }

        @Override public void cellBackward(Calls.CellBackward call) { reference.cellBackward(call); }
    }
}
