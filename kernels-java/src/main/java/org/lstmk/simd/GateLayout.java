package org.lstmk.simd;

import static org.lstmk.simd.SimdSpecies.L;

import org.lstmk.api.LstmConfig;

/**
 * The SIMD backend's gate-interleaved layout of one layer's sizes. Hidden units are grouped in blocks of {@code L}
 * (one vector); {@code H} is padded up to {@code Hp}, a multiple of {@code L}, with units whose weights and bias are
 * zero (their states stay exactly zero), so hot loops have neither tails nor masks. The {@code 4Hp} gate columns are
 * ordered block by block, and within a block gate by gate: column {@code (j/L)·4L + gate·L + j%L} holds gate
 * {@code gate} (i, f, g, o) of unit {@code j}. One block is therefore four consecutive vectors: i, f, g, o of the
 * same {@code L} units, which is what a register tile of the fused step needs.
 *
 * @param in     input size I
 * @param hid    hidden size H
 * @param hp     H padded to a multiple of L
 * @param blocks unit blocks, {@code hp / L}
 * @param ip     I padded to a multiple of L (columns of {@code dx})
 */
record GateLayout(int in, int hid, int hp, int blocks, int ip) {
    static GateLayout of(LstmConfig cfg) {
        int hp = roundUp(cfg.hiddenSize());
        return new GateLayout(cfg.inputSize(), cfg.hiddenSize(), hp, hp / L, roundUp(cfg.inputSize()));
    }

    /** Interleaved gate columns, {@code 4·Hp}. */
    int gates() { return 4 * hp; }

    /** Interleaved column of gate {@code gate} of unit {@code unit}. */
    static int column(int gate, int unit) {
        return (unit / L) * 4 * L + gate * L + unit % L;
    }

    /** Bytes of one interleaved gate row ({@code 4Hp} floats). */
    long gateRowBytes() { return 16L * hp; }

    /** Bytes of one state row ({@code Hp} floats). */
    long stateRowBytes() { return 4L * hp; }

    static int roundUp(int n) {
        return (n + L - 1) / L * L;
    }
}
