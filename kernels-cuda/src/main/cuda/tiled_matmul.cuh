// The one shared-memory tiled fp32 matrix product every kernel is built on: the generic GEMMs, the fused recurrent
// forward step and the fused recurrent backward step differ only in their tile shape, which operand index is
// contiguous in memory, and what they do with the accumulators afterwards (their epilogue).
#pragma once

#include "lstmk_device.cuh"

namespace lstmk {

/** A read-only matrix: element (r, c) is p[r*rowStride + c*colStride]. A null p reads as all zeros. */
struct MatrixView {
    const float* p;
    long long rowStride;
    long long colStride;
};

/**
 * A block tile of TM x TN outputs, stepped TK deep along K, each thread owning an RM x RN register tile. The
 * thread grid is (TM/RM) x (TN/RN); threads with consecutive ids own neighbouring column groups, so their
 * shared-memory reads of the B tile are consecutive 16-byte vectors.
 */
template <int TM_, int TN_, int TK_, int RM_, int RN_>
struct TileShape {
    static constexpr int TM = TM_, TN = TN_, TK = TK_, RM = RM_, RN = RN_;
    static constexpr int THREADS_N = TN / RN;
    static constexpr int THREADS = (TM / RM) * (TN / RN);
    static_assert(TM % RM == 0 && TN % RN == 0, "the register tile must divide the block tile");
    static_assert((TM * TK) % THREADS == 0 && (TK * TN) % THREADS == 0, "tile loads must split evenly over threads");

    /** Row of the register tile's first element within the block tile. */
    __device__ __forceinline__ static int thread_row() { return (int) (threadIdx.x / THREADS_N) * RM; }
    /** Column of the register tile's first element within the block tile. */
    __device__ __forceinline__ static int thread_col() { return (int) (threadIdx.x % THREADS_N) * RN; }
};

/** Which index of an operand is contiguous in memory: the reduction index K, or the output index (M or N). */
enum class Contiguous { K, MN };

/**
 * One operand's share of a ROWS x TK tile (element (i, k) = op(i0+i, k0+k): rows of A or columns of B), held in
 * registers between the global load and the shared-memory store, so that the next tile's loads are in flight while
 * the current tile is multiplied. Neighbouring threads take neighbouring elements along whichever index is
 * contiguous in memory, so global reads coalesce. PER is a compile-time constant and every loop over it unrolls,
 * so the staging array stays in registers.
 */
template <int ROWS, int TK, int THREADS, Contiguous FAST>
struct TileStage {
    static constexpr int PER = ROWS * TK / THREADS;
    float v[PER];

    __device__ __forceinline__ static int row_of(int e) { return FAST == Contiguous::K ? e / TK : e % ROWS; }
    __device__ __forceinline__ static int k_of(int e) { return FAST == Contiguous::K ? e % TK : e / ROWS; }

    /** Global -> registers; zero outside [0, limit) x [0, K). */
    __device__ __forceinline__ void fetch(MatrixView op, int i0, int limit, int k0, int K) {
#pragma unroll
        for (int q = 0; q < PER; ++q) {
            const int e = (int) threadIdx.x + q * THREADS;
            const int gi = i0 + row_of(e), gk = k0 + k_of(e);
            v[q] = (gi < limit && gk < K) ? op.p[gi * op.rowStride + gk * op.colStride] : 0.f;
        }
    }

    /** Registers -> tile[k][i] in shared memory, converted to the tile's element type T (float, or bf16). */
    template <int PITCH, class T>
    __device__ __forceinline__ void store(T (*tile)[PITCH]) const {
#pragma unroll
        for (int q = 0; q < PER; ++q) {
            const int e = (int) threadIdx.x + q * THREADS;
            tile[k_of(e)][row_of(e)] = T(v[q]);
        }
    }
};

/**
 * The software-pipelined main loop both tile products share: each TK-deep slice of A's rows [m0, m0+TM) and B's
 * columns [n0, n0+TN) is stored into As[k][i] and Bs[k][j] (zeros outside M x N x K), then {@code multiply()} runs on it
 * between two barriers, while the next slice's global loads are already in flight in registers. Every thread of the
 * block must call it (it synchronises).
 */
template <class S, Contiguous A_FAST, Contiguous B_FAST, int PA, int PB, class T, class Multiply>
__device__ __forceinline__ void staged_tiles(int M, int N, int K, MatrixView A, MatrixView B, int m0, int n0,
                                             T (*As)[PA], T (*Bs)[PB], Multiply multiply) {
    const MatrixView Bt{B.p, B.colStride, B.rowStride};   // B's columns as the rows of its tile
    TileStage<S::TM, S::TK, S::THREADS, A_FAST> a;
    TileStage<S::TN, S::TK, S::THREADS, B_FAST> b;
    a.fetch(A, m0, M, 0, K);
    b.fetch(Bt, n0, N, 0, K);
    for (int k0 = 0; k0 < K; k0 += S::TK) {
        a.store(As);
        b.store(Bs);
        __syncthreads();
        if (k0 + S::TK < K) {   // uniform: the next tile's global loads overlap this tile's arithmetic
            a.fetch(A, m0, M, k0 + S::TK, K);
            b.fetch(Bt, n0, N, k0 + S::TK, K);
        }
        multiply();
        __syncthreads();   // the next iteration overwrites the tiles
    }
}

/**
 * acc += A[m0.., 0..K) . B[0..K), n0..) for this thread's register tile; A is M x K, B is K x N (as views: A(m,k)
 * and B(k,n)). Every thread of the block must call it (it synchronises); out-of-range rows and columns contribute
 * zeros, so any M, N, K works. A null A or B leaves acc unchanged. Software-pipelined: tile k+1 is fetched into
 * registers before tile k is multiplied out of shared memory.
 */
template <class S, Contiguous A_FAST, Contiguous B_FAST>
__device__ __forceinline__ void block_product(int M, int N, int K, MatrixView A, MatrixView B, int m0, int n0,
                                              float (&acc)[S::RM][S::RN]) {
    // Rows padded to a multiple of 4 floats: keeps every register-tile read 16-byte aligned.
    constexpr int PA = S::TM + 4, PB = S::TN + 4;
    __shared__ __align__(16) float As[S::TK][PA];
    __shared__ __align__(16) float Bs[S::TK][PB];
    if (A.p == nullptr || B.p == nullptr) return;   // uniform across the block: no thread is left at a barrier

    const int tr = S::thread_row(), tc = S::thread_col();
    staged_tiles<S, A_FAST, B_FAST>(M, N, K, A, B, m0, n0, As, Bs, [&]() {
#pragma unroll 8
        for (int kk = 0; kk < S::TK; ++kk) {
            float x[S::RM], y[S::RN];
            read_row<S::RM>(&As[kk][tr], x);
            read_row<S::RN>(&Bs[kk][tc], y);
#pragma unroll
            for (int r = 0; r < S::RM; ++r) {
#pragma unroll
                for (int c = 0; c < S::RN; ++c) acc[r][c] = fmaf(x[r], y[c], acc[r][c]);
            }
        }
    });
}

}  // namespace lstmk
