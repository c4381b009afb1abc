package org.lstmk.driver;

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
import org.lstmk.spi.Support;

/**
 * Test doubles with the reference's kernels that declare no native lengths or reverse direction, so that the layer
 * driver takes for them the path it takes for the fast backends: packed ({@link PackedReferenceTestProvider}) or
 * segments ({@link SegmentedReferenceTestProvider}). Compared with the reference itself, which runs lengths and the
 * reverse direction one sequence at a time, they test the driver's paths with kernels exact to double precision.
 * They fail if the driver ever passes padded lengths or a reverse call, or packs for a backend that did not ask.
 */
abstract class ReferenceKernelsTestProvider implements BackendProvider {
    private final String name;
    private final boolean packed;

    ReferenceKernelsTestProvider(String name, boolean packed) {
        this.name = name;
        this.packed = packed;
    }

    @Override public String name() { return name; }

    @Override public String description() {
        return "test double: reference kernels behind the driver's " + (packed ? "packed" : "segment") + " path";
    }

    @Override public int priority() { return -1; }

    @Override public boolean autoSelectable() { return false; }

    @Override public Availability availability() { return Availability.usable("pure Java"); }

    @Override public Support supports(LstmConfig config) { return Support.YES; }

    @Override public LstmBackend open(BackendOptions options) { return new Kernels(); }

    private final class Kernels implements LstmBackend {
        final ReferenceBackend ref = new ReferenceBackend();

        @Override public String name() { return name; }

        @Override public boolean packedSequences() { return packed; }

        @Override public BackendWeights pack(LstmConfig c, LstmWeights w) { return ref.pack(c, w); }

        @Override public BackendWorkspace newWorkspace(LstmConfig c, int t, int b) { return ref.newWorkspace(c, t, b); }

        @Override public void forward(Calls.Forward f) {
            check(f.sequences());
            ref.forward(f);
        }

        @Override public void backward(Calls.Backward b) {
            check(b.sequences());
            ref.backward(b);
        }

        private void check(Calls.Sequences s) {
            if (s.lengths() != null || s.reverse()) throw new AssertionError("driver passed lengths or reverse");
            if (s.batchSizes() != null && !packed) throw new AssertionError("driver packed for a backend that did not ask");
        }

        @Override public void cellForward(Calls.CellForward f) { ref.cellForward(f); }

        @Override public void cellBackward(Calls.CellBackward c) { ref.cellBackward(c); }
    }
}
