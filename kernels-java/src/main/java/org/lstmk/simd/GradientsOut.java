package org.lstmk.simd;

import static org.lstmk.simd.Copies.F;

import java.lang.foreign.MemorySegment;
import org.lstmk.reference.ReferenceLstm;

/** Writes weight gradients from the kernels' transposed, interleaved layout into PyTorch's, adding or overwriting. */
final class GradientsOut {
    private GradientsOut() {}

    /** Columns of the transposed buffer visited per pass, so that its rows stay in L1 while they are reused. */
    private static final int ROWS_PER_PASS = 16;

    /**
     * {@code out[gate·H + unit][i] (+)= src[i][column(gate, unit)]} for units {@code [j0, j1)}, {@code i < width}.
     *
     * @param src {@code [width][4Hp]} row-major
     */
    static void transposed(MemorySegment src, GateLayout shape, int width, int j0, int j1, MemorySegment out,
                           boolean accumulate) {
        int hid = shape.hid();
        long srcRow = shape.gateRowBytes();
        for (int i0 = 0; i0 < width; i0 += ROWS_PER_PASS) {
            int i1 = Math.min(width, i0 + ROWS_PER_PASS);
            for (int gate = 0; gate < 4; gate++) {
                for (int unit = j0; unit < j1; unit++) {
                    long col = 4L * GateLayout.column(gate, unit);
                    long dst = ((long) (gate * hid + unit) * width) * 4;
                    for (int i = i0; i < i1; i++) {
                        float v = src.get(F, i * srcRow + col);
                        long d = dst + 4L * i;
                        out.set(F, d, accumulate ? out.get(F, d) + v : v);
                    }
                }
            }
        }
    }

    /** {@code out[gate·H + unit] (+)= db[column(gate, unit)]} for units {@code [j0, j1)}. */
    static void bias(MemorySegment db, GateLayout shape, int j0, int j1, MemorySegment out, boolean accumulate) {
        int hid = shape.hid();
        for (int gate = 0; gate < 4; gate++) {
            for (int unit = j0; unit < j1; unit++) {
                float v = db.get(F, 4L * GateLayout.column(gate, unit));
                long d = 4L * (gate * hid + unit);
                out.set(F, d, accumulate ? out.get(F, d) + v : v);
            }
        }
    }

    /**
     * {@code out[k·H + unit] (+)= dpeep[column(gate_k, unit)]} for units {@code [j0, j1)}, {@code out} in ONNX's
     * order {@code [P_i, P_o, P_f]}.
     */
    static void peepholes(MemorySegment dpeep, GateLayout shape, int j0, int j1, MemorySegment out, boolean accumulate) {
        int hid = shape.hid();
        int[] gateOf = {ReferenceLstm.GATE_I, ReferenceLstm.GATE_O, ReferenceLstm.GATE_F};
        int[] peepOf = {ReferenceLstm.PEEP_I, ReferenceLstm.PEEP_O, ReferenceLstm.PEEP_F};
        for (int k = 0; k < 3; k++) {
            for (int unit = j0; unit < j1; unit++) {
                float v = dpeep.get(F, 4L * GateLayout.column(gateOf[k], unit));
                long d = 4L * (peepOf[k] * hid + unit);
                out.set(F, d, accumulate ? out.get(F, d) + v : v);
            }
        }
    }

    /** {@code out[k·H + unit] (+)= src[k][unit]} for {@code k < P}, units {@code [j0, j1)}; {@code src [P][Hp]}. */
    static void projection(MemorySegment src, GateLayout shape, int j0, int j1, MemorySegment out, boolean accumulate) {
        int hid = shape.hid();
        long row = shape.stateRowBytes();
        for (int k = 0; k < shape.out(); k++) {
            for (int unit = j0; unit < j1; unit++) {
                float v = src.get(F, k * row + 4L * unit);
                long d = 4L * ((long) k * hid + unit);
                out.set(F, d, accumulate ? out.get(F, d) + v : v);
            }
        }
    }
}
