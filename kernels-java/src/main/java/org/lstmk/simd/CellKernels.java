package org.lstmk.simd;

import static org.lstmk.simd.SimdSpecies.FLOAT;
import static org.lstmk.simd.SimdSpecies.ORDER;
import static org.lstmk.simd.SimdSpecies.VB;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

/**
 * The LSTM cell on the tile a micro-kernel has just computed, forward from the four pre-activations of each unit
 * block, backward from the incoming {@code dh}. The tile is read back from where the kernel left it (still in
 * L1); see {@code MicroKernelGenerator} for why the cell is not inlined into the kernel. The equations are those
 * of {@code ReferenceLstm}.
 */
final class CellKernels {
    private CellKernels() {}

    private static final FloatVector ONE = FloatVector.broadcast(FLOAT, 1f);

    private static FloatVector load(MemorySegment s, long off) {
        return FloatVector.fromMemorySegment(FLOAT, s, off, ORDER);
    }

    /**
     * The forward cell on {@code rows × blocks} unit blocks: pre-activation = the kernel's {@code h·W_hh} in the
     * tile + the input projection at {@code gOff} (relative to the step's gate rows) + the bias at {@code biasOff}.
     */
    static void forwardTile(ForwardStep s, int rows, int blocks, long gOff, long hc, long biasOff) {
        MemorySegment gates = s.gates, tile = s.tile, bias = s.bias;
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < blocks; j++) {
                long gj = s.gBase + gOff + r * s.gRow + j * 4 * VB;
                long tj = s.tileBase + r * s.tileRow + j * 4 * VB;
                long bj = biasOff + j * 4 * VB;
                FloatVector ai = load(tile, tj).add(load(gates, gj)).add(load(bias, bj));
                FloatVector af = load(tile, tj + VB).add(load(gates, gj + VB)).add(load(bias, bj + VB));
                FloatVector ag = load(tile, tj + 2 * VB).add(load(gates, gj + 2 * VB)).add(load(bias, bj + 2 * VB));
                FloatVector ao = load(tile, tj + 3 * VB).add(load(gates, gj + 3 * VB)).add(load(bias, bj + 3 * VB));
                forward(s, ai, af, ag, ao, gj, hc + r * s.hRow + j * VB);
            }
        }
    }

    /**
     * The backward cell on {@code rows × blocks} unit blocks whose {@code dh} the kernel stored in {@code s.dh};
     * offsets relative to the step bases.
     */
    static void backwardTile(BackwardStep s, int rows, int blocks, long g, long hc) {
        MemorySegment dh = s.dh;
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < blocks; j++) {
                long hcj = hc + r * s.hRow + j * VB;
                backward(s, load(dh, hcj), g + r * s.gRow + j * 4 * VB, hcj);
            }
        }
    }

    /**
     * {@code i,f,o = σ(a), g = tanh(a)}, {@code c = f·c_prev + i·g}, {@code h = o·tanh(c)}.
     *
     * @param g  byte offset of the unit block's four gate vectors in {@code s.gates}
     * @param hc byte offset of the units in a state row buffer (relative to the step bases)
     */
    private static void forward(ForwardStep s, FloatVector ai, FloatVector af, FloatVector ag, FloatVector ao, long g, long hc) {
        FloatVector i = Activations.sigmoid(ai);
        FloatVector f = Activations.sigmoid(af);
        FloatVector gg = Activations.tanh(ag);
        FloatVector o = Activations.sigmoid(ao);
        FloatVector c = f.fma(load(s.cs, s.cPrevBase + hc), i.mul(gg));
        FloatVector h = o.mul(Activations.tanh(c));
        c.intoMemorySegment(s.cs, s.cNextBase + hc, ORDER);
        h.intoMemorySegment(s.hs, s.hNextBase + hc, ORDER);
        if (s.save) {
            MemorySegment gates = s.gates;
            i.intoMemorySegment(gates, g, ORDER);
            f.intoMemorySegment(gates, g + VB, ORDER);
            gg.intoMemorySegment(gates, g + 2 * VB, ORDER);
            o.intoMemorySegment(gates, g + 3 * VB, ORDER);
        }
    }

    /**
     * From {@code dh} (without {@code dy}) reaching {@code h_t}: {@code dc += dh·o·(1 − tanh²c)},
     * {@code da = (dc·g·i(1−i), dc·c_prev·f(1−f), dc·i(1−g²), dh·tanh(c)·o(1−o))}, {@code dc ← dc·f}.
     *
     * @param g  byte offset of the unit block in a gate row buffer (relative to the step bases)
     * @param hc byte offset of the units in a state row buffer (relative to the step bases)
     */
    private static void backward(BackwardStep s, FloatVector dhIn, long g, long hc) {
        FloatVector dh = s.hasDy ? dhIn.add(load(s.dy, s.dyBase + hc)) : dhIn;
        MemorySegment gates = s.gates;
        long gb = s.gBase + g;
        FloatVector i = load(gates, gb), f = load(gates, gb + VB), gg = load(gates, gb + 2 * VB),
                o = load(gates, gb + 3 * VB);
        FloatVector tc = Activations.tanh(load(s.cs, s.cBase + hc));
        FloatVector cPrev = load(s.cs, s.cPrevBase + hc);
        FloatVector dc = dh.mul(o).fma(ONE.sub(tc.mul(tc)), load(s.dc, hc));
        FloatVector dcg = dc.mul(i);
        MemorySegment da = s.da;
        long db = s.daBase + g;
        dc.mul(gg).mul(i.mul(ONE.sub(i))).intoMemorySegment(da, db, ORDER);
        dc.mul(cPrev).mul(f.mul(ONE.sub(f))).intoMemorySegment(da, db + VB, ORDER);
        dcg.mul(ONE.sub(gg.mul(gg))).intoMemorySegment(da, db + 2 * VB, ORDER);
        dh.mul(tc).mul(o.mul(ONE.sub(o))).intoMemorySegment(da, db + 3 * VB, ORDER);
        dc.mul(f).intoMemorySegment(s.dc, hc, ORDER);
    }
}
