// The kernels of the CUDA backend, as extern "C" entry points that Java launches by name (cuModuleGetFunction on a
// GPU, the host build's registry on the CPU). Each is a thin instantiation of tiled_matmul.cuh or a small
// elementwise loop; their launch geometry is in kernel_geometry.h.
//
// Conventions: float32 everywhere; a null pointer argument means "absent" (zeros for an input, not written for an
// output); a matrix with a "Stride" argument has rows that many floats apart (this is how one kernel serves both
// the time-major and the batch-major sequence layout: the caller passes the first row of step t and the distance
// between consecutive batch rows). Nothing is accumulated with atomics: every output element is written by exactly
// one thread, with reductions in a fixed order, so results are identical from run to run.
#include "lstm_cell.cuh"
#include "tensor_matmul.cuh"
#include "tiled_matmul.cuh"

using namespace lstmk;

// ---- generic GEMMs -------------------------------------------------------------------------------------------------

using GemmTile = TileShape<LSTMK_GEMM_TILE_M, LSTMK_GEMM_TILE_N, LSTMK_GEMM_TILE_K, LSTMK_GEMM_MICRO_M,
                           LSTMK_GEMM_MICRO_N>;
static_assert(GemmTile::THREADS == LSTMK_GEMM_THREADS, "kernel_geometry.h: LSTMK_GEMM_THREADS");

/** Where GEMM output row m is stored: PyTorch row pytorch_row(m, H) with cRowGateH = H > 0, else row m. */
__device__ __forceinline__ long long gemm_row(int m, int cRowGateH) {
    return cRowGateH > 0 ? pytorch_row(m, cRowGateH) : m;
}

/** *out = v (+ bias[n]) (+ beta * *out); beta == 0 never reads *out. */
__device__ __forceinline__ void gemm_out(float* out, float v, const float* bias, int n, float beta) {
    v = v + (bias != nullptr ? bias[n] : 0.f);
    *out = beta == 0.f ? v : fmaf(beta, *out, v);
}

/**
 * C[M,N] = A.B (+ bias[n]) (+ beta*C). Blocks: x over M tiles, y over N tiles (grid-stride). With cRowGateH = H > 0, output row m
 * is a packed gate row and is stored at PyTorch row pytorch_row(m, H) (weight gradients); 0 stores row m at m.
 * beta == 0 never reads C, so C may hold garbage. P = Tf32 or Bf16: the tile product on tensor cores (tensor_matmul.cuh),
 * inputs rounded to P, fp32 accumulation; the same grid and block.
 */
template <Contiguous A_FAST, Contiguous B_FAST, class P>
__device__ __forceinline__ void gemm(int M, int N, int K, MatrixView A, MatrixView B, const float* bias, float beta,
                                     float* C, long long ldc, int cRowGateH) {
    const int m0 = (int) blockIdx.x * GemmTile::TM;
    // Grid-stride over N tiles: gridDim.y is capped at 65535 by CUDA, N is not.
    for (int n0 = (int) blockIdx.y * GemmTile::TN; n0 < N; n0 += (int) gridDim.y * GemmTile::TN) {
        if constexpr (P::TENSOR) {
            __shared__ __align__(32) float Cs[GemmTile::TM][GemmTile::TN + TENSOR_PITCH_PAD];
            tensor_block_product<GemmTile, A_FAST, B_FAST, P>(M, N, K, A, B, m0, n0, Cs);
            for (int e = (int) threadIdx.x; e < GemmTile::TM * GemmTile::TN; e += GemmTile::THREADS) {
                const int r = e / GemmTile::TN, c = e % GemmTile::TN;   // consecutive threads: consecutive columns
                const int m = m0 + r, n = n0 + c;
                if (m < M && n < N) gemm_out(C + gemm_row(m, cRowGateH) * ldc + n, Cs[r][c], bias, n, beta);
            }
            __syncthreads();   // the next N tile rewrites Cs
        } else {
            float acc[GemmTile::RM][GemmTile::RN] = {};
            block_product<GemmTile, A_FAST, B_FAST>(M, N, K, A, B, m0, n0, acc);
            const int mt = m0 + GemmTile::thread_row(), nt = n0 + GemmTile::thread_col();
#pragma unroll
            for (int r = 0; r < GemmTile::RM; ++r) {
                const int m = mt + r;
                if (m >= M) continue;
                const long long row = gemm_row(m, cRowGateH);
#pragma unroll
                for (int c = 0; c < GemmTile::RN; ++c) {
                    const int n = nt + c;
                    if (n < N) gemm_out(C + row * ldc + n, acc[r][c], bias, n, beta);
                }
            }
        }
    }
}

// The three operand layouts, each in fp32 and (suffixes _tf32, _bf16) on tensor cores, with one argument list:
//   nt: C = A[M,K] . B[N,K]^T   the input projection x . W_ih^T for all timesteps at once
//   nn: C = A[M,K] . B[K,N]     dx = dA . W_ih and dh0 = dA_0 . W_hh
//   tn: C = A[K,M]^T . B[K,N]   the weight gradients dW = dA^T . x and dA^T . h_prev over all T*B rows
#define LSTMK_GEMM_ENTRY(name, A_FAST, B_FAST, P, A_VIEW, B_VIEW)                                                    \
    LSTMK_ENTRY(name, LSTMK_GEMM_THREADS)(int M, int N, int K, const float* A, long long lda, const float* B,          \
                                          long long ldb, const float* bias, float beta, float* C, long long ldc,      \
                                          int cRowGateH) {                                                          \
        gemm<Contiguous::A_FAST, Contiguous::B_FAST, P>(M, N, K, A_VIEW, B_VIEW, bias, beta, C, ldc, cRowGateH);     \
    }                                                                                                              \
    LSTMK_KERNEL(name)

LSTMK_GEMM_ENTRY(lstmk_gemm_nt, K, K, Fp32, (MatrixView{A, lda, 1}), (MatrixView{B, 1, ldb}))
LSTMK_GEMM_ENTRY(lstmk_gemm_nn, K, MN, Fp32, (MatrixView{A, lda, 1}), (MatrixView{B, ldb, 1}))
LSTMK_GEMM_ENTRY(lstmk_gemm_tn, MN, MN, Fp32, (MatrixView{A, 1, lda}), (MatrixView{B, ldb, 1}))
LSTMK_GEMM_ENTRY(lstmk_gemm_nt_tf32, K, K, Tf32, (MatrixView{A, lda, 1}), (MatrixView{B, 1, ldb}))
LSTMK_GEMM_ENTRY(lstmk_gemm_nn_tf32, K, MN, Tf32, (MatrixView{A, lda, 1}), (MatrixView{B, ldb, 1}))
LSTMK_GEMM_ENTRY(lstmk_gemm_tn_tf32, MN, MN, Tf32, (MatrixView{A, 1, lda}), (MatrixView{B, ldb, 1}))
LSTMK_GEMM_ENTRY(lstmk_gemm_nt_bf16, K, K, Bf16, (MatrixView{A, lda, 1}), (MatrixView{B, 1, ldb}))
LSTMK_GEMM_ENTRY(lstmk_gemm_nn_bf16, K, MN, Bf16, (MatrixView{A, lda, 1}), (MatrixView{B, ldb, 1}))
LSTMK_GEMM_ENTRY(lstmk_gemm_tn_bf16, MN, MN, Bf16, (MatrixView{A, 1, lda}), (MatrixView{B, ldb, 1}))

// ---- fused recurrent forward step ---------------------------------------------------------------------------------

using ForwardTile = TileShape<LSTMK_FWD_TILE_B, LSTMK_FWD_TILE_N, LSTMK_FWD_TILE_K, LSTMK_FWD_MICRO_B,
                              LSTMK_FWD_MICRO_N>;
static_assert(ForwardTile::THREADS == LSTMK_FWD_THREADS, "kernel_geometry.h: LSTMK_FWD_THREADS");
static_assert(ForwardTile::RN == GATES, "a thread must own the four gates of its unit");
using SmallForwardTile = TileShape<LSTMK_FWD_SMALL_TILE_B, LSTMK_FWD_TILE_N, LSTMK_FWD_TILE_K, LSTMK_FWD_SMALL_MICRO_B,
                                   LSTMK_FWD_MICRO_N>;
static_assert(SmallForwardTile::THREADS == LSTMK_FWD_SMALL_THREADS, "kernel_geometry.h: LSTMK_FWD_SMALL_THREADS");

// The cell-feature arguments every step kernel ends with (see lstm_cell.cuh: CellParams); a variant without the
// feature ignores them.
#define LSTMK_CELL_PARAMS const float *peep, float clip, float sigHi, float sigLo, float tanhHi, float tanhLo
#define LSTMK_CELL_ARGS(H) CellParams{peep, (H), clip, sigHi, sigLo, tanhHi, tanhLo}

/**
 * One timestep for B batch rows: pre-activations h_{t-1} . W_hh^T (packed) + gx, then the cell, all in registers.
 * Blocks: x over packed gate-column tiles (TILE_N/4 units each), y over batch tiles (grid-stride).
 *
 * @param K      width of h: H_out (P with projection, else H)
 * @param hPrev  h_{t-1} rows [B, K] (null: zeros)      @param wHh   packed W_hh [4H, K]
 * @param gx     x_t . W_ih^T + b rows, packed [B, 4H]   @param c     [B, H] contiguous: c_{t-1} in, c_t out
 * @param y      m_t = o*tanh(c_t) rows out: h_t without projection, the projection's input with it
 * @param hOut   optional contiguous [B, H] copy of m_t (h_T without projection)
 * @param gates  optional activations out, packed or (gatesPytorchOrder != 0) PyTorch order
 * @param hSave  optional copy of h_{t-1} [B, K] (for dW_hh)   @param cSave optional copy of c_{t-1} (for backward)
 */
template <class S, class CellT>
__device__ __forceinline__ void forward_step(int B, int H, int K, const float* hPrev, long long hPrevStride,
                                             const float* wHh, const float* gx, long long gxStride, float* c,
                                             float* y, long long yStride, float* hOut, float* gates,
                                             long long gatesStride, int gatesPytorchOrder, float* hSave,
                                             long long hSaveStride, float* cSave, long long cSaveStride,
                                             const CellT cell) {
    const int n0 = (int) blockIdx.x * S::TN;
    const int j = (n0 + S::thread_col()) / GATES;   // this thread's hidden unit
    const bool pt = gatesPytorchOrder != 0;
    for (int m0 = (int) blockIdx.y * S::TM; m0 < B; m0 += (int) gridDim.y * S::TM) {   // grid-stride over batch tiles
        float acc[S::RM][S::RN] = {};
        block_product<S, Contiguous::K, Contiguous::K>(B, GATES * H, K, MatrixView{hPrev, hPrevStride, 1},
                                                       MatrixView{wHh, 1, K}, m0, n0, acc);
#pragma unroll
        for (int r = 0; r < S::RM; ++r) {
            const int b = m0 + S::thread_row() + r;
            if (b >= B || j >= H) continue;
            float a[GATES];
#pragma unroll
            for (int g = 0; g < GATES; ++g) a[g] = acc[r][g] + gx[b * gxStride + GATES * j + g];
            const long long bj = (long long) b * H + j;
            const float cPrev = c[bj];
            float cNew;
            const Gates x = cell.forward(a, j, cPrev, cNew);
            const float hNew = x.o * tanh_f(cNew);
            c[bj] = cNew;
            y[b * yStride + j] = hNew;
            if (hOut != nullptr) hOut[bj] = hNew;
            if (gates != nullptr) {
                float* row = gates + b * gatesStride;
                row[gate_col(j, 0, H, pt)] = x.i;
                row[gate_col(j, 1, H, pt)] = x.f;
                row[gate_col(j, 2, H, pt)] = x.g;
                row[gate_col(j, 3, H, pt)] = x.o;
            }
            // h_{t-1} has K <= H columns: the threads of units j < K copy it.
            if (hSave != nullptr && j < K) hSave[b * hSaveStride + j] = hPrev != nullptr ? hPrev[b * hPrevStride + j] : 0.f;
            if (cSave != nullptr) cSave[b * cSaveStride + j] = cPrev;
        }
    }
}

#define LSTMK_FORWARD_STEP_PARAMS                                                                                      \
    int B, int H, int K, const float *hPrev, long long hPrevStride, const float *wHh, const float *gx,                \
        long long gxStride, float *c, float *y, long long yStride, float *hOut, float *gates, long long gatesStride,  \
        int gatesPytorchOrder, float *hSave, long long hSaveStride, float *cSave, long long cSaveStride,              \
        LSTMK_CELL_PARAMS
#define LSTMK_FORWARD_STEP(name, TILE, THREADS, PEEP, CLIP)                                                            \
    LSTMK_ENTRY(name, THREADS)(LSTMK_FORWARD_STEP_PARAMS) {                                                           \
        forward_step<TILE>(B, H, K, hPrev, hPrevStride, wHh, gx, gxStride, c, y, yStride, hOut, gates, gatesStride,   \
                     gatesPytorchOrder, hSave, hSaveStride, cSave, cSaveStride,                                       \
                     Cell<PEEP, CLIP>{LSTMK_CELL_ARGS(H)});                                                           \
    }                                                                                                                  \
    LSTMK_KERNEL(name)

// One entry point per cell variant and batch tile, same arguments; the launcher picks by the layer's features and
// the batch (the _b4 ones for B <= 4; each output's sum runs over k in the same order, so both tiles give the same bits).
#define LSTMK_FORWARD_STEPS(name, TILE, THREADS)                                                                       \
    LSTMK_FORWARD_STEP(name, TILE, THREADS, false, false)                                                              \
    LSTMK_FORWARD_STEP(name##_peep, TILE, THREADS, true, false)                                                        \
    LSTMK_FORWARD_STEP(name##_clip, TILE, THREADS, false, true)                                                        \
    LSTMK_FORWARD_STEP(name##_peep_clip, TILE, THREADS, true, true)
LSTMK_FORWARD_STEPS(lstmk_lstm_forward_step, ForwardTile, LSTMK_FWD_THREADS)
LSTMK_FORWARD_STEPS(lstmk_lstm_forward_step_b4, SmallForwardTile, LSTMK_FWD_SMALL_THREADS)

// ---- persistent forward: the whole time loop in one cooperative launch ----------------------------------------------

/**
 * A uniform forward's T steps in one launch: step t is forward_step on step t's rows (row r of step t at
 * base + t*step + r*stride, which covers both layouts), then a grid sync, since step t+1 reads every block's h_t.
 * Same grid and block as one step launch, launched cooperatively (every block resident); each block updates only its
 * own units' c, so c needs no barrier of its own. Bit for bit the T step launches (the same function per step); what
 * it saves is the launch and the kernel's start per step. Not with projection (a GEMM sits between the steps).
 */
template <class S, class CellT>
__device__ __forceinline__ void forward_sequence(int T, int B, int H, int K, const float* h0, long long h0Stride,
                                                 const float* wHh, const float* gx, long long gxStride,
                                                 long long gxStep, float* c, float* y, long long yStride,
                                                 long long yStep, float* hOut, float* gates, long long gatesStride,
                                                 long long gatesStep, float* hSave, long long hSaveStride,
                                                 long long hSaveStep, float* cSave, long long cSaveStride,
                                                 long long cSaveStep, const CellT cell) {
    for (int t = 0; t < T; ++t) {
        const float* hPrev = t == 0 ? h0 : y + (t - 1) * yStep;
        forward_step<S>(B, H, K, hPrev, t == 0 ? h0Stride : yStride, wHh, gx + t * gxStep, gxStride, c, y + t * yStep,
                     yStride, t == T - 1 ? hOut : nullptr, gates == nullptr ? nullptr : gates + t * gatesStep,
                     gatesStride, 0, hSave == nullptr ? nullptr : hSave + t * hSaveStep, hSaveStride,
                     cSave == nullptr ? nullptr : cSave + t * cSaveStep, cSaveStride, cell);
        LSTMK_GRID_SYNC();
    }
}

#define LSTMK_FORWARD_SEQUENCE(name, TILE, THREADS, PEEP, CLIP)                                                        \
    LSTMK_ENTRY(name, THREADS)(int T, int B, int H, int K, const float* h0, long long h0Stride,                        \
                                         const float* wHh, const float* gx, long long gxStride, long long gxStep,      \
                                         float* c, float* y, long long yStride, long long yStep, float* hOut,          \
                                         float* gates, long long gatesStride, long long gatesStep, float* hSave,       \
                                         long long hSaveStride, long long hSaveStep, float* cSave,                     \
                                         long long cSaveStride, long long cSaveStep, LSTMK_CELL_PARAMS) {              \
        forward_sequence<TILE>(T, B, H, K, h0, h0Stride, wHh, gx, gxStride, gxStep, c, y, yStride, yStep, hOut,       \
                               gates,                                                                                 \
                         gatesStride, gatesStep, hSave, hSaveStride, hSaveStep, cSave, cSaveStride, cSaveStep,        \
                         Cell<PEEP, CLIP>{LSTMK_CELL_ARGS(H)});                                                       \
    }                                                                                                                  \
    LSTMK_KERNEL(name)

#define LSTMK_FORWARD_SEQUENCES(name, TILE, THREADS)                                                                   \
    LSTMK_FORWARD_SEQUENCE(name, TILE, THREADS, false, false)                                                          \
    LSTMK_FORWARD_SEQUENCE(name##_peep, TILE, THREADS, true, false)                                                    \
    LSTMK_FORWARD_SEQUENCE(name##_clip, TILE, THREADS, false, true)                                                    \
    LSTMK_FORWARD_SEQUENCE(name##_peep_clip, TILE, THREADS, true, true)
LSTMK_FORWARD_SEQUENCES(lstmk_lstm_forward_sequence, ForwardTile, LSTMK_FWD_THREADS)
LSTMK_FORWARD_SEQUENCES(lstmk_lstm_forward_sequence_b4, SmallForwardTile, LSTMK_FWD_SMALL_THREADS)

// ---- fused recurrent backward step --------------------------------------------------------------------------------

using BackwardTile = TileShape<LSTMK_BWD_TILE_B, LSTMK_BWD_TILE_N, LSTMK_BWD_TILE_K, LSTMK_BWD_MICRO_B,
                               LSTMK_BWD_MICRO_N>;
static_assert(BackwardTile::THREADS == LSTMK_BWD_THREADS, "kernel_geometry.h: LSTMK_BWD_THREADS");

/**
 * One timestep of backpropagation through time for B batch rows: dm_t = dIn . W (a [B,K] x [K,H] product) + dhIn +
 * dy_t, then the gate gradients dA_t and dc_{t-1} of every unit in the epilogue. Blocks: x over unit tiles, y over
 * batch tiles. Without projection dIn . W is the recurrent dA_{t+1} . W_hh (K = 4H, W = packed W_hh) and dm is dh_t;
 * with projection it is dh_t . W_hr (K = P, W = W_hr [P, H]) from lstmk_lstm_backward_dh, and dhIn, dy are null.
 *
 * Packed sequences: only the first dInRows rows have a step t+1 (dIn has those rows); rows b >= dInRows are at their
 * own last step, so they have no product (their accumulators, zero rows of dIn times W, are not read: 0 times an
 * infinite or NaN weight would be NaN, where IEEE and the reference have no term at all) and take dhIn (dh_T) instead. A uniform batch passes dInRows = B
 * (dhIn unused) except at the last step (dInRows = 0, dIn null: every row takes dh_T).
 *
 * @param dIn     [dInRows, K] rows (null: zeros, e.g. the last step)   @param w  [K, H] row-major
 * @param dInRows rows of dIn; rows b >= dInRows read zeros from it and add dhIn
 * @param dhIn    optional contiguous [B, H] extra dm (dh_T) of rows b >= dInRows   @param dy optional dy_t rows [B, H]
 * @param gates   saved activations of step t                    @param cPrev c_{t-1} rows (null: zeros)
 * @param dc      [B, H] contiguous: dc_t in, dc_{t-1} out        @param dA gate gradients of step t out, packed rows
 * @param mOut    optional m_t = o*tanh(c_t) rows out (recomputed; for dW_hr)
 * @param peepRows optional [B, 3H] rows out: da_i*c_{t-1}, da_o*c_t, da_f*c_{t-1} (PEEP only; summed into dP later)
 */
template <class CellT>
__device__ __forceinline__ void backward_step(int B, int H, int K, const float* dIn, long long dInStride, int dInRows,
                                              const float* w, const float* dhIn, const float* dy, long long dyStride,
                                              const float* gates, long long gatesStride, int gatesPytorchOrder,
                                              const float* cPrev, long long cPrevStride, float* dc, float* dA,
                                              long long dAStride, float* mOut, long long mOutStride, float* peepRows,
                                              long long peepRowsStride, const CellT cell) {
    using S = BackwardTile;
    const int n0 = (int) blockIdx.x * S::TN;
    const bool pt = gatesPytorchOrder != 0;
    for (int m0 = (int) blockIdx.y * S::TM; m0 < B; m0 += (int) gridDim.y * S::TM) {   // grid-stride over batch tiles
        float acc[S::RM][S::RN] = {};
        // Rows >= dInRows read zeros from dIn (the product's row bound is dInRows, the epilogue's B).
        block_product<S, Contiguous::K, Contiguous::MN>(dInRows, H, K, MatrixView{dIn, dInStride, 1},
                                                        MatrixView{w, H, 1}, m0, n0, acc);
#pragma unroll
        for (int r = 0; r < S::RM; ++r) {
            const int b = m0 + S::thread_row() + r;
            if (b >= B) continue;
#pragma unroll
            for (int u = 0; u < S::RN; ++u) {
                const int j = n0 + S::thread_col() + u;
                if (j >= H) continue;
                const long long bj = (long long) b * H + j;
                // a row at its own last step has no product: its accumulator is 0*W, NaN for W = inf or NaN
                float dm = b < dInRows ? acc[r][u] : 0.f;
                if (dhIn != nullptr && b >= dInRows) dm += dhIn[bj];
                if (dy != nullptr) dm += dy[b * dyStride + j];
                const float* row = gates + b * gatesStride;
                const Gates x{row[gate_col(j, 0, H, pt)], row[gate_col(j, 1, H, pt)], row[gate_col(j, 2, H, pt)],
                              row[gate_col(j, 3, H, pt)]};
                const float cp = cPrev != nullptr ? cPrev[b * cPrevStride + j] : 0.f;
                float dcj = dc[bj];
                float da[GATES], m, cNew;
                cell.backward(x, j, cp, dm, dcj, da, m, cNew);
                dc[bj] = dcj;
                float* out = dA + b * dAStride + GATES * j;
#pragma unroll
                for (int g = 0; g < GATES; ++g) out[g] = da[g];
                if (mOut != nullptr) mOut[b * mOutStride + j] = m;
                if constexpr (CellT::PEEPHOLES) {
                    if (peepRows != nullptr) {
                        float* pr = peepRows + b * peepRowsStride;
                        pr[PEEP_I * H + j] = da[0] * cp;
                        pr[PEEP_O * H + j] = da[3] * cNew;
                        pr[PEEP_F * H + j] = da[1] * cp;
                    }
                }
            }
        }
    }
}

#define LSTMK_BACKWARD_STEP_PARAMS                                                                                     \
    int B, int H, int K, const float *dIn, long long dInStride, int dInRows, const float *w, const float *dhIn,       \
        const float *dy, long long dyStride, const float *gates, long long gatesStride, int gatesPytorchOrder, const float *cPrev,     \
        long long cPrevStride, float *dc, float *dA, long long dAStride, float *mOut, long long mOutStride,           \
        float *peepRows, long long peepRowsStride, LSTMK_CELL_PARAMS
#define LSTMK_BACKWARD_STEP(name, PEEP, CLIP)                                                                          \
    LSTMK_ENTRY(name, LSTMK_BWD_THREADS)(LSTMK_BACKWARD_STEP_PARAMS) {                                                \
        backward_step(B, H, K, dIn, dInStride, dInRows, w, dhIn, dy, dyStride, gates, gatesStride, gatesPytorchOrder, cPrev,   \
                      cPrevStride, dc, dA, dAStride, mOut, mOutStride, peepRows, peepRowsStride,    \
                      Cell<PEEP, CLIP>{LSTMK_CELL_ARGS(H)});                                                          \
    }                                                                                                                  \
    LSTMK_KERNEL(name)

LSTMK_BACKWARD_STEP(lstmk_lstm_backward_step, false, false)
LSTMK_BACKWARD_STEP(lstmk_lstm_backward_step_peep, true, false)
LSTMK_BACKWARD_STEP(lstmk_lstm_backward_step_clip, false, true)
LSTMK_BACKWARD_STEP(lstmk_lstm_backward_step_peep_clip, true, true)

// ---- persistent backward: the whole backward time loop in one cooperative launch -------------------------------------

/**
 * A uniform backward's T steps, last first, in one launch: step t is backward_step on step t's rows with
 * dIn = dA_{t+1} (none at the last step, where every row takes dhIn = dh_T), then a grid sync, since step t-1 reads
 * every block's dA_t. Same grid and block as one step launch, launched cooperatively; each block updates only its own
 * units' dc. Bit for bit the T step launches. Not with projection (backward_dh sits between the steps).
 */
template <class CellT>
__device__ __forceinline__ void backward_sequence(int T, int B, int H, const float* w, const float* dhIn,
                                                  const float* dy, long long dyStride, long long dyStep,
                                                  const float* gates, long long gatesStride, long long gatesStep,
                                                  const float* cPrev, long long cPrevStride, long long cPrevStep,
                                                  float* dc, float* dA, long long dAStride, long long dAStep,
                                                  float* peepRows, long long peepRowsStride, long long peepRowsStep,
                                                  const CellT cell) {
    for (int t = T - 1; t >= 0; --t) {
        const bool last = t == T - 1;
        backward_step(B, H, GATES * H, last ? nullptr : dA + (t + 1) * dAStep, dAStride, last ? 0 : B, w, dhIn,
                      dy == nullptr ? nullptr : dy + t * dyStep, dyStride, gates + t * gatesStep, gatesStride, 0,
                      cPrev + t * cPrevStep, cPrevStride, dc, dA + t * dAStep, dAStride, nullptr, 0,
                      peepRows == nullptr ? nullptr : peepRows + t * peepRowsStep, peepRowsStride, cell);
        LSTMK_GRID_SYNC();
    }
}

#define LSTMK_BACKWARD_SEQUENCE(name, PEEP, CLIP)                                                                      \
    LSTMK_ENTRY(name, LSTMK_BWD_THREADS)(int T, int B, int H, const float* w, const float* dhIn, const float* dy,      \
                                         long long dyStride, long long dyStep, const float* gates,                     \
                                         long long gatesStride, long long gatesStep, const float* cPrev,               \
                                         long long cPrevStride, long long cPrevStep, float* dc, float* dA,             \
                                         long long dAStride, long long dAStep, float* peepRows,                        \
                                         long long peepRowsStride, long long peepRowsStep, LSTMK_CELL_PARAMS) {        \
        backward_sequence(T, B, H, w, dhIn, dy, dyStride, dyStep, gates, gatesStride, gatesStep, cPrev, cPrevStride,  \
                          cPrevStep, dc, dA, dAStride, dAStep, peepRows, peepRowsStride, peepRowsStep,               \
                          Cell<PEEP, CLIP>{LSTMK_CELL_ARGS(H)});                                                      \
    }                                                                                                                  \
    LSTMK_KERNEL(name)

LSTMK_BACKWARD_SEQUENCE(lstmk_lstm_backward_sequence, false, false)
LSTMK_BACKWARD_SEQUENCE(lstmk_lstm_backward_sequence_peep, true, false)
LSTMK_BACKWARD_SEQUENCE(lstmk_lstm_backward_sequence_clip, false, true)
LSTMK_BACKWARD_SEQUENCE(lstmk_lstm_backward_sequence_peep_clip, true, true)

// ---- projection (LSTMP), backward ---------------------------------------------------------------------------------

/**
 * The projection's own backward phase for one timestep: dh_t = dA_{t+1} . W_hh + dhIn + dy_t for B batch rows and the
 * N = P columns of h (K = 4H; W_hh packed [4H, P]), stored for its two consumers: the next backward_step, which
 * multiplies it by W_hr into dm_t before the cell epilogue, and dW_hr = sum_t dh_t^T m_t after the loop. Same tile as
 * backward_step. Blocks: x over column tiles, y over batch tiles (grid-stride).
 *
 * Packed sequences as in backward_step: rows b >= dANextRows are at their own last step (no product: their
 * accumulator is not read; + dhIn).
 *
 * @param dANext gate gradients of step t+1, packed rows (null at the last step: zeros)
 * @param dANextRows rows of dANext; rows b >= dANextRows read zeros from it and add dhIn
 * @param dhIn   optional contiguous [B, N] extra dh (dh_T) of rows b >= dANextRows   @param dy optional dy_t rows [B, N]
 * @param dh     dh_t rows out [B, N]
 */
LSTMK_ENTRY(lstmk_lstm_backward_dh, LSTMK_BWD_THREADS)(int B, int N, int K, const float* dANext,
                                                      long long dANextStride, int dANextRows, const float* wHh,
                                                      const float* dhIn, const float* dy, long long dyStride,
                                                      float* dh, long long dhStride) {
    using S = BackwardTile;
    const int n0 = (int) blockIdx.x * S::TN;
    for (int m0 = (int) blockIdx.y * S::TM; m0 < B; m0 += (int) gridDim.y * S::TM) {   // grid-stride over batch tiles
        float acc[S::RM][S::RN] = {};
        block_product<S, Contiguous::K, Contiguous::MN>(dANextRows, N, K, MatrixView{dANext, dANextStride, 1},
                                                        MatrixView{wHh, N, 1}, m0, n0, acc);
#pragma unroll
        for (int r = 0; r < S::RM; ++r) {
            const int b = m0 + S::thread_row() + r;
            if (b >= B) continue;
#pragma unroll
            for (int u = 0; u < S::RN; ++u) {
                const int j = n0 + S::thread_col() + u;
                if (j >= N) continue;
                float v = b < dANextRows ? acc[r][u] : 0.f;   // as in backward_step: 0*W is no product
                if (dhIn != nullptr && b >= dANextRows) v += dhIn[(long long) b * N + j];
                if (dy != nullptr) v += dy[b * dyStride + j];
                dh[b * dhStride + j] = v;
            }
        }
    }
}
LSTMK_KERNEL(lstmk_lstm_backward_dh)

// ---- bias gradients -----------------------------------------------------------------------------------------------

/**
 * out[n] = sum over rows m of A[m, n] (+ beta*out[n]), into out1 and, if not null, out2 (the two bias gradients are
 * equal but may accumulate onto different contents). Deterministic: each of ROWS lanes sums a fixed set of rows in
 * order, then lane sums are added in lane order. With outGateH = H > 0, column n is packed and lands at
 * pytorch_row(n, H). Blocks: x over column tiles.
 */
LSTMK_ENTRY(lstmk_colsum, LSTMK_COLSUM_THREADS)(int M, int N, const float* A, long long lda, float beta, float* out1,
                                                float* out2, int outGateH) {
    static_assert(LSTMK_COLSUM_COLS * LSTMK_COLSUM_ROWS == LSTMK_COLSUM_THREADS, "kernel_geometry.h: COLSUM");
    __shared__ float partial[LSTMK_COLSUM_ROWS][LSTMK_COLSUM_COLS + 1];
    const int col = (int) threadIdx.x % LSTMK_COLSUM_COLS, lane = (int) threadIdx.x / LSTMK_COLSUM_COLS;
    const int n = (int) blockIdx.x * LSTMK_COLSUM_COLS + col;
    float s = 0.f;
    if (n < N) {
        for (int m = lane; m < M; m += LSTMK_COLSUM_ROWS) s += A[m * lda + n];
    }
    partial[lane][col] = s;
    __syncthreads();
    if (lane != 0 || n >= N) return;
    float total = 0.f;
#pragma unroll
    for (int l = 0; l < LSTMK_COLSUM_ROWS; ++l) total += partial[l][col];
    const long long o = outGateH > 0 ? pytorch_row(n, outGateH) : n;
    out1[o] = beta == 0.f ? total : fmaf(beta, out1[o], total);
    if (out2 != nullptr) out2[o] = beta == 0.f ? total : fmaf(beta, out2[o], total);
}
LSTMK_KERNEL(lstmk_colsum)

// ---- weight packing -----------------------------------------------------------------------------------------------

/**
 * dst (packed, [4H, K]) row r = src row pytorch_row(r, H) (+ the same row of add, if not null): W_ih, W_hh, and the
 * summed biases (K = 1). Grid-stride, so any grid size covers all 4H*K elements.
 */
LSTMK_ENTRY(lstmk_pack_gate_rows, LSTMK_PACK_THREADS)(int H, int K, const float* src, const float* add, float* dst) {
    const long long total = (long long) GATES * H * K;
    const long long step = (long long) gridDim.x * blockDim.x;
    for (long long e = (long long) blockIdx.x * blockDim.x + threadIdx.x; e < total; e += step) {
        const long long r = e / K, k = e % K;
        const long long s = pytorch_row(r, H) * K + k;
        dst[e] = add != nullptr ? src[s] + add[s] : src[s];
    }
}
LSTMK_KERNEL(lstmk_pack_gate_rows)
