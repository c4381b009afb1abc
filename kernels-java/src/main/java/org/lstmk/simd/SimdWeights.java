package org.lstmk.simd;

import static org.lstmk.simd.SimdSpecies.L;
import static org.lstmk.simd.SimdSpecies.VB;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmWeights;
import org.lstmk.reference.ReferenceLstm;
import org.lstmk.spi.BackendWeights;

/**
 * One layer's weights in the SIMD kernels' layouts (see {@link GateLayout}), in 64-byte aligned native memory owned
 * by a shared arena ({@link #close()} frees it). Packed once from PyTorch's layout:
 * <ul>
 *   <li>{@code wih}: per unit block a panel {@code [I][4L]} (rows k of {@code W_ihᵀ}, the block's i, f, g, o
 *       columns) — the B operand of the input projection;</li>
 *   <li>{@code whh}: per unit block a panel {@code [H_out][4L]} — the B operand of the forward step;</li>
 *   <li>{@code bias}: {@code b_ih + b_hh}, {@code [4Hp]} interleaved;</li>
 *   <li>{@code whhT}: per group of four vectors of columns of h (4L columns) a panel {@code [4Hp][4L]} of
 *       {@code W_hh} with rows in interleaved order — the B operand of {@code dh = da·W_hh} in backward; a group's
 *       four vectors are contiguous in each row, so a tile of the whole group reads them at constant offsets
 *       ({@link MicroKernels#blocks}); columns past the last vector of h are zero;</li>
 *   <li>{@code wihT}: the same for {@code W_ih}, per group of 4L input columns — for {@code dx = da·W_ih};</li>
 *   <li>{@code peep} (peepholes only, else null): {@code [4Hp]} interleaved as the bias, {@code P_i} in the i
 *       columns, {@code P_f} in f, {@code P_o} in o, 0 in g — read at the bias's offsets by {@link FeatureCell}.</li>
 *   <li>{@code whr} (projection only, else null): {@code W_hr [P][Hp]} row-major — the B operand of
 *       {@code dm = dh·W_hr} in backward;</li>
 *   <li>{@code whrT} (projection only): {@code W_hrᵀ [H][Pp]} row-major — the B operand of {@code h = m·W_hrᵀ}.</li>
 * </ul>
 * {@link #cell} is the layer's gate epilogue ({@link Cell#of}).
 * Padding rows and columns are zero. {@link #realLanes} marks the real units of the last block when H is not a
 * multiple of L (see {@link BackwardPass}: the only place padding units could carry a NaN into real results).
 */
final class SimdWeights implements BackendWeights {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    final GateLayout shape;
    final MemorySegment wih, whh, bias, whhT, wihT, peep, whr, whrT;
    /**
     * {@code [L]} ints, all ones for the real units of the last unit block and 0 for its padding units; null when
     * {@code H} is a multiple of L (no padding units).
     */
    final MemorySegment realLanes;
    /** The layer's cell: the plain one, or peepholes and clip. */
    final Cell cell;
    private final Arena arena;
    private boolean closed;

    private SimdWeights(GateLayout shape, LstmConfig cfg) {
        this.shape = shape;
        this.arena = Arena.ofShared();
        int in = shape.in(), out = shape.out(), g = shape.gates();
        try {
            wih = arena.allocate((long) shape.blocks() * in * 4 * VB, 64);
            whh = arena.allocate((long) shape.blocks() * out * 4 * VB, 64);
            bias = arena.allocate(4L * g, 64);
            whhT = arena.allocate((long) groups(shape.outBlocks()) * g * TRANSPOSED_ROW, 64);
            wihT = arena.allocate((long) groups(shape.ip() / L) * g * TRANSPOSED_ROW, 64);
            peep = cfg.peepholes() ? arena.allocate(4L * g, 64) : null;
            whr = shape.projection() ? arena.allocate((long) out * shape.stateRowBytes(), 64) : null;
            whrT = shape.projection() ? arena.allocate((long) shape.hid() * shape.outRowBytes(), 64) : null;
            int real = shape.hid() % L;
            realLanes = real == 0 ? null : arena.allocate(VB, 64);
            for (int lane = 0; lane < real; lane++) realLanes.setAtIndex(ValueLayout.JAVA_INT, lane, -1);
        } catch (RuntimeException | OutOfMemoryError e) {
            arena.close();
            throw e;
        }
        cell = Cell.of(cfg, peep);
    }

    static SimdWeights pack(LstmConfig cfg, LstmWeights w) {
        SimdWeights p = new SimdWeights(GateLayout.of(cfg), cfg);
        int in = cfg.inputSize(), hid = cfg.hiddenSize(), out = cfg.outputSize(), g = p.shape.gates();
        if (p.whr != null) {
            for (int k = 0; k < out; k++) {
                for (int j = 0; j < hid; j++) {
                    float v = w.wHr().getAtIndex(F, (long) k * hid + j);
                    p.whr.setAtIndex(F, (long) k * p.shape.hp() + j, v);
                    p.whrT.setAtIndex(F, (long) j * p.shape.op() + k, v);
                }
            }
        }
        if (p.peep != null) {
            // [P_i, P_o, P_f] (ONNX order) into the i, o, f columns
            int[] gateOf = {ReferenceLstm.GATE_I, ReferenceLstm.GATE_O, ReferenceLstm.GATE_F};
            int[] peepOf = {ReferenceLstm.PEEP_I, ReferenceLstm.PEEP_O, ReferenceLstm.PEEP_F};
            for (int k = 0; k < 3; k++) {
                for (int unit = 0; unit < hid; unit++) {
                    p.peep.setAtIndex(F, GateLayout.column(gateOf[k], unit),
                            w.peepholes().getAtIndex(F, (long) peepOf[k] * hid + unit));
                }
            }
        }
        for (int gate = 0; gate < 4; gate++) {
            for (int unit = 0; unit < hid; unit++) {
                long row = (long) gate * hid + unit;
                int col = GateLayout.column(gate, unit);
                int blk = unit / L, inBlock = col - blk * 4 * L;
                float b = w.hasBias() ? w.bIh().getAtIndex(F, row) + w.bHh().getAtIndex(F, row) : 0f;
                p.bias.setAtIndex(F, col, b);
                for (int i = 0; i < in; i++) {
                    float v = w.wIh().getAtIndex(F, row * in + i);
                    p.wih.setAtIndex(F, ((long) blk * in + i) * 4 * L + inBlock, v);
                    p.wihT.set(F, p.transposedVector(i / L) + col * TRANSPOSED_ROW + 4L * (i % L), v);
                }
                for (int j = 0; j < out; j++) {
                    float v = w.wHh().getAtIndex(F, row * out + j);
                    p.whh.setAtIndex(F, ((long) blk * out + j) * 4 * L + inBlock, v);
                    p.whhT.set(F, p.transposedVector(j / L) + col * TRANSPOSED_ROW + 4L * (j % L), v);
                }
            }
        }
        return p;
    }

    /** Byte offset of unit block {@code u}'s panel in {@link #wih}. */
    long wihPanel(int u) { return (long) u * shape.in() * 4 * VB; }

    /** Byte offset of unit block {@code u}'s panel in {@link #whh}. */
    long whhPanel(int u) { return (long) u * shape.out() * 4 * VB; }

    /** Bytes between consecutive rows (k) of a panel of {@link #whhT} and {@link #wihT}: four vectors. */
    static final long TRANSPOSED_ROW = 4 * VB;

    /** Groups of four vectors that hold {@code vectors} vectors of columns. */
    private static int groups(int vectors) { return (vectors + 3) / 4; }

    /** Byte offset of column vector {@code v} of {@link #whhT} or {@link #wihT} in row k = 0 of its group's panel. */
    long transposedVector(int v) { return (long) (v / 4) * shape.gates() * TRANSPOSED_ROW + (v % 4) * VB; }

    /** Whether {@link #close()} has run. */
    synchronized boolean isClosed() { return closed; }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        arena.close();
    }
}
