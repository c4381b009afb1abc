// Launch geometry of every kernel: the compile-time tile shapes the kernels are built with, and what the Java
// launcher needs to size grids and blocks. This file is the single source of truth: build-kernels.sh copies every
// "#define LSTMK_<NAME> <integer>" line into kernel-geometry.properties, which the Java side reads, so the two
// can never disagree. Keep the format: one plain integer per define, no expressions.
#pragma once

// Generic fp32 GEMM (input projection, dx, dW_ih, dW_hh, dh0): a TILE_M x TILE_N block tile, TILE_K deep,
// each thread owning a MICRO_M x MICRO_N register tile. THREADS = (TILE_M/MICRO_M) * (TILE_N/MICRO_N).
#define LSTMK_GEMM_TILE_M 64
#define LSTMK_GEMM_TILE_N 64
#define LSTMK_GEMM_TILE_K 16
#define LSTMK_GEMM_MICRO_M 4
#define LSTMK_GEMM_MICRO_N 4
#define LSTMK_GEMM_THREADS 256

// Fused recurrent forward step: block = TILE_B batch rows x TILE_N packed gate columns (TILE_N/4 hidden units with
// all four gates). MICRO_N must be 4: a thread owns the four gates of one unit for MICRO_B batch rows, so the
// whole LSTM cell runs in its registers. 8 units per block so that B = 16 already gives H/8 blocks per step
// (128 for H = 1024) to spread over the SMs; every weight loaded is still used for 16 batch rows.
#define LSTMK_FWD_TILE_B 16
#define LSTMK_FWD_TILE_N 32
#define LSTMK_FWD_TILE_K 32
#define LSTMK_FWD_MICRO_B 2
#define LSTMK_FWD_MICRO_N 4
#define LSTMK_FWD_THREADS 64

// The same for small batches (B <= FWD_SMALL_TILE_B): a 4-row batch tile, one row per thread, one warp per block, so
// that at B = 1 a block does a quarter of the 16-row tile's wasted work. Same units per block and K tile.
#define LSTMK_FWD_SMALL_TILE_B 4
#define LSTMK_FWD_SMALL_MICRO_B 1
#define LSTMK_FWD_SMALL_THREADS 32

// Fused recurrent backward step: dh_t = dA_{t+1} . W_hh for TILE_B batch rows x TILE_N hidden units, K = 4H,
// then the elementwise gate gradients of step t in the epilogue.
#define LSTMK_BWD_TILE_B 16
#define LSTMK_BWD_TILE_N 32
#define LSTMK_BWD_TILE_K 32
#define LSTMK_BWD_MICRO_B 4
#define LSTMK_BWD_MICRO_N 2
#define LSTMK_BWD_THREADS 64

// Deterministic column sum (bias gradients): COLS columns per block, ROWS row lanes summed in a fixed order.
#define LSTMK_COLSUM_COLS 32
#define LSTMK_COLSUM_ROWS 8
#define LSTMK_COLSUM_THREADS 256

// Grid-stride elementwise kernels (weight packing).
#define LSTMK_PACK_THREADS 256
