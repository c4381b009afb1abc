package org.lstmk.simd;

import java.lang.foreign.MemorySegment;
import org.lstmk.spi.BackendWorkspace;

/**
 * What a training forward keeps for backward, for up to {@code maxSteps × maxBatch}, in native memory:
 * <ul>
 *   <li>{@code gates [T][B][4Hp]}: first the input projection {@code W_ih·x + b}, then, step by step, the gate
 *       activations i, f, g, o in the interleaved layout;</li>
 *   <li>{@code hs [T+1][B][H_out padded]}, {@code cs [T+1][B][Hp]}: hidden and cell states, row 0 the initial
 *       state;</li>
 *   <li>{@code ms [T+1][B][Hp]} (projection only): the cell outputs {@code m = o·tanh(c)} of each step, at the row
 *       of the h they are projected to (row 0 unused); without projection m is h and {@link #ms} is {@link #hs};</li>
 *   <li>{@code da [T][B][4Hp]}: the pre-activation gradients of backward, kept for all steps so that the weight
 *       gradients are a few large GEMMs after the time loop (allocated by the first backward).</li>
 * </ul>
 * The inference path uses one of these as scratch, without {@code da}.
 *
 * <p>A packed call of {@code N ≤ T·B} rows ({@link Steps}) uses the same buffers: gate rows packed, the input states
 * of step {@code t} at the rows of its gates, each sequence's final state at row {@code N + r}, the cell outputs
 * {@code m} of step {@code t} at row {@code B + offset(t) + r} (in a uniform call, {@code N = T·B}: the layout
 * above).
 */
final class SimdWorkspace implements BackendWorkspace {
    final GateLayout shape;
    final int maxSteps, maxBatch;
    private final NativeBuffer gates = new NativeBuffer(), hs = new NativeBuffer(), cs = new NativeBuffer(),
            da = new NativeBuffer(), ms = new NativeBuffer();
    private boolean closed;

    SimdWorkspace(GateLayout shape, int maxSteps, int maxBatch) {
        this.shape = shape;
        this.maxSteps = maxSteps;
        this.maxBatch = maxBatch;
        try {
            gates();
            hs();
            cs();
            ms();
        } catch (RuntimeException | OutOfMemoryError e) {
            close();
            throw e;
        }
    }

    MemorySegment gates() { return gates.atLeast((long) maxSteps * maxBatch * shape.gateRowBytes()); }

    MemorySegment hs() { return hs.atLeast((long) (maxSteps + 1) * maxBatch * shape.outRowBytes()); }

    /** The cell outputs m: their own rows with projection, else {@link #hs}. */
    MemorySegment ms() {
        return shape.projection() ? ms.atLeast((long) (maxSteps + 1) * maxBatch * shape.stateRowBytes()) : hs();
    }

    MemorySegment cs() { return cs.atLeast((long) (maxSteps + 1) * maxBatch * shape.stateRowBytes()); }

    MemorySegment da() { return da.atLeast((long) maxSteps * maxBatch * shape.gateRowBytes()); }

    boolean fits(int steps, int batch) { return steps <= maxSteps && batch <= maxBatch; }

    synchronized boolean isClosed() { return closed; }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        gates.close();
        hs.close();
        cs.close();
        da.close();
        ms.close();
    }
}
