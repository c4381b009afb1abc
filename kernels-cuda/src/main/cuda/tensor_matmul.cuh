// The tensor-core counterpart of tiled_matmul.cuh's block_product: the same block tile, operand staging and software
// pipelining (staged_tiles), with the tile product done by warp-wide wmma operations: TF32 (m16n16k8, inputs rounded
// to 10 mantissa bits) or BF16 (m16n16k16, inputs rounded to 8), products accumulated in fp32. Used by the GEMMs when
// the layer's precision is TF32 or BF16. The host build runs it through its matrix-level wmma emulation
// (host/cuda_host.h).
#pragma once

#include "tiled_matmul.cuh"

#ifdef __CUDACC__
#include <cuda_bf16.h>
#include <mma.h>
#endif

namespace lstmk {

namespace wmma = nvcuda::wmma;

/**
 * The reduced precisions the tensor-core product runs in: the shared tiles' element type, the fragments' input type
 * and K, and what is done to a fragment after loading it.
 */
struct Fp32 {   // no tensor cores: tiled_matmul.cuh's block_product
    static constexpr bool TENSOR = false;
};

struct Tf32 {
    static constexpr bool TENSOR = true;
    using Smem = float;                        // tiles stay fp32; fragments are rounded after loading
    using Frag = wmma::precision::tf32;
    static constexpr int K = 8;
    template <class F>
    __device__ __forceinline__ static void round(F& f) {
#pragma unroll
        for (int e = 0; e < f.num_elements; ++e) f.x[e] = wmma::__float_to_tf32(f.x[e]);
    }
};

struct Bf16 {
    static constexpr bool TENSOR = true;
    using Smem = __nv_bfloat16;                // rounded (to nearest even) when staged into shared memory
    using Frag = __nv_bfloat16;
    static constexpr int K = 16;
    template <class F>
    __device__ __forceinline__ static void round(F&) {}
};

/**
 * The product tile of a TM x TN block over all of K, left in shared memory {@code Cs} (row-major, pitch
 * {@code TN + TENSOR_PITCH_PAD}) for the caller's epilogue: Cs[i][j] = sum_k P(A(m0+i, k)) * P(B(k, n0+j)) with the
 * inputs rounded to P (Tf32 or Bf16), fp32 sums, zeros outside M x N. Warp w computes rows [16*(w / WARPS_N), +16) and
 * columns [16*FRAGS_N*(w % WARPS_N), +16*FRAGS_N). Every thread of the block must call it (it synchronises); Cs is
 * complete when it returns.
 */
constexpr int TENSOR_PITCH_PAD = 8;   // rows of the shared tiles stay 32-byte aligned (wmma needs 256-bit pointers)

template <class S, Contiguous A_FAST, Contiguous B_FAST, class P = Tf32>
__device__ __forceinline__ void tensor_block_product(int M, int N, int K, MatrixView A, MatrixView B, int m0, int n0,
                                                     float (*Cs)[S::TN + TENSOR_PITCH_PAD]) {
    using T = typename P::Smem;
    constexpr int PA = S::TM + TENSOR_PITCH_PAD, PB = S::TN + TENSOR_PITCH_PAD, PC = S::TN + TENSOR_PITCH_PAD;
    constexpr int WARPS = S::THREADS / 32, WARPS_M = S::TM / 16, WARPS_N = WARPS / WARPS_M;
    constexpr int FRAGS_N = S::TN / 16 / WARPS_N;
    static_assert(S::THREADS % 32 == 0 && WARPS % WARPS_M == 0 && FRAGS_N * 16 * WARPS_N == S::TN,
                  "the warps must tile the block tile with 16 x 16 fragments");
    static_assert(S::TK % P::K == 0, "K is stepped P::K deep");
    static_assert((PA * sizeof(T) * P::K) % 32 == 0 && (PB * sizeof(T) * P::K) % 32 == 0 && PC % 8 == 0,
                  "every fragment's first row stays 32-byte aligned");
    __shared__ __align__(32) T As[S::TK][PA];   // As[k][m]
    __shared__ __align__(32) T Bs[S::TK][PB];   // Bs[k][n]

    const int warp = (int) threadIdx.x / 32, wm = (warp / WARPS_N) * 16, wn = (warp % WARPS_N) * 16 * FRAGS_N;
    wmma::fragment<wmma::accumulator, 16, 16, P::K, float> acc[FRAGS_N];
#pragma unroll
    for (int f = 0; f < FRAGS_N; ++f) wmma::fill_fragment(acc[f], 0.f);

    if (A.p != nullptr && B.p != nullptr) {   // uniform across the block: no thread is left at a barrier
        staged_tiles<S, A_FAST, B_FAST>(M, N, K, A, B, m0, n0, As, Bs, [&]() {
#pragma unroll
            for (int kk = 0; kk < S::TK; kk += P::K) {
                // A(m, k) = As[k][m]: column-major with leading dimension PA
                wmma::fragment<wmma::matrix_a, 16, 16, P::K, typename P::Frag, wmma::col_major> fa;
                wmma::load_matrix_sync(fa, &As[kk][wm], PA);
                P::round(fa);
#pragma unroll
                for (int f = 0; f < FRAGS_N; ++f) {
                    wmma::fragment<wmma::matrix_b, 16, 16, P::K, typename P::Frag, wmma::row_major> fb;
                    wmma::load_matrix_sync(fb, &Bs[kk][wn + 16 * f], PB);
                    P::round(fb);
                    wmma::mma_sync(acc[f], fa, fb, acc[f]);
                }
            }
        });
    }
#pragma unroll
    for (int f = 0; f < FRAGS_N; ++f) wmma::store_matrix_sync(&Cs[wm][wn + 16 * f], acc[f], PC, wmma::mem_row_major);
    __syncthreads();
}

}  // namespace lstmk
