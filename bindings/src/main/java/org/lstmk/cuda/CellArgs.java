package org.lstmk.cuda;

import org.lstmk.api.LstmConfig;
import org.lstmk.reference.CellMath;
import org.lstmk.reference.ReferenceLstm;

/**
 * The cell features of one layer as the step kernels take them (lstm_cell.cuh: {@code CellParams}): which kernel
 * variant runs ({@code lstmk_lstm_{forward,backward}_step[_peep][_clip]}) and the arguments every step kernel ends
 * with: the peephole weights and the clip with its clamped gate values.
 *
 * <p>The clamped values are computed here, by {@link CellMath}, not in CUDA: the kernels store them verbatim for a
 * clamped gate and backward recognises a clamped gate by them, so they must be exactly the reference's floats
 * ({@code expf} on the device need not round like Java's {@code exp}).
 *
 * @param peep   {@code [3H]} peepholes {@code P_i, P_o, P_f} on the device, or null without peepholes
 * @param clip   the cell clip, 0 for none
 * @param sigHi  a σ gate clamped at {@code +clip}       @param sigLo  at {@code −clip}
 * @param tanhHi the tanh gate g clamped at {@code +clip} @param tanhLo at {@code −clip}
 */
record CellArgs(DevicePointer peep, float clip, float sigHi, float sigLo, float tanhHi, float tanhLo) {
    /** Kernel name suffixes by {@link #variant()}: bit 0 peepholes, bit 1 clip. */
    static final String[] VARIANT_SUFFIXES = {"", "_peep", "_clip", "_peep_clip"};

    /** The plain cell. */
    static final CellArgs PLAIN = new CellArgs(null, 0f, 0f, 0f, 0f, 0f);

    /** The arguments for {@code cfg}'s cell; {@code peep} is the device copy of the peepholes (null without). */
    static CellArgs of(LstmConfig cfg, DeviceBuffer peep) {
        if (cfg.peepholes() != (peep != null)) {
            throw new IllegalArgumentException("peephole weights " + (peep == null ? "missing" : "given")
                    + " for " + cfg);
        }
        float clip = cfg.cellClip();
        DevicePointer p = peep == null ? null : peep.floatAt(0);
        if (!cfg.hasCellClip()) return new CellArgs(p, 0f, 0f, 0f, 0f, 0f);
        return new CellArgs(p, clip,
                CellMath.clampedHigh(ReferenceLstm.GATE_I, clip), CellMath.clampedLow(ReferenceLstm.GATE_I, clip),
                CellMath.clampedHigh(ReferenceLstm.GATE_G, clip), CellMath.clampedLow(ReferenceLstm.GATE_G, clip));
    }

    boolean peepholes() { return peep != null; }

    boolean clipped() { return clip > 0; }

    /** Index into {@link #VARIANT_SUFFIXES}. */
    int variant() { return (peepholes() ? 1 : 0) | (clipped() ? 2 : 0); }

    /** Appends the cell arguments ({@code peep, clip, sigHi, sigLo, tanhHi, tanhLo}) to a step kernel's list. */
    KernelArgs appendTo(KernelArgs args) {
        return args.ptr(peep).f32(clip).f32(sigHi).f32(sigLo).f32(tanhHi).f32(tanhLo);
    }
}
