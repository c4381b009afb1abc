package org.lstmk.simd;

import static org.lstmk.simd.SimdSpecies.FLOAT;
import static org.lstmk.simd.SimdSpecies.ORDER;
import static org.lstmk.simd.SimdSpecies.VB;

import java.lang.foreign.MemorySegment;
import static jdk.incubator.vector.FloatVector.fromMemorySegment;

import jdk.incubator.vector.FloatVector;

/**
 * The plain LSTM cell ({@link Cell}: no peepholes, no clip; {@link FeatureCell} has those) on the tile a
 * micro-kernel has just computed: forward from the pre-activations of each unit block ({@link PlainForwardCell},
 * generated: every activation of a unit block written out in one loop body), backward from the incoming
 * {@code dh}. The equations are those of {@code ReferenceLstm}.
 *
 * <p>Backward runs as a few short passes over the tile, each a loop with at most one activation function, reading
 * and writing the tile where it lies (in L1). No vector crosses a method boundary, not even through a one-line load
 * helper of ours: C2 inlines only a couple of Vector API activation bodies into one compiled method before its
 * inlining budget (NodeCountInliningCutoff) runs out, and a vector passed to or returned from a method that was not
 * inlined is boxed on every call (JFR showed it). The Vector API's own methods are force-inlined and never hit the
 * budget, so code written out in full (generated) is safe too.
 */
final class CellKernels implements Cell {
    private CellKernels() {}

    /** The plain cell: no peepholes, no clip. */
    static final CellKernels PLAIN = new CellKernels();

    private static final FloatVector ONE = FloatVector.broadcast(FLOAT, 1f);

    /**
     * The forward cell on {@code rows × blocks} unit blocks of pre-activations: {@code i,f,o = σ}, {@code g = tanh},
     * {@code c = f·c_prev + i·g} into {@code c[t+1]} (flushed to zero below the smallest normal float: a forget gate
     * under 1 would otherwise decay c into subnormals over long sequences), {@code h = o·tanh(c)} into
     * {@code h[t+1]}; when training, the activations into the gate rows.
     */
    @Override
    public void forwardTile(ForwardStep s, int rows, int blocks, long gOff, long hc, long unitOff) {
        PlainForwardCell.forward(s.tile, s.tileBase, s.tileRow, rows, blocks, s.cs, s.cPrevBase + hc,
                s.cNextBase + hc, s.hs, s.hNextBase + hc, s.hRow, s.gates, s.gBase + gOff, s.gRow, s.save);
    }

    /**
     * The backward cell on {@code rows × blocks} unit blocks whose {@code dh} (without {@code dy}) the kernel
     * stored in {@code s.dh}: {@code dc += dh·o·(1 − tanh²c)},
     * {@code da = (dc·g·i(1−i), dc·c_prev·f(1−f), dc·i(1−g²), dh·tanh(c)·o(1−o))}, {@code dc ← dc·f}.
     *
     * @param g  byte offset of the first unit block in a gate row buffer (relative to the step bases)
     * @param hc byte offset of the first units in a state row buffer (relative to the step bases)
     * @param unitOff byte offset of the first unit block in an interleaved {@code [4Hp]} per-unit vector (unused:
     *                the plain cell has no per-unit weights in backward)
     */
    @Override
    public void backwardTile(BackwardStep s, int rows, int blocks, long g, long hc, long unitOff) {
        cellTanh(s, rows, blocks, hc);
        gateGradients(s, rows, blocks, g, hc);
    }

    /** {@code tanh(c_t)} into the tile, one vector per block. */
    static void cellTanh(BackwardStep s, int rows, int blocks, long hc) {
        MemorySegment cs = s.cs, tile = s.tile;
        for (int r = 0; r < rows; r++) {
            long h = s.cBase + hc + r * s.hRow, t = s.tileBase + r * s.tileRow;
            Activations.activate(cs, h, VB, tile, t, VB, blocks, 0, 0, null, 0, 0);
        }
    }

    private static void gateGradients(BackwardStep s, int rows, int blocks, long g0, long hc0) {
        MemorySegment gates = s.gates, cs = s.cs, da = s.da, dcs = s.dc, tile = s.tile;
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < blocks; j++) {
                long hc = hc0 + r * s.hRow + j * VB, g = g0 + r * s.gRow + j * 4 * VB;
                FloatVector dh = fromMemorySegment(FLOAT, s.dh, hc, ORDER);
                if (s.hasDy) dh = dh.add(fromMemorySegment(FLOAT, s.dy, s.dyBase + hc, ORDER));
                long gb = s.gBase + g;
                FloatVector i = fromMemorySegment(FLOAT, gates, gb, ORDER);
                FloatVector f = fromMemorySegment(FLOAT, gates, gb + VB, ORDER);
                FloatVector gg = fromMemorySegment(FLOAT, gates, gb + 2 * VB, ORDER);
                FloatVector o = fromMemorySegment(FLOAT, gates, gb + 3 * VB, ORDER);
                FloatVector tc = fromMemorySegment(FLOAT, tile, s.tileBase + r * s.tileRow + j * VB, ORDER);
                FloatVector dc = dh.mul(o).fma(ONE.sub(tc.mul(tc)), fromMemorySegment(FLOAT, dcs, hc, ORDER));
                long db = s.daBase + g;
                dc.mul(gg).mul(i.mul(ONE.sub(i))).intoMemorySegment(da, db, ORDER);
                dc.mul(fromMemorySegment(FLOAT, cs, s.cPrevBase + hc, ORDER)).mul(f.mul(ONE.sub(f)))
                        .intoMemorySegment(da, db + VB, ORDER);
                dc.mul(i).mul(ONE.sub(gg.mul(gg))).intoMemorySegment(da, db + 2 * VB, ORDER);
                dh.mul(tc).mul(o.mul(ONE.sub(o))).intoMemorySegment(da, db + 3 * VB, ORDER);
                dc.mul(f).intoMemorySegment(dcs, hc, ORDER);
            }
            // Saturated gates make i(1−i) tiny (down to 1.2e-38, or 0): the products are flushed rather than left to
            // become subnormals, which every later GEMM on da would be slowed by.
            Activations.flushSubnormals(da, s.daBase + g0 + r * s.gRow, 4 * blocks);
            Activations.flushSubnormals(dcs, hc0 + r * s.hRow, blocks);
        }
    }
}
