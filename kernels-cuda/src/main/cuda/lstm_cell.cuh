// The LSTM cell for one (batch row, hidden unit), as the epilogues of the fused recurrent kernels run it in
// registers: a functor, Cell<PEEP, CLIP>, so that the cell features live here and the kernels stay the same tiled
// product with a pluggable epilogue. Same equations and gate order (i, f, g, o) as org.lstmk.reference.ReferenceLstm:
//
//   a_i += P_i*c   a_f += P_f*c                               (PEEP; P = [P_i, P_o, P_f], ONNX order, each [H])
//   i = sigma(a_i)  f = sigma(a_f)  g = tanh(a_g)    c' = f*c + i*g
//   a_o += P_o*c'   o = sigma(a_o)                   m = o*tanh(c')   (h' = m, or W_hr*m with projection)
//
// CLIP: a gate whose pre-activation is >= clip (<= -clip) is stored as exactly HI (LO) of its kind (the sigma gates
// share a pair, g has its own), computed in Java by org.lstmk.reference.CellMath and passed in: expf here need not
// round like Java's exp, and backward recognises a clamped gate by that exact value. Backward, with dm the gradient
// reaching m and dc the one reaching c' from the next step; kappa_x = 0 for a gate holding HI or LO (CLIP), else 1:
//
//   da_o = dm*tanh(c')*o(1-o)*kappa_o
//   dc  += dm*o*(1-tanh(c')^2) + da_o*P_o
//   da_i = dc*g*i(1-i)*kappa_i   da_f = dc*c*f(1-f)*kappa_f   da_g = dc*i*(1-g^2)*kappa_g
//   dc_prev = dc*f + da_i*P_i + da_f*P_f
//
// Why a template and not runtime branches: each feature is a compile-time constant of one kernel instantiation
// (lstm_kernels.cu makes one extern "C" entry point per combination), so the plain cell compiles to exactly the code
// it had before the features existed (no extra loads, compares or registers), and the feature variants pay only for
// what they use. The parameters travel as plain kernel arguments (constant bank on the GPU) and are gathered into
// CellParams by the entry point; a variant ignores the ones it does not use.
#pragma once

#include "lstmk_device.cuh"

namespace lstmk {

/** The four gate activations of one unit. */
struct Gates {
    float i, f, g, o;
};

/** New cell state. Forward and backward both use this, so backward's recomputed c' is bit-identical to forward's. */
__device__ __forceinline__ float cell_state(const Gates& x, float cPrev) { return fmaf(x.f, cPrev, x.i * x.g); }

/** Offsets of the peephole vectors in [P_i, P_o, P_f] (ONNX order), in units of H. */
constexpr int PEEP_I = 0, PEEP_O = 1, PEEP_F = 2;

/** What the cell features need, from the kernel arguments. */
struct CellParams {
    const float* peep;   // [3H] P_i, P_o, P_f; read only with PEEP
    int H;               // hidden size: the stride between the three peephole vectors
    float clip;          // > 0; read only with CLIP
    float sigHi, sigLo;  // sigma gate stored for a pre-activation >= clip / <= -clip (CellMath.clampedHigh/Low)
    float tanhHi, tanhLo;// the same for the tanh gate g
};

template <bool PEEP, bool CLIP>
struct Cell {
    static constexpr bool PEEPHOLES = PEEP, CLIPPED = CLIP;
    CellParams p;

    /** Sigma gate with the clip rule. */
    __device__ __forceinline__ float sigma(float a) const {
        if constexpr (CLIP) {
            if (a >= p.clip) return p.sigHi;
            if (a <= -p.clip) return p.sigLo;
        }
        return sigmoid_f(a);
    }

    /** tanh gate with the clip rule. */
    __device__ __forceinline__ float tanh_gate(float a) const {
        if constexpr (CLIP) {
            if (a >= p.clip) return p.tanhHi;
            if (a <= -p.clip) return p.tanhLo;
        }
        return tanh_f(a);
    }

    /** kappa of a sigma gate: 0 when it holds a clamped value, else 1. */
    __device__ __forceinline__ float keep_sigma(float v) const {
        return (v == p.sigHi || v == p.sigLo) ? 0.f : 1.f;
    }

    __device__ __forceinline__ float keep_tanh(float v) const {
        return (v == p.tanhHi || v == p.tanhLo) ? 0.f : 1.f;
    }

    __device__ __forceinline__ float peep(int which, int j) const { return p.peep[which * p.H + j]; }

    /**
     * Forward of unit j: gates from the pre-activations a (W_ih x + b + W_hh h, gate order i, f, g, o; peepholes
     * not yet added) and c = cPrev; returns the gates and sets cNew.
     */
    __device__ __forceinline__ Gates forward(const float (&a)[GATES], int j, float cPrev, float& cNew) const {
        float ai = a[0], af = a[1], ao = a[3];
        if constexpr (PEEP) {
            ai = fmaf(peep(PEEP_I, j), cPrev, ai);
            af = fmaf(peep(PEEP_F, j), cPrev, af);
        }
        Gates x;
        x.i = sigma(ai);
        x.f = sigma(af);
        x.g = tanh_gate(a[2]);
        cNew = cell_state(x, cPrev);
        if constexpr (PEEP) ao = fmaf(peep(PEEP_O, j), cNew, ao);
        x.o = sigma(ao);
        return x;
    }

    /**
     * Gate gradients of unit j from the saved gates and c = cPrev; c' and tanh(c') are recomputed, not stored.
     *
     * @param dm gradient reaching m = o*tanh(c') (h' without projection)
     * @param dc gradient reaching c' from the next step; on return, the gradient reaching cPrev
     * @param m  on return, m = o*tanh(c') (what the projection's weight gradient needs)
     * @param cNew on return, c' (what P_o's gradient needs)
     */
    __device__ __forceinline__ void backward(const Gates& x, int j, float cPrev, float dm, float& dc,
                                             float (&da)[GATES], float& m, float& cNew) const {
        cNew = cell_state(x, cPrev);
        const float tc = tanh_f(cNew);
        m = x.o * tc;
        float dao = dm * tc * x.o * (1.f - x.o);
        if constexpr (CLIP) dao *= keep_sigma(x.o);
        float dcTotal = fmaf(dm * x.o, 1.f - tc * tc, dc);
        if constexpr (PEEP) dcTotal = fmaf(dao, peep(PEEP_O, j), dcTotal);
        da[0] = dcTotal * x.g * x.i * (1.f - x.i);
        da[1] = dcTotal * cPrev * x.f * (1.f - x.f);
        da[2] = dcTotal * x.i * (1.f - x.g * x.g);
        da[3] = dao;
        if constexpr (CLIP) {
            da[0] *= keep_sigma(x.i);
            da[1] *= keep_sigma(x.f);
            da[2] *= keep_tanh(x.g);
        }
        float dcPrev = dcTotal * x.f;
        if constexpr (PEEP) dcPrev = fmaf(da[0], peep(PEEP_I, j), fmaf(da[1], peep(PEEP_F, j), dcPrev));
        dc = dcPrev;
    }
};

}  // namespace lstmk
