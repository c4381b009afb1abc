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
 * Test double: the reference's kernels taking packed sequences ({@code Calls.Sequences}, as a backend with
 * {@code packedSequences()}), so that the layer driver sorts, packs and time-reverses for it; compared with the
 * reference itself (which runs lengths and reverse one sequence at a time) it tests the driver's packed path with
 * kernels exact to double precision. Fails if the driver ever passes it padded lengths or a reverse call.
 */
public final class PackedReferenceTestProvider implements BackendProvider {
    public static final String NAME = "test-packed-reference";

    @Override public String name() { return NAME; }

    @Override public String description() { return "test double: reference kernels behind the driver's packed path"; }

    @Override public int priority() { return -1; }

    @Override public boolean autoSelectable() { return false; }

    @Override public Availability availability() { return Availability.usable("pure Java"); }

    @Override public Support supports(LstmConfig config) { return Support.YES; }

    @Override public LstmBackend open(BackendOptions options) { return new Packed(); }

    static final class Packed implements LstmBackend {
        final ReferenceBackend ref = new ReferenceBackend();

        @Override public String name() { return NAME; }

        @Override public boolean packedSequences() { return true; }

        @Override public BackendWeights pack(LstmConfig c, LstmWeights w) { return ref.pack(c, w); }

        @Override public BackendWorkspace newWorkspace(LstmConfig c, int t, int b) { return ref.newWorkspace(c, t, b); }

        @Override public void forward(Calls.Forward f) {
            if (f.lengths() != null || f.reverse()) throw new AssertionError("driver passed lengths or reverse");
            ref.forward(f);
        }

        @Override public void backward(Calls.Backward b) {
            if (b.lengths() != null || b.reverse()) throw new AssertionError("driver passed lengths or reverse");
            ref.backward(b);
        }

        @Override public void cellForward(Calls.CellForward f) { ref.cellForward(f); }

        @Override public void cellBackward(Calls.CellBackward c) { ref.cellBackward(c); }
    }
}
