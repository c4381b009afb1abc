package org.lstmk.verify;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmGradients;
import org.lstmk.api.LstmWeights;
import org.lstmk.reference.ReferenceBackend;
import org.lstmk.spi.BackendWeights;
import org.lstmk.spi.BackendWorkspace;
import org.lstmk.spi.Calls;
import org.lstmk.spi.LstmBackend;

/**
 * Test double used directly (not registered): the reference, except that after one kind of call it spoils element
 * 1 of one output by 1% of that output's largest magnitude. Lets a test aim at each output of each call that
 * {@link VerifyingBackend} compares.
 */
final class CorruptingBackend implements LstmBackend {
    static final long SPOILED_INDEX = 1;
    private final ReferenceBackend reference = new ReferenceBackend();
    private final String call;
    private final String output;

    /** @param call "forward", "backward", "cellForward" or "cellBackward"; @param output the name the wrapper uses */
    CorruptingBackend(String call, String output) {
        this.call = call;
        this.output = output;
    }

    @Override public String name() { return "test-corrupting"; }

    @Override public BackendWeights pack(LstmConfig config, LstmWeights weights) { return reference.pack(config, weights); }

    @Override public BackendWorkspace newWorkspace(LstmConfig config, int maxSteps, int maxBatch) {
        return reference.newWorkspace(config, maxSteps, maxBatch);
    }

    @Override public void forward(Calls.Forward f) {
        reference.forward(f);
        int bh = f.batch() * f.config().hiddenSize();
        if (call.equals("forward")) {
            switch (output) {
                case "y" -> spoil(f.y(), (long) f.steps() * bh);
                case "hT" -> spoil(f.hT(), bh);
                case "cT" -> spoil(f.cT(), bh);
                default -> throw new IllegalArgumentException(output);
            }
        }
    }

    @Override public void backward(Calls.Backward b) {
        reference.backward(b);
        LstmConfig cfg = b.config();
        int bh = b.batch() * cfg.hiddenSize();
        if (call.equals("backward")) {
            switch (output) {
                case "dx" -> spoil(b.dx(), (long) b.steps() * b.batch() * cfg.inputSize());
                case "dh0" -> spoil(b.dh0(), bh);
                case "dc0" -> spoil(b.dc0(), bh);
                default -> spoilGradient(b.gradients(), cfg);
            }
        }
    }

    @Override public void cellForward(Calls.CellForward f) {
        reference.cellForward(f);
        int bh = f.batch() * f.config().hiddenSize();
        if (call.equals("cellForward")) {
            switch (output) {
                case "hNext" -> spoil(f.hNext(), bh);
                case "cNext" -> spoil(f.cNext(), bh);
                case "gates" -> spoil(f.gates(), 4L * bh);
                default -> throw new IllegalArgumentException(output);
            }
        }
    }

    @Override public void cellBackward(Calls.CellBackward c) {
        reference.cellBackward(c);
        LstmConfig cfg = c.config();
        int bh = c.batch() * cfg.hiddenSize();
        if (call.equals("cellBackward")) {
            switch (output) {
                case "dx" -> spoil(c.dx(), (long) c.batch() * cfg.inputSize());
                case "dh" -> spoil(c.dh(), bh);
                case "dc" -> spoil(c.dc(), bh);
                default -> spoilGradient(c.gradients(), cfg);
            }
        }
    }

    private void spoilGradient(LstmGradients g, LstmConfig cfg) {
        int rows = cfg.gateRows();
        switch (output) {
            case "dWih" -> spoil(g.dWih(), (long) rows * cfg.inputSize());
            case "dWhh" -> spoil(g.dWhh(), (long) rows * cfg.hiddenSize());
            case "dbIh" -> spoil(g.dbIh(), rows);
            case "dbHh" -> spoil(g.dbHh(), rows);
            default -> throw new IllegalArgumentException(output);
        }
    }

    private static void spoil(MemorySegment s, long n) {
        double max = 0;
        for (long i = 0; i < n; i++) max = Math.max(max, Math.abs(s.getAtIndex(ValueLayout.JAVA_FLOAT, i)));
        float v = s.getAtIndex(ValueLayout.JAVA_FLOAT, SPOILED_INDEX);
        s.setAtIndex(ValueLayout.JAVA_FLOAT, SPOILED_INDEX, (float) (v + 0.01 * max + 1e-3));
    }
}
