// Device helpers shared by every kernel: activation functions, the packed gate layout, small vector reads from
// shared memory. The same sources build with nvcc (the fatbin for the GPU) and with g++ plus host/cuda_host.h
// (the host build that CI runs on the CPU), so nothing here may use a CUDA feature that header does not supply:
// no warp intrinsics, no dynamic shared memory, no early return before a __syncthreads.
#pragma once

#if !defined(__CUDACC__) && !defined(LSTMK_HOST_BUILD)
#error "build with nvcc, or with g++ -include host/cuda_host.h (the host build)"
#endif

#include "kernel_geometry.h"

#ifdef __CUDACC__
// A kernel's head: LSTMK_ENTRY(name, maxThreads)(params) { ... }. The host build's version (host/cuda_host.h) also
// records maxThreads, so that it rejects a launch over the bound as a GPU does.
#define LSTMK_ENTRY(name, maxThreads) extern "C" __global__ void __launch_bounds__(maxThreads) name
// nvcc: extern "C" kernels are found by name through cuModuleGetFunction; the host build registers them instead.
#define LSTMK_KERNEL(name)
// The grid-wide barrier of a cooperative launch (cuLaunchCooperativeKernel); the host build's is a real barrier too.
#include <cooperative_groups.h>
#define LSTMK_GRID_SYNC() cooperative_groups::this_grid().sync()
#endif

namespace lstmk {

// ---- activations -------------------------------------------------------------------------------------------
// Accurate by default (expf, tanhf: a few ulp). Building with -DLSTMK_FAST_MATH opts in to the hardware
// approximations (__expf); the default build never does.

__device__ __forceinline__ float exp_f(float v) {
#ifdef LSTMK_FAST_MATH
    return __expf(v);
#else
    return expf(v);
#endif
}

/** Logistic function; two branches so that exp never overflows: exactly 0 or 1 far out, never NaN for finite v. */
__device__ __forceinline__ float sigmoid_f(float v) {
    if (v >= 0.f) return 1.f / (1.f + exp_f(-v));
    float e = exp_f(v);
    return e / (1.f + e);
}

__device__ __forceinline__ float tanh_f(float v) {
#ifdef LSTMK_FAST_MATH
    return 1.f - 2.f / (exp_f(2.f * v) + 1.f);   // saturates to exactly +-1 as exp goes to inf or 0
#else
    return tanhf(v);
#endif
}

// ---- packed gate layout ----------------------------------------------------------------------------------------
// PyTorch stores the four gates as blocks of H rows (i[0..H), f[0..H), g[0..H), o[0..H)). Packed weights, the
// projected inputs, the saved training activations and the gate gradients interleave them per hidden unit instead:
// packed row 4j+g is PyTorch row g*H+j. A block that owns units [j0, j0+U) then owns the contiguous packed rows
// [4*j0, 4*(j0+U)) and a thread can hold all four gates of one unit, so the whole cell runs in its registers.

constexpr int GATES = 4;

/** PyTorch row of packed row r. */
__device__ __forceinline__ long long pytorch_row(long long r, int H) { return (r & 3) * (long long) H + (r >> 2); }

/** Column of gate g of unit j within a row of 4H gate values, in packed or PyTorch order. */
__device__ __forceinline__ long long gate_col(int j, int g, int H, bool pytorchOrder) {
    return pytorchOrder ? (long long) g * H + j : 4LL * j + g;
}

// ---- shared-memory reads -----------------------------------------------------------------------------------------

/** Reads N consecutive floats from 16-byte aligned shared memory with the widest loads N allows. */
template <int N>
__device__ __forceinline__ void read_row(const float* p, float (&out)[N]) {
    if constexpr (N % 4 == 0) {
#pragma unroll
        for (int q = 0; q < N / 4; ++q) {
            float4 v = reinterpret_cast<const float4*>(p)[q];
            out[4 * q] = v.x; out[4 * q + 1] = v.y; out[4 * q + 2] = v.z; out[4 * q + 3] = v.w;
        }
    } else if constexpr (N % 2 == 0) {
#pragma unroll
        for (int q = 0; q < N / 2; ++q) {
            float2 v = reinterpret_cast<const float2*>(p)[q];
            out[2 * q] = v.x; out[2 * q + 1] = v.y;
        }
    } else {
#pragma unroll
        for (int q = 0; q < N; ++q) out[q] = p[q];
    }
}

}  // namespace lstmk
