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
// Not supplied, on purpose (a kernel using them does not compile here): warp intrinsics (__shfl*, __ballot*,
// warp-level reductions), atomics, dynamic shared memory (extern __shared__), cooperative groups. Our kernels avoid
// them; a kernel that needs one must bring its emulation, with its constraints documented, first.
#pragma once

#include <cmath>
#include <cstddef>
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
