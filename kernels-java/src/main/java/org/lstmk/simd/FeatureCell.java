package org.lstmk.simd;

import static jdk.incubator.vector.FloatVector.fromMemorySegment;
import static org.lstmk.simd.SimdSpecies.FLOAT;
import static org.lstmk.simd.SimdSpecies.ORDER;
import static org.lstmk.simd.SimdSpecies.VB;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import org.lstmk.reference.CellMath;
import org.lstmk.reference.ReferenceLstm;

/**
 * The cell with peepholes and/or a cell clip ({@link Cell}), with the equations of {@code ReferenceLstm}:
 * <pre>
 *   a_i += P_i·c_{t−1}   a_f += P_f·c_{t−1}   i, f, g = act(clip(a))   c_t = f·c_{t−1} + i·g
 *   a_o += P_o·c_t       o = σ(clip(a_o))     h = o·tanh(c_t)
 * </pre>
 * and backward {@code da_o = dh·tanh(c)·o(1−o)·κ_o}, {@code dc += dh·o(1−tanh²c) + da_o·P_o},
 * {@code da_{i,f,g}} as in the plain cell times {@code κ}, {@code dc_{t−1} = dc·f + da_i·P_i + da_f·P_f}.
 *
 * <p><b>Clip</b> ({@link CellMath}): a gate whose pre-activation is {@code >= clip} ({@code <= −clip}) is stored as
 * exactly {@link CellMath#clampedHigh} ({@link CellMath#clampedLow}) of its kind (σ for i, f, o; tanh for g), any
 * other gate as the activation of its pre-activation: the activation pass ({@link Activations#activateGates}) puts
 * the constants in as it stores each vector, from the pre-activation it has just read. Backward's {@code κ} is 0
 * for a gate holding one of those two values exactly. Both tests are written with integer operations on the float bits (as {@code Activations.flushSubnormals}: C2 left compare and
 * blend as allocating fallbacks in these kernels): for {@code clip > 0}, {@code a >= clip} is
 * {@code bits(clip) <= bits(a) <= bits(+∞)} as signed integers, so NaN is never clamped (NaN in, NaN out).
 *
 * <p>Forward works on the tile of pre-activations in place: the peephole terms are added to them, the activations
 * replace them (with peepholes, i, f, g of every block in one pass, o in a second one
 * once {@code a_o += P_o·c_t} is in).
 *
 * <p>The peephole gradients are not accumulated here: {@link BackwardPass} sums them after the time loop from the
 * {@code da} it keeps, as it does for the bias.
 */
final class FeatureCell implements Cell {
    private static final FloatVector ONE = FloatVector.broadcast(FLOAT, 1f);
    /** The bits of 1f: a keep mask ANDed with them is κ as a float, 1 or 0. */
    private static final int ONE_BITS = Float.floatToRawIntBits(1f);

    /** Interleaved {@code [4Hp]} peephole weights (P_i in the i columns, P_f in f, P_o in o, 0 in g), or null. */
    private final MemorySegment peep;
    private final boolean peepholes, clip;
    /** {@code bits(clip)}; the bits of the values a clamped σ gate (i, f, o) and tanh gate (g) hold. */
    private final int clipBits, sigmoidHigh, sigmoidLow, tanhHigh, tanhLow;

    /**
     * @param peep the packed peephole weights, or null for none
     * @param clip the cell clip, 0 for none
     */
    FeatureCell(MemorySegment peep, float clip) {
        this.peep = peep;
        this.peepholes = peep != null;
        this.clip = clip > 0;
        this.clipBits = Float.floatToRawIntBits(clip);
        this.sigmoidHigh = Float.floatToRawIntBits(CellMath.clampedHigh(ReferenceLstm.GATE_I, clip));
        this.sigmoidLow = Float.floatToRawIntBits(CellMath.clampedLow(ReferenceLstm.GATE_I, clip));
        this.tanhHigh = Float.floatToRawIntBits(CellMath.clampedHigh(ReferenceLstm.GATE_G, clip));
        this.tanhLow = Float.floatToRawIntBits(CellMath.clampedLow(ReferenceLstm.GATE_G, clip));
    }

    @Override
    public void forwardTile(ForwardStep s, int rows, int blocks, long gOff, long hc, long unitOff) {
        if (peepholes) peepholesIn(s, rows, blocks, hc, unitOff);
        activateGates(s, rows, blocks);
        cellAndHidden(s, rows, blocks, gOff, hc, unitOff);
    }

    /**
     * {@code a_i += P_i·c_{t−1}}, {@code a_f += P_f·c_{t−1}} in place in the tile of pre-activations; {@code a_o}
     * is completed by {@link #cellAndHidden} once {@code c_t} is known.
     */
    private void peepholesIn(ForwardStep s, int rows, int blocks, long hc, long unitOff) {
        MemorySegment tile = s.tile, cs = s.cs, pw = peep;
        for (int r = 0; r < rows; r++) {
            long t = s.tileBase + r * s.tileRow, cPrev = s.cPrevBase + hc + r * s.hRow;
            for (int j = 0; j < blocks; j++) {
                FloatVector c = fromMemorySegment(FLOAT, cs, cPrev + j * VB, ORDER);
                for (int q = 0; q < 2; q++) { // i and f see c_{t−1}
                    long o = (4L * j + q) * VB;
                    fromMemorySegment(FLOAT, pw, unitOff + o, ORDER).fma(c, fromMemorySegment(FLOAT, tile, t + o, ORDER))
                            .intoMemorySegment(tile, t + o, ORDER);
                }
            }
        }
    }

    /** The activations of the pre-activations in place: i, f, g (and o without peepholes), clamped. */
    private void activateGates(ForwardStep s, int rows, int blocks) {
        MemorySegment tile = s.tile;
        boolean clips = clip;
        int per = peepholes ? 3 : 4; // o waits for c_t
        for (int r = 0; r < rows; r++) {
            Activations.activateGates(tile, s.tileBase + r * s.tileRow, 4 * VB, per * blocks, per, clips, clipBits,
                    sigmoidHigh, sigmoidLow, tanhHigh, tanhLow);
        }
    }

    /**
     * {@code c = f·c_prev + i·g} into {@code c[t+1]} (flushed as in the plain cell); with peepholes
     * {@code o = σ(clip(a_o + P_o·c))}; when training the activations into the gate rows; {@code h = o·tanh(c)}.
     */
    private void cellAndHidden(ForwardStep s, int rows, int blocks, long gOff, long hc, long unitOff) {
        MemorySegment tile = s.tile, cs = s.cs, pw = peep;
        for (int r = 0; r < rows; r++) {
            long t = s.tileBase + r * s.tileRow, h = hc + r * s.hRow;
            for (int j = 0; j < blocks; j++) {
                long tj = t + j * 4 * VB, hj = h + j * VB;
                FloatVector i = fromMemorySegment(FLOAT, tile, tj, ORDER);
                FloatVector f = fromMemorySegment(FLOAT, tile, tj + VB, ORDER);
                FloatVector gg = fromMemorySegment(FLOAT, tile, tj + 2 * VB, ORDER);
                f.fma(fromMemorySegment(FLOAT, cs, s.cPrevBase + hj, ORDER), i.mul(gg))
                        .intoMemorySegment(cs, s.cNextBase + hj, ORDER);
            }
            Activations.flushSubnormals(cs, s.cNextBase + h, blocks);
            if (peepholes) {
                for (int j = 0; j < blocks; j++) {
                    long ao = t + j * 4 * VB + 3 * VB;
                    fromMemorySegment(FLOAT, pw, unitOff + j * 4 * VB + 3 * VB, ORDER)
                            .fma(fromMemorySegment(FLOAT, cs, s.cNextBase + h + j * VB, ORDER),
                                    fromMemorySegment(FLOAT, tile, ao, ORDER))
                            .intoMemorySegment(tile, ao, ORDER);
                }
                Activations.activateGates(tile, t + 3 * VB, 4 * VB, blocks, 1, clip, clipBits, sigmoidHigh, sigmoidLow,
                        tanhHigh, tanhLow);
            }
            if (s.save) MemorySegment.copy(tile, t, s.gates, s.gBase + gOff + r * s.gRow, blocks * 4 * VB);
            Activations.activate(cs, s.cNextBase + h, VB, s.hs, s.hNextBase + h, VB, blocks, 0, 0, tile, t + 3 * VB,
                    4 * VB);
        }
    }

    @Override
    public void backwardTile(BackwardStep s, int rows, int blocks, long g, long hc, long unitOff) {
        CellKernels.cellTanh(s, rows, blocks, hc);
        gateGradients(s, rows, blocks, g, hc, unitOff);
    }

    /**
     * {@code da} of the tile's blocks and {@code dc ← dc_{t−1}}; {@code κ} as the integer test
     * {@code keep = (x ≠ 0) ∧ (y ≠ 0)} with {@code x = bits(gate) ^ bits(HIGH)}, {@code y = bits(gate) ^ bits(LOW)}
     * ({@code z ≠ 0} is the sign bit of {@code z | −z}), turned into the float 1 or 0 by masking the bits of 1f
     * and multiplied in, as the reference and the CUDA cell do: masking the gradient's own bits would turn a NaN or
     * infinite gradient of a clamped gate into 0 where IEEE (and the reference) give {@code ∞·0 = NaN}.
     */
    private void gateGradients(BackwardStep s, int rows, int blocks, long g0, long hc0, long unitOff) {
        MemorySegment gates = s.gates, cs = s.cs, da = s.da, dcs = s.dc, tile = s.tile, pw = peep;
        boolean peeps = peepholes, clips = clip;
        int sh = sigmoidHigh, sl = sigmoidLow, th = tanhHigh, tl = tanhLow;
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < blocks; j++) {
                long hc = hc0 + r * s.hRow + j * VB, g = g0 + r * s.gRow + j * 4 * VB, p = unitOff + j * 4 * VB;
                FloatVector dh = fromMemorySegment(FLOAT, s.dh, hc, ORDER);
                if (s.hasDy) dh = dh.add(fromMemorySegment(FLOAT, s.dy, s.dyBase + hc, ORDER));
                long gb = s.gBase + g;
                FloatVector i = fromMemorySegment(FLOAT, gates, gb, ORDER);
                FloatVector f = fromMemorySegment(FLOAT, gates, gb + VB, ORDER);
                FloatVector gg = fromMemorySegment(FLOAT, gates, gb + 2 * VB, ORDER);
                FloatVector o = fromMemorySegment(FLOAT, gates, gb + 3 * VB, ORDER);
                FloatVector tc = fromMemorySegment(FLOAT, tile, s.tileBase + r * s.tileRow + j * VB, ORDER);
                FloatVector dao = dh.mul(tc).mul(o.mul(ONE.sub(o)));
                if (clips) {
                    IntVector b = o.reinterpretAsInts(), x = b.lanewise(VectorOperators.XOR, sh),
                            y = b.lanewise(VectorOperators.XOR, sl);
                    dao = dao.mul(x.or(x.neg()).and(y.or(y.neg())).lanewise(VectorOperators.ASHR, 31).and(ONE_BITS)
                            .reinterpretAsFloats());
                }
                FloatVector dc = dh.mul(o).fma(ONE.sub(tc.mul(tc)), fromMemorySegment(FLOAT, dcs, hc, ORDER));
                if (peeps) dc = dao.fma(fromMemorySegment(FLOAT, pw, p + 3 * VB, ORDER), dc);
                FloatVector cPrev = fromMemorySegment(FLOAT, cs, s.cPrevBase + hc, ORDER);
                FloatVector dai = dc.mul(gg).mul(i.mul(ONE.sub(i)));
                FloatVector daf = dc.mul(cPrev).mul(f.mul(ONE.sub(f)));
                FloatVector dag = dc.mul(i).mul(ONE.sub(gg.mul(gg)));
                if (clips) {
                    IntVector b = i.reinterpretAsInts(), x = b.lanewise(VectorOperators.XOR, sh),
                            y = b.lanewise(VectorOperators.XOR, sl);
                    dai = dai.mul(x.or(x.neg()).and(y.or(y.neg())).lanewise(VectorOperators.ASHR, 31).and(ONE_BITS)
                            .reinterpretAsFloats());
                    b = f.reinterpretAsInts();
                    x = b.lanewise(VectorOperators.XOR, sh);
                    y = b.lanewise(VectorOperators.XOR, sl);
                    daf = daf.mul(x.or(x.neg()).and(y.or(y.neg())).lanewise(VectorOperators.ASHR, 31).and(ONE_BITS)
                            .reinterpretAsFloats());
                    b = gg.reinterpretAsInts();
                    x = b.lanewise(VectorOperators.XOR, th);
                    y = b.lanewise(VectorOperators.XOR, tl);
                    dag = dag.mul(x.or(x.neg()).and(y.or(y.neg())).lanewise(VectorOperators.ASHR, 31).and(ONE_BITS)
                            .reinterpretAsFloats());
                }
                long db = s.daBase + g;
                dai.intoMemorySegment(da, db, ORDER);
                daf.intoMemorySegment(da, db + VB, ORDER);
                dag.intoMemorySegment(da, db + 2 * VB, ORDER);
                dao.intoMemorySegment(da, db + 3 * VB, ORDER);
                FloatVector dcPrev = dc.mul(f);
                if (peeps) {
                    dcPrev = dai.fma(fromMemorySegment(FLOAT, pw, p, ORDER), dcPrev)
                            .add(daf.mul(fromMemorySegment(FLOAT, pw, p + VB, ORDER)));
                }
                dcPrev.intoMemorySegment(dcs, hc, ORDER);
            }
            // as in the plain cell: no subnormal enters a later product
            Activations.flushSubnormals(da, s.daBase + g0 + r * s.gRow, 4 * blocks);
            Activations.flushSubnormals(dcs, hc0 + r * s.hRow, blocks);
        }
    }
}
