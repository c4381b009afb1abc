// FMA throughput ceiling of this CPU, per core and for all cores, at 256 bits and (where the CPU has AVX-512) 512 bits: 12 independent
// accumulators per thread (more than FMA latency x pipes on current x86), nothing else in the loop.
// Build and run: bench/peak/run.sh. Prints GFLOP/s (2 flops per lane per FMA).
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ROUNDS 200000000L

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

#define BODY(T, FMA, SET)                                                                      \
    T a = SET(1.0000001f), b = SET(0.9999999f);                                                \
    T c0 = SET(0), c1 = SET(1), c2 = SET(2), c3 = SET(3), c4 = SET(4), c5 = SET(5);            \
    T c6 = SET(6), c7 = SET(7), c8 = SET(8), c9 = SET(9), c10 = SET(10), c11 = SET(11);        \
    for (long r = 0; r < rounds; r++) {                                                        \
        c0 = FMA(a, c0, b); c1 = FMA(a, c1, b); c2 = FMA(a, c2, b); c3 = FMA(a, c3, b);        \
        c4 = FMA(a, c4, b); c5 = FMA(a, c5, b); c6 = FMA(a, c6, b); c7 = FMA(a, c7, b);        \
        c8 = FMA(a, c8, b); c9 = FMA(a, c9, b); c10 = FMA(a, c10, b); c11 = FMA(a, c11, b);    \
        __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3), "+v"(c4), "+v"(c5));     \
        __asm__ volatile("" : "+v"(c6), "+v"(c7), "+v"(c8), "+v"(c9), "+v"(c10), "+v"(c11));   \
    }                                                                                          \
    T s = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11;                         \
    float out[sizeof(T) / 4];                                                                  \
    memcpy(out, &s, sizeof(T));                                                                \
    sink += out[0];

#include <string.h>
static volatile float sink;

__attribute__((target("avx2,fma"))) static void run256(long rounds) { BODY(__m256, _mm256_fmadd_ps, _mm256_set1_ps) }
__attribute__((target("avx512f"))) static void run512(long rounds) { BODY(__m512, _mm512_fmadd_ps, _mm512_set1_ps) }

struct job { int bits; long rounds; };

static void *worker(void *p) {
    struct job *j = p;
    if (j->bits == 512) run512(j->rounds); else run256(j->rounds);
    return NULL;
}

static double measure(int bits, int threads, long rounds) {
    pthread_t t[64];
    struct job j = {bits, rounds};
    double t0 = now();
    for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, &j);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    double s = now() - t0;
    return 12.0 * rounds * (bits / 32) * 2 * threads / s / 1e9;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    long rounds = ROUNDS / 10;
    // Only the widths this CPU has: an AVX2-only machine would die of an illegal instruction at 512 bits.
    int has256 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int has512 = __builtin_cpu_supports("avx512f");
    if (!has256) {
        printf("no AVX2+FMA on this CPU: nothing to measure\n");
        return 1;
    }
    measure(has512 ? 512 : 256, 1, rounds / 10);  // warm up the clocks
    for (int bits = 256; bits <= 512; bits += 256) {
        if (bits == 512 && !has512) {
            printf("512-bit FMA: not supported by this CPU (no AVX-512F); the ceiling is the 256-bit figure\n");
            continue;
        }
        for (int n = 1; n <= threads; n++) {
            double best = 0;
            for (int rep = 0; rep < 5; rep++) {
                double g = measure(bits, n, rounds);
                if (g > best) best = g;
            }
            printf("%d-bit FMA, %d thread(s): %.1f GFLOP/s (best of 5)\n", bits, n, best);
        }
    }
    return 0;
}
