// Tests of the host build's CUDA emulation itself (host/cuda_host.h, cuda_host.cpp): that __syncthreads is a real
// barrier, that __shared__ is per block, that misuse a GPU would not forgive is reported, and that launches check
// what cuLaunchKernel checks; and of what the Java tests cannot reach: the library's GEMM kernels (lstm_kernels.cu,
// linked in) with element indices past 2^32, on sparse memory. build-kernels.sh compiles and runs this after
// building the host library; a failure fails the build. Kernels here are for these tests only.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

extern "C" {
int lstmk_host_launch(const char*, const char*, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                      void**, char*, int);
void* lstmk_host_alloc(long long);
int lstmk_host_free(void*, char*, int);
long long lstmk_host_live_allocations();
void lstmk_host_set_schedule(int);
void lstmk_host_set_block_lanes(int);
int lstmk_host_block_lanes();
}

// Reverses each block's slice through shared memory: only correct if the barrier holds every thread back until
// all have written, whatever order the threads run in. Uses a 2-D block to check the threadIdx decomposition.
LSTMK_ENTRY(test_reverse, 256)(int n, const float* in, float* out) {
    __shared__ float tile[256];
    const int t = (int) (threadIdx.y * blockDim.x + threadIdx.x);
    const int base = (int) blockIdx.x * 256;
    tile[t] = base + t < n ? in[base + t] : -1.f;
    __syncthreads();
    if (base + t < n) out[base + t] = tile[255 - t] + 1000.f * (float) blockIdx.x;
}
LSTMK_KERNEL(test_reverse)

// The same without the barrier: must come out wrong under at least one schedule (ascending or descending order),
// which shows the emulation exposes a missing barrier rather than hiding it.
LSTMK_ENTRY(test_reverse_no_barrier, 256)(int n, const float* in, float* out) {
    __shared__ float tile[256];
    const int t = (int) threadIdx.x;
    const int base = (int) blockIdx.x * 256;
    tile[t] = base + t < n ? in[base + t] : -1.f;
    if (base + t < n) out[base + t] = tile[255 - t] + 1000.f * (float) blockIdx.x;
}
LSTMK_KERNEL(test_reverse_no_barrier)

// Odd threads return before the barrier: undefined behaviour on a GPU, must be reported.
LSTMK_ENTRY(test_divergent_barrier, 64)(int n, float* out) {
    if (threadIdx.x % 2 == 1) return;
    __syncthreads();
    if ((int) threadIdx.x < n) out[threadIdx.x] = 1.f;
}
LSTMK_KERNEL(test_divergent_barrier)

// Threads wait at two different barriers.
LSTMK_ENTRY(test_two_barriers, 32)(float* out) {
    if (threadIdx.x < 16) {
        __syncthreads();
    } else {
        __syncthreads();
    }
    out[threadIdx.x] = 0.f;
}
LSTMK_KERNEL(test_two_barriers)

LSTMK_ENTRY(test_trap, 32)(int when) {
    if ((int) threadIdx.x == when) __trap();
}
LSTMK_KERNEL(test_trap)

// Writes one float past the end of out (an allocation of n floats, n not a multiple of 4, so that the float lands in
// the tail before the PROT_NONE page, where the guard check sees it; further out it would fault).
LSTMK_ENTRY(test_overrun, 1)(int n, float* out) {
    if (threadIdx.x == 0) out[n] = 1.f;
}
LSTMK_KERNEL(test_overrun)

// Copies in[i] to out[0]: with i = n, one element past an allocation of n.
LSTMK_ENTRY(test_read_at, 1)(int i, const float* in, float* out) {
    if (threadIdx.x == 0) out[0] = in[i];
}
LSTMK_KERNEL(test_read_at)

// Block b adds one to what block b-1 wrote: a chain through global memory between blocks of one launch, right only
// if the blocks run one after another in ascending order, which a GPU does not promise (a race between blocks).
LSTMK_ENTRY(test_block_chain, 1)(float* v) {
    v[blockIdx.x + 1] = v[blockIdx.x] + 1.f;
}
LSTMK_KERNEL(test_block_chain)

// Traps in every block b with b % every == every - 1.
LSTMK_ENTRY(test_trap_blocks, 32)(int every) {
    if ((int) (blockIdx.x % every) == every - 1 && threadIdx.x == 7) __trap();
}
LSTMK_KERNEL(test_trap_blocks)

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
    std::printf("%s %s\n", ok ? "  ok  " : "  FAIL", what.c_str());
    if (!ok) ++failures;
}

struct Launch {
    int rc;
    std::string message;
};

Launch launch(const char* name, const char* sig, unsigned gx, unsigned bx, unsigned by, std::vector<void*> params) {
    char err[512] = {0};
    int rc = lstmk_host_launch(name, sig, gx, 1, 1, bx, by, 1, 0, params.data(), err, sizeof err);
    return Launch{rc, err};
}

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

void test_barrier_and_shared_memory() {
    const int n = 700;   // three blocks, the last one partial
    auto* in = static_cast<float*>(lstmk_host_alloc(n * 4));
    auto* out = static_cast<float*>(lstmk_host_alloc(n * 4));
    for (int i = 0; i < n; ++i) in[i] = (float) i;
    for (int schedule = 0; schedule < 3; ++schedule) {
        lstmk_host_set_schedule(schedule);
        int nn = n;
        Launch l = launch("test_reverse", "ipp", 3, 16, 16, {&nn, &in, &out});
        bool right = l.rc == 0;
        for (int i = 0; i < n && right; ++i) {
            int block = i / 256, t = i % 256, src = block * 256 + 255 - t;
            float expected = (src < n ? (float) src : -1.f) + 1000.f * (float) block;
            right = out[i] == expected;
        }
        expect(right, "barrier + per-block shared memory, schedule " + std::to_string(schedule) + " " + l.message);
    }
    bool exposed = false;
    for (int schedule = 0; schedule < 2; ++schedule) {
        lstmk_host_set_schedule(schedule);
        int nn = n;
        Launch l = launch("test_reverse_no_barrier", "ipp", 3, 256, 1, {&nn, &in, &out});
        for (int i = 0; i < 256; ++i) exposed |= l.rc == 0 && out[i] != (float) (255 - i);
    }
    expect(exposed, "a missing barrier gives wrong results under some schedule");
    lstmk_host_set_schedule(0);
    char err[256];
    expect(lstmk_host_free(in, err, sizeof err) == 0 && lstmk_host_free(out, err, sizeof err) == 0, "free");
}

void test_misuse_is_reported() {
    int n = 63;
    auto* out = static_cast<float*>(lstmk_host_alloc(n * 4));
    Launch d = launch("test_divergent_barrier", "ip", 1, 64, 1, {&n, &out});
    expect(d.rc == 4 && contains(d.message, "not reached by every thread"), "divergent barrier: " + d.message);
    Launch two = launch("test_two_barriers", "p", 1, 32, 1, {&out});
    expect(two.rc == 4 && contains(two.message, "different __syncthreads"), "two barriers: " + two.message);
    int when = 5;
    Launch t = launch("test_trap", "i", 1, 32, 1, {&when});
    expect(t.rc == 4 && contains(t.message, "__trap()") && contains(t.message, "thread (5,0,0)"), "trap: " + t.message);
    Launch o = launch("test_overrun", "ip", 1, 1, 1, {&n, &out});
    expect(o.rc == 4 && contains(o.message, "wrote outside a buffer"), "overrun: " + o.message);
    Launch again = launch("test_divergent_barrier", "ip", 1, 2, 1, {&n, &out});
    expect(again.rc == 4 && !contains(again.message, "outside a buffer"), "a damaged guard fails one launch only");
    char err[256] = {0};
    int freed = lstmk_host_free(out, err, sizeof err);
    expect(freed == 1, std::string("free reports the damaged guard: ") + err);
    int twice = lstmk_host_free(out, err, sizeof err);
    expect(twice == 2, std::string("double free reported: ") + err);
}

void test_launch_checks() {
    int n = 1;
    float* p = nullptr;
    expect(launch("nope", "", 1, 1, 1, {}).rc == 1, "unknown kernel");
    Launch sig = launch("test_reverse", "ip", 1, 1, 1, {&n, &p});
    expect(sig.rc == 2 && contains(sig.message, "takes arguments (ipp)"), "signature mismatch: " + sig.message);
    Launch big = launch("test_reverse", "ipp", 1, 2048, 1, {&n, &p, &p});
    expect(big.rc == 3 && contains(big.message, "invalid block"), "block too large: " + big.message);
    Launch over = launch("test_reverse", "ipp", 1, 257, 1, {&n, &p, &p});
    expect(over.rc == 3 && contains(over.message, "257 threads, more than the kernel's __launch_bounds__(256)") &&
               contains(over.message, "too many resources requested for launch"),
           "block over __launch_bounds__: " + over.message);
    Launch over2d = launch("test_read_at", "ipp", 1, 1, 2, {&n, &p, &p});
    expect(over2d.rc == 3 && contains(over2d.message, "__launch_bounds__(1)"), "counted over x*y*z: " + over2d.message);
    Launch none = launch("test_reverse", "ipp", 0, 1, 1, {&n, &p, &p});
    expect(none.rc == 3 && contains(none.message, "invalid grid"), "empty grid: " + none.message);
}

/** Blocks on several lanes, in the schedule's order within each, show a race between blocks that one lane hides. */
void test_races_between_blocks_show() {
    const int blocks = 64;
    auto* v = static_cast<float*>(lstmk_host_alloc((blocks + 1) * 4));
    auto chain_is_right = [&](int lanes, int schedule) {
        lstmk_host_set_block_lanes(lanes);
        lstmk_host_set_schedule(schedule);
        std::memset(v, 0xFF, (blocks + 1) * 4);
        v[0] = 0.f;
        Launch l = launch("test_block_chain", "p", blocks, 1, 1, {&v});
        bool right = l.rc == 0;
        for (int i = 0; i <= blocks; ++i) right &= v[i] == (float) i;
        return right;
    };
    const int lanes = lstmk_host_block_lanes();
    expect(lanes > 1, "blocks run on several lanes by default (" + std::to_string(lanes) + ")");
    expect(chain_is_right(1, 0), "one lane, ascending: the race between blocks is invisible (the old model)");
    for (int schedule = 1; schedule < 3; ++schedule) {
        expect(!chain_is_right(lanes, schedule),
               "block lanes, schedule " + std::to_string(schedule) + ": the race between blocks shows");
    }
    lstmk_host_set_block_lanes(lanes);
    lstmk_host_set_schedule(0);
    char err[64];
    lstmk_host_free(v, err, sizeof err);
}

/** Whatever the lanes and schedule, a launch reports the failure of its lowest failing block. */
void test_lanes_report_the_first_failure() {
    const int lanes = lstmk_host_block_lanes();
    bool same = true;
    std::string message;
    for (int l : {1, 2, 3, 8}) {
        for (int schedule = 0; schedule < 3; ++schedule) {
            lstmk_host_set_block_lanes(l);
            lstmk_host_set_schedule(schedule);
            int every = 4;
            Launch t = launch("test_trap_blocks", "i", 20, 32, 1, {&every});
            same &= t.rc == 4 && contains(t.message, "in block (3,0,0), thread (7,0,0)");
            if (!same && message.empty()) message = t.message;
        }
    }
    expect(same, "the lowest failing block is reported under every lane count and schedule " + message);
    lstmk_host_set_block_lanes(lanes);
    lstmk_host_set_schedule(0);
}

/** Runs body in a child process; the signal that killed it, 0 if it exited with status 0, -1 otherwise. */
template <class F>
int in_child(F body) {
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        body();
        _exit(0);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
    if (WIFSIGNALED(status)) return WTERMSIG(status);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/** A kernel reading one element past an allocation crashes at the read; reading the last element does not. */
void test_read_past_the_end_faults() {
    const int n = 64;   // a multiple of 16 bytes: the allocation ends exactly at the PROT_NONE page
    auto* in = static_cast<float*>(lstmk_host_alloc(n * 4));
    auto* out = static_cast<float*>(lstmk_host_alloc(4));
    for (int i = 0; i < n; ++i) in[i] = (float) i;
    auto read_at = [&](int i) {
        return in_child([&] {
            Launch l = launch("test_read_at", "ipp", 1, 1, 1, {&i, &in, &out});
            if (l.rc != 0 || out[0] != (float) i) _exit(1);
        });
    };
    const int last = read_at(n - 1);
    expect(last == 0, "reading the last element of an allocation works (child: " + std::to_string(last) + ")");
    const int past = read_at(n);
    expect(past == SIGSEGV || past == SIGBUS,
           "reading one element past an allocation kills the process (child: signal " + std::to_string(past) + ")");
    const int before = in_child([&] { std::printf("%f", (double) *(volatile float*) (in + n)); });
    expect(before == SIGSEGV || before == SIGBUS, "so does a plain read past it");
    char err[64];
    lstmk_host_free(in, err, sizeof err);
    lstmk_host_free(out, err, sizeof err);
}

// ---- indices past 2^32 -----------------------------------------------------------------------------------------

/**
 * Anonymous memory that gets pages only where it is touched (MAP_NORESERVE): a matrix with a row stride past 2^32
 * elements costs a few pages per row, not 16 GiB. Pages never written read as zeros.
 */
struct Sparse {
    float* p = nullptr;
    std::size_t bytes;

    explicit Sparse(unsigned long long floats) : bytes(floats * sizeof(float)) {
        void* m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m != MAP_FAILED) p = static_cast<float*>(m);
    }
    ~Sparse() {
        if (p != nullptr) munmap(p, bytes);
    }
};

/** Element offset of (row, col) of an operand in memory. */
using Offset = unsigned long long (*)(long long row, long long col, long long ld);
unsigned long long row_major(long long r, long long c, long long ld) { return r * ld + c; }
unsigned long long col_major(long long r, long long c, long long ld) { return c * ld + r; }

/**
 * C = A.B + 0.5*C through `kernel` (lstmk_gemm_nt/nn/tn), with every leading dimension ld > 2^32, so that element
 * indices pass 2^32: a kernel computing an index in 32 bits would wrap to a small one and read or write the wrong
 * element (not crash: 2^32 + small wraps to small). Small integers keep the sums exact.
 */
void check_gemm_past_2_32(const char* kernel, Offset a, Offset b) {
    int M = 3, N = 2, K = 4, rowMap = 0;
    long long ld = (1LL << 32) + 16;
    const unsigned long long extent = 3 * (unsigned long long) ld + 16;   // rows and columns here are < 3 and < 16
    Sparse A(extent), B(extent), C(extent);
    if (A.p == nullptr || B.p == nullptr || C.p == nullptr) {
        expect(false, std::string(kernel) + ": could not map sparse memory");
        return;
    }
    for (int m = 0; m < M; ++m) {
        for (int k = 0; k < K; ++k) A.p[a(m, k, ld)] = (float) (m + 2 * k + 1);
    }
    for (int k = 0; k < K; ++k) {
        for (int n = 0; n < N; ++n) B.p[b(k, n, ld)] = (float) (3 * n - k);
    }
    for (int m = 0; m < M; ++m) {
        for (int n = 0; n < N; ++n) C.p[row_major(m, n, ld)] = (float) (2 * m + n);
    }
    float beta = 0.5f;
    float* bias = nullptr;
    char err[512] = {0};
    void* params[] = {&M, &N, &K, &A.p, &ld, &B.p, &ld, &bias, &beta, &C.p, &ld, &rowMap};
    int rc = lstmk_host_launch(kernel, "iiiplplpfpli", 1, 1, 1, 256, 1, 1, 0, params, err, sizeof err);
    bool right = rc == 0;
    for (int m = 0; m < M && right; ++m) {
        for (int n = 0; n < N; ++n) {
            float sum = 0.5f * (float) (2 * m + n);
            for (int k = 0; k < K; ++k) sum += (float) (m + 2 * k + 1) * (float) (3 * n - k);
            right &= C.p[row_major(m, n, ld)] == sum;
        }
    }
    right &= C.p[row_major(0, N, ld)] == 0.f && C.p[row_major(M, 0, ld)] == 0.f;   // nothing past the matrix
    expect(right, std::string(kernel) + " with leading dimensions 2^32 + 16 " + err);
}

/** A rows x cols matrix with rows `ld` floats apart, in its own sparse mapping. */
struct Strided {
    int rows, cols;
    long long ld;
    bool output;
    Sparse mem;

    Strided(int rows, int cols, long long ld, bool output)
        : rows(rows), cols(cols), ld(ld), output(output), mem((rows - 1) * (unsigned long long) ld + cols + 16) {}
    float& at(int r, int c) { return mem.p[(unsigned long long) r * ld + c]; }
};

/**
 * The matrices of one launch. With a huge row stride every matrix that has a stride argument gets rows 2^32 + 16
 * floats apart; otherwise (and always for those the kernel takes as contiguous) rows are packed.
 */
class Operands {
public:
    explicit Operands(bool huge) : huge_(huge) {}

    /** A matrix whose row stride is an argument: in = filled with small values, else an output (zeros). */
    Strided& rows(int r, int c, bool in) { return add(r, c, huge_ ? (1LL << 32) + 16 : c, in); }
    /** A matrix the kernel indexes as contiguous [r, c]. */
    Strided& dense(int r, int c, bool in) { return add(r, c, c, in); }

    /** Every output element, matrix by matrix, row by row. */
    std::vector<float> outputs() {
        std::vector<float> v;
        for (auto& m : mats_) {
            for (int r = 0; m->output && r < m->rows; ++r) {
                for (int c = 0; c < m->cols; ++c) v.push_back(m->at(r, c));
            }
        }
        return v;
    }

    // A launch's arguments, each stored here so that params[i] can point at it for the launch's duration.
    void* arg(int v) { return &ints_.emplace_back(v); }
    void* arg(long long v) { return &longs_.emplace_back(v); }
    void* arg(float v) { return &floats_.emplace_back(v); }
    void* arg(float* v) { return &pointers_.emplace_back(v); }
    void* arg(Strided& m) { return arg(m.mem.p); }

    bool mapped() const {
        for (auto& m : mats_) if (m->mem.p == nullptr) return false;
        return true;
    }

private:
    Strided& add(int r, int c, long long ld, bool in) {
        mats_.push_back(std::make_unique<Strided>(r, c, ld, !in));
        Strided& m = *mats_.back();
        if (m.mem.p == nullptr) return m;
        const int seed = (int) mats_.size();
        for (int i = 0; i < r; ++i) {
            for (int j = 0; j < c; ++j) m.at(i, j) = in ? (float) ((i * 7 + j * 3 + seed) % 11 - 5) * 0.125f : 0.f;
        }
        return m;
    }

    bool huge_;
    std::vector<std::unique_ptr<Strided>> mats_;
    std::deque<int> ints_;   // deques: elements keep their addresses as more are added
    std::deque<long long> longs_;
    std::deque<float> floats_;
    std::deque<float*> pointers_;
};

/** Launches the kernel that `setup` describes once with packed rows and once with rows 2^32 + 16 floats apart. */
template <class Setup>
void check_same_past_2_32(const char* kernel, const char* sig, unsigned gx, unsigned gy, unsigned threads,
                          Setup setup) {
    std::vector<float> results[2];
    std::string errors;
    for (int huge = 0; huge < 2; ++huge) {
        Operands o(huge != 0);
        std::vector<void*> params = setup(o);
        if (!o.mapped()) {
            errors += " could not map sparse memory";
            break;
        }
        char err[512] = {0};
        if (lstmk_host_launch(kernel, sig, gx, gy, 1, threads, 1, 1, 0, params.data(), err, sizeof err) != 0) {
            errors += std::string(" ") + err;
        }
        results[huge] = o.outputs();
    }
    bool some = false;
    for (float v : results[0]) some |= v != 0.f;
    expect(errors.empty() && some && results[0].size() == results[1].size() &&
               std::memcmp(results[0].data(), results[1].data(), results[0].size() * sizeof(float)) == 0,
           std::string(kernel) + ": the same bits with row strides 2^32 + 16" + errors);
}

/** The other kernels with row-stride arguments: each stride past 2^32 gives what packed rows give. */
void test_strided_kernels_index_past_2_32() {
    constexpr int B = 3, H = 5, K = 6, nextRows = 2;   // nextRows: rows of dA_{t+1} (packed sequences)
    check_same_past_2_32("lstmk_lstm_forward_step_peep", "iiiplpplpplppliplplpfffff", 1, 1, 64, [](Operands& o) {
        Strided &hPrev = o.rows(B, K, true), &gx = o.rows(B, 4 * H, true), &y = o.rows(B, H, false),
                &gates = o.rows(B, 4 * H, false), &hSave = o.rows(B, K, false), &cSave = o.rows(B, H, false);
        return std::vector<void*>{o.arg(B), o.arg(H), o.arg(K), o.arg(hPrev), o.arg(hPrev.ld),
                                  o.arg(o.dense(4 * H, K, true)), o.arg(gx), o.arg(gx.ld), o.arg(o.dense(B, H, true)),
                                  o.arg(y), o.arg(y.ld), o.arg(o.dense(B, H, false)), o.arg(gates), o.arg(gates.ld),
                                  o.arg(0), o.arg(hSave), o.arg(hSave.ld), o.arg(cSave), o.arg(cSave.ld),
                                  o.arg(o.dense(1, 3 * H, true)), o.arg(0.f), o.arg(0.f), o.arg(0.f), o.arg(0.f),
                                  o.arg(0.f)};
    });
    check_same_past_2_32("lstmk_lstm_backward_step_peep", "iiiplippplpliplpplplplpfffff", 1, 1, 64, [](Operands& o) {
        Strided &dIn = o.rows(nextRows, 4 * H, true), &dy = o.rows(B, H, true), &gates = o.rows(B, 4 * H, true),
                &cPrev = o.rows(B, H, true), &dA = o.rows(B, 4 * H, false), &mOut = o.rows(B, H, false),
                &peepRows = o.rows(B, 3 * H, false);
        return std::vector<void*>{o.arg(B), o.arg(H), o.arg(4 * H), o.arg(dIn), o.arg(dIn.ld), o.arg(nextRows),
                                  o.arg(o.dense(4 * H, H, true)), o.arg(o.dense(B, H, true)), o.arg(dy), o.arg(dy.ld),
                                  o.arg(gates), o.arg(gates.ld), o.arg(0), o.arg(cPrev), o.arg(cPrev.ld),
                                  o.arg(o.dense(B, H, true)), o.arg(dA), o.arg(dA.ld), o.arg(mOut), o.arg(mOut.ld),
                                  o.arg(peepRows), o.arg(peepRows.ld), o.arg(o.dense(1, 3 * H, true)), o.arg(0.f),
                                  o.arg(0.f), o.arg(0.f), o.arg(0.f), o.arg(0.f)};
    });
    check_same_past_2_32("lstmk_lstm_backward_dh", "iiiplippplpl", 1, 1, 64, [](Operands& o) {
        Strided &dANext = o.rows(nextRows, K, true), &dy = o.rows(B, H, true), &dh = o.rows(B, H, false);
        return std::vector<void*>{o.arg(B), o.arg(H), o.arg(K), o.arg(dANext), o.arg(dANext.ld), o.arg(nextRows),
                                  o.arg(o.dense(K, H, true)), o.arg(o.dense(B, H, true)), o.arg(dy), o.arg(dy.ld),
                                  o.arg(dh), o.arg(dh.ld)};
    });
    check_same_past_2_32("lstmk_colsum", "iiplfppi", 1, 1, 256, [](Operands& o) {
        Strided& a = o.rows(B, H, true);
        return std::vector<void*>{o.arg(B), o.arg(H), o.arg(a), o.arg(a.ld), o.arg(0.f), o.arg(o.dense(1, H, false)),
                                  o.arg(static_cast<float*>(nullptr)), o.arg(0)};
    });
}

void test_gemms_index_past_2_32() {
    check_gemm_past_2_32("lstmk_gemm_nt", row_major, col_major);   // A [M,K], B [N,K]
    check_gemm_past_2_32("lstmk_gemm_nn", row_major, row_major);   // A [M,K], B [K,N]
    check_gemm_past_2_32("lstmk_gemm_tn", col_major, row_major);   // A [K,M], B [K,N]
    // the TF32 ones too: small integers are exact in TF32, so the exact sums still hold
    check_gemm_past_2_32("lstmk_gemm_nt_tf32", row_major, col_major);
    check_gemm_past_2_32("lstmk_gemm_nn_tf32", row_major, row_major);
    check_gemm_past_2_32("lstmk_gemm_tn_tf32", col_major, row_major);
    check_gemm_past_2_32("lstmk_gemm_nt_bf16", row_major, col_major);
    check_gemm_past_2_32("lstmk_gemm_nn_bf16", row_major, row_major);
    check_gemm_past_2_32("lstmk_gemm_tn_bf16", col_major, row_major);
}

// Loads a fragment from a pointer 4 bytes past a 256-bit boundary: a GPU requires 256-bit alignment.
LSTMK_ENTRY(test_wmma_misaligned, 32)(const float* p) {
    __shared__ __align__(32) float tile[16 * 8 + 8];
    for (int i = (int) threadIdx.x; i < 16 * 8 + 8; i += 32) tile[i] = p[0];
    __syncthreads();
    nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, 16, 16, 8, nvcuda::wmma::precision::tf32, nvcuda::wmma::row_major> a;
    nvcuda::wmma::load_matrix_sync(a, tile + 1, 8);
}
LSTMK_KERNEL(test_wmma_misaligned)

// Each round, every block publishes a value and then reads its neighbour's: right only if the grid sync holds every
// block back until all have written (and until all have read, before the next round's writes).
LSTMK_ENTRY(test_grid_exchange, 64)(int rounds, float* slots, float* out) {
    const int n = (int) gridDim.x, b = (int) blockIdx.x;
    float v = (float) b;
    for (int r = 0; r < rounds; ++r) {
        if (threadIdx.x == 0) slots[b] = v;
        LSTMK_GRID_SYNC();
        v = slots[(b + 1) % n] + 1.f;
        LSTMK_GRID_SYNC();
    }
    if (threadIdx.x == 0) out[b] = v;
}
LSTMK_KERNEL(test_grid_exchange)

// Misuse a GPU would hang on (or worse): mode 0 block 3 returns before the grid sync, 1 block 3 traps while the
// others wait, 2 half of block 0's threads wait at __syncthreads and half at the grid sync.
LSTMK_ENTRY(test_grid_misuse, 32)(int mode, float* out) {
    if (mode == 0 && blockIdx.x == 3) return;
    if (mode == 1 && blockIdx.x == 3) __trap();
    if (mode == 2 && blockIdx.x == 0 && threadIdx.x < 16) {
        __syncthreads();
    } else {
        LSTMK_GRID_SYNC();
    }
    out[blockIdx.x] = 1.f;
}
LSTMK_KERNEL(test_grid_misuse)

extern "C" int lstmk_host_launch_cooperative(const char*, const char*, unsigned, unsigned, unsigned, unsigned, unsigned,
                                             unsigned, unsigned, void**, char*, int);
extern "C" int lstmk_host_max_cooperative_blocks();
extern "C" void lstmk_host_set_max_cooperative_blocks(int);

/** Cooperative launches: a real grid barrier under every schedule, misuse reported (never a hang), size limit. */
void test_cooperative_launches() {
    const unsigned n = 16;
    float* slots = static_cast<float*>(lstmk_host_alloc(n * 4));
    float* out = static_cast<float*>(lstmk_host_alloc(n * 4));
    char err[512] = {0};
    for (int schedule = 0; schedule < 3; ++schedule) {
        lstmk_host_set_schedule(schedule);
        int rounds = 5;
        void* params[] = {&rounds, &slots, &out};
        const int rc = lstmk_host_launch_cooperative("test_grid_exchange", "ipp", n, 1, 1, 64, 1, 1, 0, params, err,
                                                     sizeof err);
        bool right = rc == 0;
        for (unsigned b = 0; b < n && right; ++b) right = out[b] == (float) ((b + rounds) % n + rounds);
        expect(right, "grid sync is a barrier across blocks, schedule " + std::to_string(schedule) + " " + err);
    }
    lstmk_host_set_schedule(0);
    const char* wants[] = {"returned without reaching grid sync", "failed while others may wait at a grid sync",
                           "wait at different"};
    for (int mode = 0; mode < 3; ++mode) {
        void* params[] = {&mode, &out};
        err[0] = 0;
        const int rc = lstmk_host_launch_cooperative("test_grid_misuse", "ip", 8, 1, 1, 32, 1, 1, 0, params, err,
                                                     sizeof err);
        expect(rc != 0 && std::strstr(err, wants[mode]) != nullptr,
               "grid misuse " + std::to_string(mode) + " fails the launch: " + err);
    }
    int rounds = 1;
    void* params[] = {&rounds, &slots, &out};
    int rc = lstmk_host_launch("test_grid_exchange", "ipp", 4, 1, 1, 64, 1, 1, 0, params, err, sizeof err);
    expect(rc != 0 && std::strstr(err, "not launched cooperatively") != nullptr,
           std::string("a grid sync in an ordinary launch fails it: ") + err);
    const int limit = lstmk_host_max_cooperative_blocks();
    lstmk_host_set_max_cooperative_blocks(8);
    rc = lstmk_host_launch_cooperative("test_grid_exchange", "ipp", 9, 1, 1, 64, 1, 1, 0, params, err, sizeof err);
    expect(rc != 0 && std::strstr(err, "too large") != nullptr, std::string("a grid over the limit is refused: ") + err);
    lstmk_host_set_max_cooperative_blocks(limit);
    lstmk_host_free(slots, err, sizeof err);
    lstmk_host_free(out, err, sizeof err);
}

/** TF32 rounding: 10 mantissa bits, to nearest with ties away from zero; infinities and NaN kept. */
void test_tf32_rounding() {
    using nvcuda::wmma::__float_to_tf32;
    const float ulp = std::ldexp(1.f, -10), half = 1.f + std::ldexp(1.f, -11);
    expect(__float_to_tf32(1.f) == 1.f && __float_to_tf32(half) == 1.f + ulp && __float_to_tf32(-half) == -1.f - ulp,
           "tf32: exact values kept, ties away from zero (both signs)");
    expect(__float_to_tf32(1.f + std::ldexp(1.f, -12)) == 1.f &&
               __float_to_tf32(1.f + std::ldexp(1.f, -11) + std::ldexp(1.f, -20)) == 1.f + ulp,
           "tf32: below half an ulp down, above it up");
    std::uint32_t u;
    const float r = __float_to_tf32(0.1f);
    std::memcpy(&u, &r, sizeof u);
    expect((u & 0x1fffu) == 0 && std::fabs(r - 0.1f) <= 0.1f * std::ldexp(1.f, -11), "tf32: 10 mantissa bits, nearest");
    expect(__float_to_tf32(INFINITY) == INFINITY && __float_to_tf32(-INFINITY) == -INFINITY &&
               std::isnan(__float_to_tf32(NAN)) && __float_to_tf32(3.4028235e38f) == INFINITY,
           "tf32: infinities and NaN kept, the largest float rounds to infinity");
    char err[512] = {0};
    float* p = static_cast<float*>(lstmk_host_alloc(16));
    p[0] = 1.f;
    void* params[] = {&p};
    const int rc = lstmk_host_launch("test_wmma_misaligned", "p", 1, 1, 1, 32, 1, 1, 0, params, err, sizeof err);
    expect(rc != 0 && std::strstr(err, "256-bit") != nullptr, std::string("a misaligned wmma load fails: ") + err);
    lstmk_host_free(p, err, sizeof err);
}

/**
 * The TF32 GEMMs against a double-precision product of the TF32-rounded inputs (error of fp32 accumulation only),
 * and against the fp32 GEMM (further apart than fp32 rounding: the inputs were rounded), for odd sizes that leave
 * partial tiles and K not a multiple of 8; with bias, beta and the gate-row map (the tn layout's use).
 */
void test_reduced_gemms(const char* suffix, float (*round)(float), double exactBound) {
    const int M = 70, N = 37, K = 45;
    struct Layout { std::string fp32, tf32; bool aT, bT; };   // aT: A stored [K,M]; bT: B stored [N,K]
    const Layout layouts[] = {{"lstmk_gemm_nt", std::string("lstmk_gemm_nt") + suffix, false, true},
                              {"lstmk_gemm_nn", std::string("lstmk_gemm_nn") + suffix, false, false},
                              {"lstmk_gemm_tn", std::string("lstmk_gemm_tn") + suffix, true, false}};
    for (const Layout& l : layouts) {
        const bool gateRows = l.aT;   // the weight gradients: bias none, beta 0.5, rows through the gate map (H = 18)
        const int rowMap = gateRows ? 18 : 0;   // 4*18 = 72 >= M rows of packed gates
        const int rowsC = gateRows ? 72 : M;
        float* A = static_cast<float*>(lstmk_host_alloc((long long) M * K * 4));
        float* B = static_cast<float*>(lstmk_host_alloc((long long) K * N * 4));
        float* bias = static_cast<float*>(lstmk_host_alloc((long long) N * 4));
        float* C32 = static_cast<float*>(lstmk_host_alloc((long long) rowsC * N * 4));
        float* CT = static_cast<float*>(lstmk_host_alloc((long long) rowsC * N * 4));
        unsigned seed = 12345;
        auto rnd = [&seed]() { seed = seed * 1103515245u + 12345u; return (float) ((seed >> 8) & 0xffff) / 32768.f - 1.f; };
        std::vector<double> a(M * K), b(K * N);
        for (int m = 0; m < M; ++m) for (int k = 0; k < K; ++k) a[m * K + k] = (l.aT ? A[k * M + m] : A[m * K + k]) = rnd();
        for (int k = 0; k < K; ++k) for (int n = 0; n < N; ++n) b[k * N + n] = (l.bT ? B[n * K + k] : B[k * N + n]) = rnd();
        for (int n = 0; n < N; ++n) bias[n] = rnd();
        for (int i = 0; i < rowsC * N; ++i) C32[i] = CT[i] = 0.25f * (float) (i % 7);
        float beta = gateRows ? 0.5f : 0.f;
        float* biasArg = gateRows ? nullptr : bias;
        long long lda = l.aT ? M : K, ldb = l.bT ? K : N, ldc = N;
        int m_ = M, n_ = N, k_ = K;
        char err[512] = {0};
        bool ok = true;
        for (float* C : {C32, CT}) {
            void* params[] = {&m_, &n_, &k_, &A, &lda, &B, &ldb, &biasArg, &beta, &C, &ldc, (void*) &rowMap};
            const char* name = (C == C32 ? l.fp32 : l.tf32).c_str();
            ok &= lstmk_host_launch(name, "iiiplplpfpli", (M + 63) / 64, (N + 63) / 64, 1, 256, 1, 1, 0, params, err,
                                    sizeof err) == 0;
        }
        double worstRounded = 0, worstTf32VsExact = 0, worst32VsExact = 0;
        for (int m = 0; m < M && ok; ++m) {
            const int row = rowMap > 0 ? (m & 3) * rowMap + (m >> 2) : m;
            for (int n = 0; n < N; ++n) {
                double exact = 0, rounded = 0, mag = 0;
                for (int k = 0; k < K; ++k) {
                    exact += a[m * K + k] * b[k * N + n];
                    rounded += (double) round((float) a[m * K + k]) * round((float) b[k * N + n]);
                    mag += std::fabs(a[m * K + k] * b[k * N + n]);
                }
                const double add = (biasArg ? bias[n] : 0.0) + beta * 0.25 * ((row * N + n) % 7);
                worstRounded = std::max(worstRounded, std::fabs(CT[row * N + n] - (rounded + add)) / (mag + 1));
                worstTf32VsExact = std::max(worstTf32VsExact, std::fabs(CT[row * N + n] - (exact + add)) / (mag + 1));
                worst32VsExact = std::max(worst32VsExact, std::fabs(C32[row * N + n] - (exact + add)) / (mag + 1));
            }
        }
        char what[256];
        std::snprintf(what, sizeof what, "%s: vs the rounded inputs' product %.1e (<= 1e-6), vs exact %.1e (<= %.0e, "
                      "> 10x fp32's %.1e) %s", l.tf32.c_str(), worstRounded, worstTf32VsExact, exactBound,
                      worst32VsExact, err);
        expect(ok && worstRounded <= 1e-6 && worstTf32VsExact <= exactBound && worstTf32VsExact > 10 * worst32VsExact,
               what);
        for (float* f : {A, B, bias, C32, CT}) lstmk_host_free(f, err, sizeof err);
    }
}

float to_tf32(float v) { return nvcuda::wmma::__float_to_tf32(v); }
float to_bf16(float v) { return __bfloat162float(__float2bfloat16(v)); }

void test_tf32_gemms() { test_reduced_gemms("_tf32", to_tf32, 2e-3); }

/** BF16 rounding (8 mantissa bits, to nearest even, NaN kept) and the BF16 GEMMs. */
void test_bf16() {
    const float ulp = std::ldexp(1.f, -7);
    expect(to_bf16(1.f) == 1.f && to_bf16(1.f + ulp / 2) == 1.f && to_bf16(1.f + 1.5f * ulp) == 1.f + 2 * ulp &&
               to_bf16(-1.f - 1.5f * ulp) == -1.f - 2 * ulp && to_bf16(1.f + ulp / 2 + std::ldexp(1.f, -20)) == 1.f + ulp,
           "bf16: ties to even (both signs), above half an ulp up");
    expect(to_bf16(INFINITY) == INFINITY && std::isnan(to_bf16(NAN)) && to_bf16(3.4028235e38f) == INFINITY,
           "bf16: infinities and NaN kept, the largest float rounds to infinity");
    test_reduced_gemms("_bf16", to_bf16, 1.6e-2);
}

void test_memory_is_poisoned() {
    auto* f = static_cast<float*>(lstmk_host_alloc(16));
    bool nan = true;
    for (int i = 0; i < 4; ++i) nan &= std::isnan(f[i]);
    expect(nan, "fresh device memory reads as NaN");
    char err[64];
    lstmk_host_free(f, err, sizeof err);
    // 12 bytes: the 16-byte start alignment leaves a 4-byte tail before the fence, which reads as NaN too.
    auto* three = static_cast<float*>(lstmk_host_alloc(12));
    expect(std::isnan(three[3]) && reinterpret_cast<std::uintptr_t>(three) % 16 == 0,
           "16-byte aligned, and a read into the tail of a 12-byte allocation gives NaN");
    three[3] = 1.f;
    const int damaged = lstmk_host_free(three, err, sizeof err);
    expect(damaged == 1, std::string("a write into the tail is reported: ") + err);
}

}  // namespace

int main() {
    test_barrier_and_shared_memory();
    test_misuse_is_reported();
    test_launch_checks();
    test_memory_is_poisoned();
    test_races_between_blocks_show();
    test_gemms_index_past_2_32();
    test_tf32_rounding();
    test_cooperative_launches();
    test_tf32_gemms();
    test_bf16();
    test_strided_kernels_index_past_2_32();
    test_lanes_report_the_first_failure();
    test_read_past_the_end_faults();
    expect(lstmk_host_live_allocations() == 0, "no allocation left");
    std::printf("%s: %d failure(s)\n", failures == 0 ? "emulation tests passed" : "EMULATION TESTS FAILED", failures);
    return failures == 0 ? 0 : 1;
}
