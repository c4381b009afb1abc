package org.lstmk.simd;

import static org.lstmk.simd.SimdSpecies.L;

import org.lstmk.api.LstmConfig;

/**
 * The SIMD backend's gate-interleaved layout of one layer's sizes. Hidden units are grouped in blocks of {@code L}
 * (one vector); {@code H} is padded up to {@code Hp}, a multiple of {@code L}, with units whose weights and bias are
 * zero (their states stay exactly zero for finite inputs; see {@code BackwardPass.backwardCell} for infinite ones),
 * so hot loops have neither tails nor masks. The {@code 4Hp} gate columns are
 * ordered block by block, and within a block gate by gate: column {@code (j/L)·4L + gate·L + j%L} holds gate
 * {@code gate} (i, f, g, o) of unit {@code j}. One block is therefore four consecutive vectors: i, f, g, o of the
 * same {@code L} units, which is what a register tile of the fused step needs.
 *
 * @param in     input size I
 * @param hid    hidden size H
 * @param hp     H padded to a multiple of L
 * @param blocks unit blocks, {@code hp / L}
 * @param ip     I padded to a multiple of L (columns of {@code dx})
 * @param out    {@code H_out}, the width of h: the projection size P with projection (LSTMP), else H
 * @param op     {@code H_out} padded to a multiple of L
 *
 * <p>With projection the cell's output {@code m} ({@code Hp} wide, like c) and the hidden state {@code h = W_hr·m}
 * ({@code op} wide) are different rows; without, they are one and the same and {@code op = hp}.
 */
record GateLayout(int in, int hid, int hp, int blocks, int ip, int out, int op) {
    static GateLayout of(LstmConfig cfg) {
        int hp = roundUp(cfg.hiddenSize());
        return new GateLayout(cfg.inputSize(), cfg.hiddenSize(), hp, hp / L, roundUp(cfg.inputSize()),
                cfg.outputSize(), roundUp(cfg.outputSize()));
    }

    /** Whether the layer has a projection ({@code H_out = P < H}). */
    boolean projection() { return out != hid; }

    /** Blocks of L columns of h ({@code op / L}). */
    int outBlocks() { return op / L; }

    /** Bytes of one hidden-state row ({@code op} floats). */
    long outRowBytes() { return 4L * op; }

    /** Interleaved gate columns, {@code 4·Hp}. */
    int gates() { return 4 * hp; }

    /** Interleaved column of gate {@code gate} of unit {@code unit}. */
    static int column(int gate, int unit) {
        return (unit / L) * 4 * L + gate * L + unit % L;
    }

    /** Bytes of one interleaved gate row ({@code 4Hp} floats). */
    long gateRowBytes() { return 16L * hp; }

    /** Bytes of one cell-sized state row ({@code Hp} floats: c, m, and h without projection). */
    long stateRowBytes() { return 4L * hp; }

    static int roundUp(int n) {
        return (n + L - 1) / L * L;
    }
}
