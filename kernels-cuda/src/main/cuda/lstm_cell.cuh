// The LSTM cell equations for one (batch row, hidden unit), as the epilogues of the fused recurrent kernels run
// them in registers. Same equations and gate order (i, f, g, o) as org.lstmk.reference.ReferenceLstm:
//   i = sigma(a_i)  f = sigma(a_f)  g = tanh(a_g)  o = sigma(a_o)   c' = f*c + i*g   h' = o*tanh(c')
// Backward, with dh, dc the gradients reaching h', c':
//   dc += dh*o*(1-tanh(c')^2)
//   da_i = dc*g*i(1-i)  da_f = dc*c*f(1-f)  da_g = dc*i*(1-g^2)  da_o = dh*tanh(c')*o(1-o)   dc_prev = dc*f
#pragma once

#include "lstmk_device.cuh"

namespace lstmk {

/** The four gate activations of one unit. */
struct Gates {
    float i, f, g, o;
};

/** Activations from the four pre-activations (gate order i, f, g, o). */
__device__ __forceinline__ Gates activate(const float (&a)[GATES]) {
    return Gates{sigmoid_f(a[0]), sigmoid_f(a[1]), tanh_f(a[2]), sigmoid_f(a[3])};
}

/** New cell state. */
__device__ __forceinline__ float cell_state(const Gates& x, float cPrev) { return fmaf(x.f, cPrev, x.i * x.g); }

/**
 * Gate gradients of one unit; tanh(c') is recomputed from the saved activations and c instead of being stored.
 *
 * @param dh gradient reaching h' (from the output and from the next step)
 * @param dc gradient reaching c' from the next step; on return, the gradient reaching cPrev
 */
__device__ __forceinline__ void cell_backward(const Gates& x, float cPrev, float dh, float& dc, float (&da)[GATES]) {
    float tc = tanh_f(cell_state(x, cPrev));
    float dcTotal = fmaf(dh * x.o, 1.f - tc * tc, dc);
    da[0] = dcTotal * x.g * x.i * (1.f - x.i);
    da[1] = dcTotal * cPrev * x.f * (1.f - x.f);
    da[2] = dcTotal * x.i * (1.f - x.g * x.g);
    da[3] = dh * tc * x.o * (1.f - x.o);
    dc = dcTotal * x.f;
}

}  // namespace lstmk
