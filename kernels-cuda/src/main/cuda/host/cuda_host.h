// The CUDA built-ins our kernels use, for a g++ build of the same .cu sources (the "host build"), so that CI runs
// the kernels' indexing, tiling and synchronisation on a machine without a GPU. Force-included by build-kernels.sh
// (g++ -include host/cuda_host.h -x c++ lstm_kernels.cu).
//
// Execution model (see cuda_host.cpp): a launch runs its blocks on several OS threads at once, the "block lanes"
// (lstmk_host_set_block_lanes, default 3; the caller is lane 0): lane l takes the l-th contiguous share of the linear
// block ids and runs those blocks one after another, in ascending order, descending order or a fixed stride permutation
// (the schedule, lstmk_host_set_schedule). So blocks that depend on each other within a launch (one reading what
// another writes: a race on a GPU, which promises no order) give results that change with the schedule, where running
// every block in ascending order on one thread hid it. The assignment of blocks to lanes and their order are
// deterministic; the timing between lanes is not. A launch reports the failure of its lowest failing block, as the
// sequential model did. Each CUDA thread of a block is a fiber with its own stack; fibers run round-robin, each until
// it reaches __syncthreads() or returns. __syncthreads() is a real barrier: the block continues only once every thread
// has reached the same __syncthreads() call; a thread that returns while others wait at a barrier, or threads waiting
// at different __syncthreads() calls, fail the launch (undefined behaviour on a GPU). __shared__ variables are
// per-OS-thread statics, i.e. per block, since a block's fibers all run on one OS thread (its lane's). __trap() fails
// the launch.
//
// Device memory (lstmk_host_alloc): each allocation ends at a PROT_NONE page (its size rounded up to 16 bytes, which
// keeps the start 16-byte aligned), so a kernel that reads past the end of a buffer crashes the process with SIGSEGV
// at the read; in the JVM that is a crashed test fork, which fails the build, where before the read returned a
// neighbour's bytes and the test passed. Writes past the end, and into the guard zone before the start, fail the
// launch (or fault, further out). Fresh memory, and the < 16-byte tail, read as NaN.
//
// Tensor cores (nvcuda::wmma: TF32 m16n16k8, BF16 m16n16k16 with cuda_bf16.h's __nv_bfloat16), emulated at the
// matrix level: the API leaves the mapping of a
// fragment's elements to a warp's threads unspecified (a kernel may only apply the same operation to every element),
// so here every thread's fragment holds the whole tile, and load/mma/store are done by each thread on its own copy,
// giving the results the warp's collective operation would. The GPU's constraints are checked (and break the launch
// like __trap): load/store pointers 256-bit aligned, ldm a multiple of 16 bytes. Not checked: that all 32 threads
// of a warp make the same call together (the kernels call them unconditionally, in uniform code).
//
// Cooperative launches and the grid-wide barrier (LSTMK_GRID_SYNC: cooperative_groups::this_grid().sync() on a GPU):
// a cooperative launch runs every block at once, each on its own OS thread, so grid syncs are real barriers; a block
// that returns or fails while others wait at one fails the launch (a GPU hangs), a grid sync outside a cooperative
// launch fails it, and a grid larger than the emulated co-residency limit is refused.
//
// Not supplied, on purpose (a kernel using them does not compile here): warp intrinsics (__shfl*, __ballot*,
// warp-level reductions), atomics, dynamic shared memory (extern __shared__), the rest of cooperative groups. Our kernels avoid
// them; a kernel that needs one must bring its emulation, with its constraints documented, first.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#define LSTMK_HOST_BUILD 1

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)   // the bound is registered through LSTMK_ENTRY instead
#define __shared__ static thread_local
#define __align__(n) __attribute__((aligned(n)))

struct uint3 {
    unsigned x, y, z;
};
struct dim3 {
    unsigned x, y, z;
};
struct alignas(8) float2 {
    float x, y;
};
struct alignas(16) float4 {
    float x, y, z, w;
};

// expf, tanhf, fmaf: the C library's (declared by <cmath> in the global namespace), as accurate as the device's.
inline float __expf(float v) { return std::exp(v); }

namespace lstmk_host {

/** The current fiber's threadIdx (fibers of one block share an OS thread, so this cannot be a plain thread_local). */
const uint3& thread_idx();
extern thread_local uint3 block_idx;
extern thread_local dim3 block_dim;
extern thread_local dim3 grid_dim;

/** Barrier over the block's threads; file and line identify the call so that divergent barriers are reported. */
void sync_threads(const char* file, int line);

/**
 * A grid-wide barrier (LSTMK_GRID_SYNC, cooperative_groups' grid.sync() on a GPU): the block's threads wait as at
 * __syncthreads, then the block waits for every other block; only in a cooperative launch (else the launch fails).
 */
void grid_sync(const char* file, int line);

/** Fails the launch with a message naming the place (a kernel's __trap()). */
[[noreturn]] void trap(const char* file, int line);

/** Type-erased call of a kernel with cuLaunchKernel-style arguments: params[i] points at the i-th argument. */
using Thunk = void (*)(void* fn, void** params);

/**
 * Adds a kernel to the registry the launcher looks names up in; returns true (for static initialisation).
 * maxThreads is the kernel's __launch_bounds__, which a launch may not exceed (as on a GPU).
 */
bool register_kernel(const char* name, void* fn, Thunk thunk, const char* signature, unsigned maxThreads);

/** One letter per parameter type: the contract between the Java launcher's argument list and the kernel. */
template <class T>
constexpr char type_code() {
    if constexpr (std::is_pointer_v<T>) {
        static_assert(std::is_same_v<std::remove_cv_t<std::remove_pointer_t<T>>, float>, "kernel pointers are float*");
        return 'p';
    } else if constexpr (std::is_same_v<T, int>) {
        return 'i';
    } else if constexpr (std::is_same_v<T, long long>) {
        return 'l';
    } else if constexpr (std::is_same_v<T, float>) {
        return 'f';
    } else {
        static_assert(sizeof(T) == 0, "kernel parameters are float*, int, long long or float");
        return '?';
    }
}

template <class... A>
struct Invoker {
    template <std::size_t... I>
    static void call(void (*f)(A...), void** p, std::index_sequence<I...>) {
        f(*static_cast<A*>(p[I])...);
    }
    static void thunk(void* fn, void** params) {
        call(reinterpret_cast<void (*)(A...)>(fn), params, std::index_sequence_for<A...>{});
    }
};

template <class... A>
bool register_kernel(const char* name, void (*fn)(A...), unsigned maxThreads) {
    static const char signature[] = {type_code<A>()..., '\0'};
    return register_kernel(name, reinterpret_cast<void*>(fn), &Invoker<A...>::thunk, signature, maxThreads);
}

}  // namespace lstmk_host

#define threadIdx (::lstmk_host::thread_idx())
#define blockIdx (::lstmk_host::block_idx)
#define blockDim (::lstmk_host::block_dim)
#define gridDim (::lstmk_host::grid_dim)
#define __syncthreads() ::lstmk_host::sync_threads(__FILE__, __LINE__)
#define __trap() ::lstmk_host::trap(__FILE__, __LINE__)
#define LSTMK_GRID_SYNC() ::lstmk_host::grid_sync(__FILE__, __LINE__)

/**
 * The head of a kernel definition, `LSTMK_ENTRY(name, maxThreads)(params) { ... }`: with nvcc exactly
 * `extern "C" __global__ void __launch_bounds__(maxThreads) name` (lstmk_device.cuh), here also a constant holding
 * the bound, which LSTMK_KERNEL registers with the kernel so that a launch with more threads per block fails as it
 * does on a GPU. The number is written once; a kernel declared without this macro does not build here
 * (LSTMK_KERNEL finds no lstmk_max_threads_<name>).
 */
#define LSTMK_ENTRY(name, maxThreads)                                    \
    constexpr unsigned lstmk_max_threads_##name = (maxThreads);          \
    extern "C" __global__ void name

/** Registers an extern "C" kernel under its name (nvcc: nothing; the module's symbol table does that). */
#define LSTMK_KERNEL(name)                                                                                  \
    static const bool lstmk_registered_##name [[maybe_unused]] =                                            \
        ::lstmk_host::register_kernel(#name, &name, lstmk_max_threads_##name);

// ---- bfloat16 storage (cuda_bf16.h's __nv_bfloat16: the top 16 bits of a float) -----------------------------------

struct __nv_bfloat16 {
    std::uint16_t bits;
    __nv_bfloat16() = default;
    /** To nearest, ties to even, as __float2bfloat16; NaN stays (quiet) NaN. */
    __nv_bfloat16(float f) {
        std::uint32_t u;
        std::memcpy(&u, &f, sizeof u);
        bits = (u & 0x7fffffffu) > 0x7f800000u ? static_cast<std::uint16_t>((u >> 16) | 0x0040u)
                                               : static_cast<std::uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
    operator float() const {
        const std::uint32_t u = static_cast<std::uint32_t>(bits) << 16;
        float f;
        std::memcpy(&f, &u, sizeof f);
        return f;
    }
};
inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 b) { return static_cast<float>(b); }

// ---- tensor cores: nvcuda::wmma (TF32 m16n16k8, BF16 m16n16k16), emulated at the matrix level (see the top) ---------
namespace nvcuda {
namespace wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
namespace precision {
struct tf32 {};
}  // namespace precision
enum layout_t { mem_row_major, mem_col_major };

/** Rows and columns of a fragment's tile: A is M x K, B is K x N, the accumulator M x N. */
template <class Use, int M, int N, int K>
struct fragment_shape;
template <int M, int N, int K>
struct fragment_shape<matrix_a, M, N, K> { static constexpr int rows = M, cols = K; };
template <int M, int N, int K>
struct fragment_shape<matrix_b, M, N, K> { static constexpr int rows = K, cols = N; };
template <int M, int N, int K>
struct fragment_shape<accumulator, M, N, K> { static constexpr int rows = M, cols = N; };

/**
 * The whole tile, row-major, in every thread, as floats (a BF16 input holds bf16 values exactly); x[] is opaque to
 * kernels: only uniform per-element operations.
 */
template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
    static_assert(M == 16 && N == 16 && (K == 8 || K == 16), "the host build emulates m16n16k8 and m16n16k16 only");
    static_assert(std::is_same_v<Use, accumulator>
                          ? std::is_same_v<T, float>
                          : (K == 8 && std::is_same_v<T, precision::tf32>) || (K == 16 && std::is_same_v<T, __nv_bfloat16>),
                  "TF32 inputs with K = 8, BF16 inputs with K = 16, float accumulators");
    static constexpr int rows = fragment_shape<Use, M, N, K>::rows, cols = fragment_shape<Use, M, N, K>::cols;
    static constexpr int num_elements = rows * cols;
    float x[num_elements];
    float& at(int r, int c) { return x[r * cols + c]; }
    const float& at(int r, int c) const { return x[r * cols + c]; }
};

/** What a GPU requires of a wmma load or store: a 256-bit aligned pointer, ldm a multiple of 16 bytes. */
template <class E>
inline void check_matrix_pointer(const E* p, unsigned ldm, const char* call) {
    if (reinterpret_cast<std::uintptr_t>(p) % 32 != 0 || (ldm * sizeof(E)) % 16 != 0) ::lstmk_host::trap(call, (int) ldm);
}

template <class Use, int M, int N, int K, class T, class Layout>
inline void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, float v) {
    for (float& e : f.x) e = v;
}

/** A or B from memory in the fragment's layout: row_major (r, c) at p[r*ldm + c], col_major at p[c*ldm + r]. */
template <class Use, int M, int N, int K, class T, class Layout, class E>
inline void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f, const E* p, unsigned ldm) {
    static_assert(std::is_same_v<Layout, row_major> || std::is_same_v<Layout, col_major>, "A and B need a layout");
    static_assert(std::is_same_v<E, std::conditional_t<std::is_same_v<T, __nv_bfloat16>, __nv_bfloat16, float>>,
                  "TF32 fragments load floats, BF16 fragments load __nv_bfloat16");
    check_matrix_pointer(p, ldm, "wmma::load_matrix_sync: pointer not 256-bit aligned or ldm not a multiple of 16 bytes");
    for (int r = 0; r < f.rows; ++r) {
        for (int c = 0; c < f.cols; ++c) {
            f.at(r, c) = static_cast<float>(std::is_same_v<Layout, row_major> ? p[(long long) r * ldm + c]
                                                                              : p[(long long) c * ldm + r]);
        }
    }
}

template <int M, int N, int K>
inline void load_matrix_sync(fragment<accumulator, M, N, K, float>& f, const float* p, unsigned ldm, layout_t l) {
    check_matrix_pointer(p, ldm, "wmma::load_matrix_sync: pointer not 256-bit aligned or ldm not a multiple of 16 bytes");
    for (int r = 0; r < f.rows; ++r) {
        for (int c = 0; c < f.cols; ++c) f.at(r, c) = l == mem_row_major ? p[(long long) r * ldm + c] : p[(long long) c * ldm + r];
    }
}

template <int M, int N, int K>
inline void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& f, unsigned ldm, layout_t l) {
    check_matrix_pointer(p, ldm, "wmma::store_matrix_sync: pointer not 256-bit aligned or ldm not a multiple of 16 bytes");
    for (int r = 0; r < f.rows; ++r) {
        for (int c = 0; c < f.cols; ++c) {
            (l == mem_row_major ? p[(long long) r * ldm + c] : p[(long long) c * ldm + r]) = f.at(r, c);
        }
    }
}

/** d = a·b + c, accumulated in float in k order (the hardware's order within one mma is unspecified). */
template <int M, int N, int K, class T, class LA, class LB>
inline void mma_sync(fragment<accumulator, M, N, K, float>& d, const fragment<matrix_a, M, N, K, T, LA>& a,
                     const fragment<matrix_b, M, N, K, T, LB>& b, const fragment<accumulator, M, N, K, float>& c) {
    fragment<accumulator, M, N, K, float> out;
    for (int i = 0; i < M; ++i) {
        for (int j = 0; j < N; ++j) {
            float acc = c.at(i, j);
            for (int k = 0; k < K; ++k) acc = std::fma(a.at(i, k), b.at(k, j), acc);
            out.at(i, j) = acc;
        }
    }
    d = out;
}

/**
 * The float nearest v with TF32's 10 mantissa bits (ties away from zero, as cvt.rna.tf32.f32); infinities and NaN
 * unchanged.
 */
inline float __float_to_tf32(float v) {
    std::uint32_t u;
    std::memcpy(&u, &v, sizeof u);
    if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;
    float r;
    std::memcpy(&r, &u, sizeof r);
    return r;
}

}  // namespace wmma
}  // namespace nvcuda
