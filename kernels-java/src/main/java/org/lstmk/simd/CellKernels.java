package org.lstmk.simd;

import static org.lstmk.simd.SimdSpecies.FLOAT;
import static org.lstmk.simd.SimdSpecies.ORDER;
import static org.lstmk.simd.SimdSpecies.VB;

import java.lang.foreign.MemorySegment;
import static jdk.incubator.vector.FloatVector.fromMemorySegment;

import jdk.incubator.vector.FloatVector;

/**
 * The plain LSTM cell ({@link Cell}: no peepholes, no clip; {@link FeatureCell} has those) on the tile a
 * micro-kernel has just computed: forward from the pre-activations of each unit block, backward from the incoming
 * {@code dh}. The equations are those of {@code ReferenceLstm}.
 *
 * <p>The cell runs as a few short passes over the tile, each a loop with at most one activation function, reading
 * and writing the tile where it lies (in L1). No vector crosses a method boundary, not even through a one-line load
 * helper of ours: C2 inlines only a couple of Vector API activation bodies into one compiled method before its
 * inlining budget (NodeCountInliningCutoff) runs out, and a vector passed to or returned from a method that was not
 * inlined is boxed on every call (JFR showed it). Passes over memory keep every compiled method within budget
 * whatever the JIT decides; the Vector API's own methods are force-inlined and never hit the budget.
 */
final class CellKernels implements Cell {
    private CellKernels() {}

    /** The plain cell: no peepholes, no clip. */
    static final CellKernels PLAIN = new CellKernels();

    private static final FloatVector ONE = FloatVector.broadcast(FLOAT, 1f);

    /**
     * The forward cell on {@code rows × blocks} unit blocks: pre-activation = the kernel's {@code h·W_hh} in the
     * tile (plus the second partial product when the step was split) + the input projection at {@code gOff}
     * (relative to the step's gate rows) + the bias at {@code biasOff};
     * {@code i,f,o = σ}, {@code g = tanh}, {@code c = f·c_prev + i·g}, {@code h = o·tanh(c)}.
     *
     * @param hc byte offset of the tile's first units in a state row buffer (relative to the step bases)
     */
    @Override
    public void forwardTile(ForwardStep s, int rows, int blocks, long gOff, long hc, long biasOff) {
        activateGates(s, rows, blocks, gOff, biasOff);
        cellAndHidden(s, rows, blocks, gOff, hc);
    }

    /** Pre-activations (tile parts + projection + bias) through σ (i, f, o) or tanh (g), into the tile. */
    private static void activateGates(ForwardStep s, int rows, int blocks, long gOff, long biasOff) {
        MemorySegment gates = s.gates, tile = s.tile, bias = s.bias;
        int n = 4 * blocks;
        for (int r = 0; r < rows; r++) {
            long g = s.gBase + gOff + r * s.gRow, t = s.tileBase + r * s.tileRow;
            for (int v = 0; v < n; v++) {
                long o = v * VB;
                FloatVector a = fromMemorySegment(FLOAT, gates, g + o, ORDER)
                        .add(fromMemorySegment(FLOAT, bias, biasOff + o, ORDER));
                for (int part = 0, bits = s.parts; bits != 0; part++, bits >>>= 1) {
                    if ((bits & 1) != 0) a = a.add(fromMemorySegment(FLOAT, tile, t + part * s.partStride + o, ORDER));
                }
                a.intoMemorySegment(tile, t + o, ORDER);
            }
            Activations.activate(tile, t, VB, tile, t, VB, n, 3, 2, null, 0, 0);
        }
    }

    /**
     * {@code c = f·c_prev + i·g} into {@code c[t+1]} (flushed to zero below the smallest normal float: a forget
     * gate under 1 would otherwise decay c into subnormals over long sequences), {@code h = o·tanh(c)} into
     * {@code h[t+1]}; when training, the activations into the gate rows.
     */
    private static void cellAndHidden(ForwardStep s, int rows, int blocks, long gOff, long hc) {
        MemorySegment tile = s.tile, cs = s.cs, hs = s.hs, gates = s.gates;
        for (int r = 0; r < rows; r++) {
            long t = s.tileBase + r * s.tileRow, g = s.gBase + gOff + r * s.gRow, h = hc + r * s.hRow;
            for (int j = 0; j < blocks; j++) {
                long tj = t + j * 4 * VB, hj = h + j * VB;
                FloatVector i = fromMemorySegment(FLOAT, tile, tj, ORDER);
                FloatVector f = fromMemorySegment(FLOAT, tile, tj + VB, ORDER);
                FloatVector gg = fromMemorySegment(FLOAT, tile, tj + 2 * VB, ORDER);
                f.fma(fromMemorySegment(FLOAT, cs, s.cPrevBase + hj, ORDER), i.mul(gg))
                        .intoMemorySegment(cs, s.cNextBase + hj, ORDER);
                if (s.save) {
                    long gj = g + j * 4 * VB;
                    i.intoMemorySegment(gates, gj, ORDER);
                    f.intoMemorySegment(gates, gj + VB, ORDER);
                    gg.intoMemorySegment(gates, gj + 2 * VB, ORDER);
                    fromMemorySegment(FLOAT, tile, tj + 3 * VB, ORDER).intoMemorySegment(gates, gj + 3 * VB, ORDER);
                }
            }
            Activations.flushSubnormals(cs, s.cNextBase + h, blocks);
            Activations.activate(cs, s.cNextBase + h, VB, hs, s.hNextBase + h, VB, blocks, 0, 0, tile, t + 3 * VB,
                    4 * VB);
        }
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
