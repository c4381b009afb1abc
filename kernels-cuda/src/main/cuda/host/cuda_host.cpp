// Runtime of the host build (see cuda_host.h): fibers for the threads of a block, the barrier, the kernel registry,
// "device" memory with guard zones, and the C API that the Java HostDevice calls through FFM.
#include "cuda_host.h"

#include <sys/mman.h>
#include <unistd.h>
#include <ucontext.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace lstmk_host {

thread_local uint3 block_idx;
thread_local dim3 block_dim;
thread_local dim3 grid_dim;

namespace {

// ---- registry ------------------------------------------------------------------------------------------------------

struct Kernel {
    void* fn;
    Thunk thunk;
    std::string signature;
    unsigned maxThreads;   // __launch_bounds__
};

std::map<std::string, Kernel>& registry() {
    static std::map<std::string, Kernel> kernels;   // filled by static initialisers, read-only afterwards
    return kernels;
}

// ---- fibers --------------------------------------------------------------------------------------------------------

enum class State { Ready, Waiting, Done, Trapped };

struct Fiber {
    ucontext_t context;
    uint3 tid;
    State state;
    const char* file;   // where it waits or trapped
    int line;
    bool grid;          // waits at a grid-wide barrier (LSTMK_GRID_SYNC), not __syncthreads
    const char* why;    // a trap's reason when not __trap() (misuse the emulation detected)
};

/**
 * The grid-wide barrier of a cooperative launch: every block is on its own OS thread, and a block whose threads all
 * wait at a grid sync waits here for the others. A block that returns, or fails, while others wait (a hang on a GPU)
 * breaks it: the waiters are released with the reason, so the launch fails instead of hanging.
 */
class GridBarrier {
public:
    explicit GridBarrier(unsigned long long blocks) : total_(blocks) {}

    /** Waits for every block; false (why set) if the barrier is broken. */
    bool wait(const std::string& site, std::string& why) {
        std::unique_lock<std::mutex> l(lock_);
        if (broken_) return fail(why);
        if (site_.empty()) site_ = site;
        if (++arrived_ + exited_ == total_) {
            if (exited_ > 0) return breakWith(exitedWhere_ + " returned without reaching grid sync at " + site_ +
                                              ", which other blocks wait at (a GPU hangs)", why);
            arrived_ = 0;
            site_.clear();
            ++generation_;
            cv_.notify_all();
            return true;
        }
        const unsigned long long g = generation_;
        cv_.wait(l, [&] { return generation_ != g || broken_; });
        return broken_ ? fail(why) : true;
    }

    /** A block ends: it returned (failure empty) or failed; either way it will not reach another grid sync. */
    void exit(const std::string& block, const std::string& failure) {
        std::lock_guard<std::mutex> l(lock_);
        ++exited_;
        std::string ignored;
        if (!failure.empty()) {
            if (!broken_) breakWith(block + " failed while others may wait at a grid sync: " + failure, ignored);
        } else if (exitedWhere_.empty()) {
            exitedWhere_ = block;
        }
        if (!broken_ && arrived_ > 0 && arrived_ + exited_ == total_) {
            breakWith(block + " returned without reaching grid sync at " + site_ + ", which other blocks wait at "
                      "(a GPU hangs)", ignored);
        }
    }

    /** Why the launch failed at the barrier, or empty. */
    std::string broken() {
        std::lock_guard<std::mutex> l(lock_);
        return broken_ ? why_ : std::string();
    }

private:
    bool fail(std::string& why) {
        why = why_;
        return false;
    }
    bool breakWith(const std::string& why, std::string& out) {
        broken_ = true;
        why_ = why;
        cv_.notify_all();
        return fail(out);
    }

    std::mutex lock_;
    std::condition_variable cv_;
    const unsigned long long total_;
    unsigned long long arrived_ = 0, exited_ = 0, generation_ = 0;
    std::string site_, exitedWhere_, why_;
    bool broken_ = false;
};

// Enough for the kernels' register tiles and the C library's expf/tanhf, with room for a signal handler that the
// JVM may run on whatever stack the thread is on. Only touched pages are ever backed by memory.
constexpr std::size_t kStackBytes = 256 * 1024;
constexpr std::size_t kGuardPage = 4096;

/** Per OS thread: the fibers of the block being run, and their stacks (kept for the next launch). */
struct Runner {
    ucontext_t scheduler;
    std::vector<Fiber> fibers;
    std::vector<char*> stacks;   // each kStackBytes, below a PROT_NONE page that turns overflow into a crash
    Fiber* current = nullptr;
    const Kernel* kernel = nullptr;
    void** params = nullptr;
    GridBarrier* barrier = nullptr;   // a cooperative launch's, else null

    ~Runner() {
        for (char* s : stacks) munmap(s - kGuardPage, kStackBytes + kGuardPage);
    }

    bool reserve(std::size_t n) {
        while (stacks.size() < n) {
            void* m = mmap(nullptr, kStackBytes + kGuardPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m == MAP_FAILED) return false;
            mprotect(m, kGuardPage, PROT_NONE);
            stacks.push_back(static_cast<char*>(m) + kGuardPage);
        }
        fibers.resize(n);
        return true;
    }
};

thread_local std::unique_ptr<Runner> tl_runner;

std::atomic<int> schedule_kind{0};   // 0 ascending thread order, 1 descending, 2 shuffled per barrier phase

void fiber_main() {
    Runner& r = *tl_runner;
    r.kernel->thunk(r.kernel->fn, r.params);
    r.current->state = State::Done;
    // returning resumes uc_link, the scheduler
}

/** The order in which the fibers run during one barrier phase. */
void phase_order(std::vector<int>& order, int n, unsigned phase, unsigned long long blockId) {
    order.resize(n);
    int kind = schedule_kind.load(std::memory_order_relaxed);
    for (int i = 0; i < n; ++i) order[i] = kind == 1 ? n - 1 - i : i;
    if (kind == 2) {
        std::uint64_t s = 0x9E3779B97F4A7C15ULL * (phase + 1) ^ (0xD1B54A32D192ED03ULL * (blockId + 1));
        for (int i = n - 1; i > 0; --i) {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            std::swap(order[i], order[static_cast<int>(s % static_cast<std::uint64_t>(i + 1))]);
        }
    }
}

std::string where(const Fiber& f) {
    char b[96];
    std::snprintf(b, sizeof b, "thread (%u,%u,%u)", f.tid.x, f.tid.y, f.tid.z);
    return b;
}

std::string block_name() {
    char b[96];
    std::snprintf(b, sizeof b, "block (%u,%u,%u)", block_idx.x, block_idx.y, block_idx.z);
    return b;
}

std::string site(const char* file, int line) {
    const char* slash = std::strrchr(file, '/');
    return std::string(slash ? slash + 1 : file) + ":" + std::to_string(line);
}

/** Runs one block to completion; false with a message on a trap or a barrier that not every thread reached. */
bool run_block(Runner& r, unsigned long long blockId, std::string& error) {
    const unsigned n = block_dim.x * block_dim.y * block_dim.z;
    for (unsigned i = 0; i < n; ++i) {
        Fiber& f = r.fibers[i];
        f.tid = uint3{i % block_dim.x, (i / block_dim.x) % block_dim.y, i / (block_dim.x * block_dim.y)};
        f.state = State::Ready;
        f.file = nullptr;
        f.line = 0;
        f.grid = false;
        f.why = nullptr;
        getcontext(&f.context);
        f.context.uc_stack.ss_sp = r.stacks[i];
        f.context.uc_stack.ss_size = kStackBytes;
        f.context.uc_link = &r.scheduler;
        makecontext(&f.context, fiber_main, 0);
    }
    std::vector<int> order;
    for (unsigned phase = 0;; ++phase) {
        phase_order(order, static_cast<int>(n), phase, blockId);
        for (int i : order) {
            Fiber& f = r.fibers[i];
            if (f.state != State::Ready) continue;
            r.current = &f;
            swapcontext(&r.scheduler, &f.context);
        }
        r.current = nullptr;
        const Fiber* waiting = nullptr;
        const Fiber* done = nullptr;
        for (unsigned i = 0; i < n; ++i) {
            const Fiber& f = r.fibers[i];
            if (f.state == State::Trapped) {
                error = std::string(f.why != nullptr ? f.why : "__trap()") + " at " + site(f.file, f.line) + " in " +
                        block_name() + ", " + where(f);
                return false;
            }
            if (f.state == State::Done && done == nullptr) done = &f;
            if (f.state != State::Waiting) continue;
            if (waiting == nullptr) {
                waiting = &f;
            } else if (f.line != waiting->line || std::strcmp(f.file, waiting->file) != 0 || f.grid != waiting->grid) {
                error = "threads of " + block_name() + " wait at different __syncthreads() calls: " + where(*waiting) +
                        " at " + site(waiting->file, waiting->line) + ", " + where(f) + " at " + site(f.file, f.line) +
                        " (undefined behaviour on a GPU)";
                return false;
            }
        }
        if (waiting == nullptr) return true;   // every thread returned
        if (done != nullptr) {
            error = std::string(waiting->grid ? "grid sync" : "__syncthreads()") + " at " +
                    site(waiting->file, waiting->line) + " in " + block_name() + " is not reached by every thread: " +
                    where(*done) + " has returned (undefined behaviour on a GPU: the block may hang)";
            return false;
        }
        if (waiting->grid && !r.barrier->wait(site(waiting->file, waiting->line), error)) return false;
        for (unsigned i = 0; i < n; ++i) r.fibers[i].state = State::Ready;
    }
}

// ---- block lanes ---------------------------------------------------------------------------------------------------

// A launch runs its blocks on several OS threads at once, the "block lanes": lane l takes the l-th contiguous share of
// the linear block ids (x fastest, then y, then z) and runs it in the schedule's order: ascending, descending, or a
// fixed stride permutation (shuffled). Blocks of one lane run one after another (each with its fibers, on that lane's
// thread, so __shared__ stays per block); the lanes run concurrently. A kernel in which one block reads what another
// block of the same launch writes (a race on a GPU, where blocks run in any order or at once) then gives results that
// depend on the schedule: neighbouring blocks in one lane run in opposite orders under ascending and descending, and
// blocks at the edges of the shares run at the same time. The assignment is deterministic; only the timing between
// lanes is not. One lane is the old model (blocks in ascending order on the calling thread).
constexpr int kMaxLanes = 8;
std::atomic<int> block_lanes{3};

/** One launch, as the lanes see it. */
struct Grid {
    const Kernel* kernel;
    void** params;
    dim3 grid, block;
    unsigned long long blocks;
    unsigned lanes;
    int order;                                           // schedule_kind at launch
    std::atomic<unsigned long long> firstFailure;        // lowest failing block id so far (~0: none)
    std::vector<std::pair<unsigned long long, std::string>> failures;   // per lane: its lowest failing block
};

/** The k-th block id lane `lane` runs, k < its share's size. */
unsigned long long lane_block(const Grid& g, unsigned lane, unsigned long long k) {
    const unsigned long long begin = g.blocks * lane / g.lanes, n = g.blocks * (lane + 1) / g.lanes - begin;
    if (g.order == 1) return begin + n - 1 - k;
    if (g.order == 2) {   // k -> (k * stride + n/3) mod n, a bijection for a stride coprime to n
        unsigned long long stride = n * 5 / 8 + 1;
        auto gcd = [](unsigned long long a, unsigned long long b) { while (b) { a %= b; std::swap(a, b); } return a; };
        while (gcd(stride, n) != 1) ++stride;
        return begin + static_cast<unsigned long long>((static_cast<unsigned __int128>(k) * stride + (n + 1) / 3) % n);
    }
    return begin + k;
}

/**
 * Runs lane `lane`'s share of the grid on this thread. A lane goes on after a failing block, but no lane starts a
 * block numbered above the lowest failure seen so far: so the launch always reports the failure of the lowest
 * failing block, whatever the lanes and schedule (what a sequential run in ascending order reported first).
 */
void run_lane(Grid& g, unsigned lane) {
    if (!tl_runner) tl_runner = std::make_unique<Runner>();
    Runner& r = *tl_runner;
    auto& failure = g.failures[lane];
    if (!r.reserve(1ULL * g.block.x * g.block.y * g.block.z)) {
        failure = {0, "could not map fiber stacks"};
        g.firstFailure = 0;
        return;
    }
    r.kernel = g.kernel;
    r.params = g.params;
    grid_dim = g.grid;
    block_dim = g.block;
    const unsigned long long n = g.blocks * (lane + 1) / g.lanes - g.blocks * lane / g.lanes;
    for (unsigned long long k = 0; k < n; ++k) {
        const unsigned long long id = lane_block(g, lane, k);
        if (id > g.firstFailure.load()) continue;
        block_idx = uint3{static_cast<unsigned>(id % g.grid.x), static_cast<unsigned>(id / g.grid.x % g.grid.y),
                          static_cast<unsigned>(id / g.grid.x / g.grid.y)};
        std::string e;
        if (run_block(r, id, e)) continue;
        if (id < failure.first) failure = {id, e};
        for (unsigned long long seen = g.firstFailure.load(); id < seen;) {
            if (g.firstFailure.compare_exchange_weak(seen, id)) break;
        }
    }
}

/**
 * The helper threads of one calling thread (lanes 1..; the caller runs lane 0 itself), kept between launches with
 * their fiber stacks. Per calling thread, so that launches from different threads never share lanes.
 */
class LanePool {
public:
    ~LanePool() {
        {
            std::lock_guard<std::mutex> g(lock_);
            stop_ = true;
        }
        wake_.notify_all();
        for (std::thread& t : helpers_) t.join();
    }

    /** Runs every lane of g, lane 0 on this thread; returns when all are done. */
    void run(Grid& g) {
        while (helpers_.size() + 1 < g.lanes) {
            const unsigned lane = static_cast<unsigned>(helpers_.size()) + 1;
            helpers_.emplace_back([this, lane] { serve(lane); });
        }
        {
            std::lock_guard<std::mutex> l(lock_);
            grid_ = &g;
            active_ = g.lanes;
            pending_ = g.lanes - 1;
            ++generation_;
        }
        wake_.notify_all();
        run_lane(g, 0);
        std::unique_lock<std::mutex> l(lock_);
        done_.wait(l, [this] { return pending_ == 0; });
        grid_ = nullptr;
    }

    /** The pool of the calling thread; null in a child process forked after the helpers started (they are gone). */
    static LanePool* mine() {
        thread_local std::unique_ptr<LanePool> pool;
        if (!pool) pool = std::make_unique<LanePool>();
        return pool->owner_ == getpid() ? pool.get() : nullptr;
    }

private:
    void serve(unsigned lane) {
        unsigned long long seen = 0;
        for (;;) {
            Grid* g;
            {
                std::unique_lock<std::mutex> l(lock_);
                wake_.wait(l, [&] { return stop_ || generation_ != seen; });
                if (stop_) return;
                seen = generation_;
                if (lane >= active_) continue;   // not in this launch (which may be over already: g is not ours)
                g = grid_;
            }
            run_lane(*g, lane);
            std::lock_guard<std::mutex> l(lock_);
            if (--pending_ == 0) done_.notify_one();
        }
    }

    const pid_t owner_ = getpid();
    std::mutex lock_;
    std::condition_variable wake_, done_;
    std::vector<std::thread> helpers_;
    Grid* grid_ = nullptr;
    unsigned long long generation_ = 0;
    unsigned active_ = 0;    // lanes of the current launch
    unsigned pending_ = 0;   // helpers of the current launch still running
    bool stop_ = false;
};

/** Runs the whole grid; empty on success, else the failure of the lowest failing block. */
std::string run_grid(const Kernel* k, void** params, dim3 grid, dim3 block) {
    Grid g{k, params, grid, block, 1ULL * grid.x * grid.y * grid.z, 1, schedule_kind.load(), {~0ULL}, {}};
    LanePool* pool = LanePool::mine();
    const unsigned long long lanes = pool == nullptr ? 1 : std::min<unsigned long long>(block_lanes.load(), g.blocks);
    g.lanes = static_cast<unsigned>(lanes);
    g.failures.assign(g.lanes, {~0ULL, std::string()});
    if (g.lanes == 1) {
        run_lane(g, 0);
    } else {
        pool->run(g);
    }
    const auto first = std::min_element(g.failures.begin(), g.failures.end(),
                                        [](const auto& a, const auto& b) { return a.first < b.first; });
    return first->second;
}

// ---- cooperative launches --------------------------------------------------------------------------------------------

// A cooperative launch (cuLaunchCooperativeKernel) guarantees that every block is resident at once, which a grid-wide
// barrier needs. Here every block gets its own OS thread (with its fibers, so __shared__ stays per block), all started
// together, in the schedule's order; the blocks run truly concurrently, so one block reading what another writes
// without a grid sync between is a race that shows. The grid may not exceed max_cooperative_blocks (a GPU's limit is
// what fits on its multiprocessors at once: cuLaunchCooperativeKernel fails with COOPERATIVE_LAUNCH_TOO_LARGE).
std::atomic<int> max_cooperative_blocks{128};

std::string run_cooperative(const Kernel* k, void** params, dim3 grid, dim3 block) {
    const unsigned long long blocks = 1ULL * grid.x * grid.y * grid.z;
    GridBarrier barrier(blocks);
    std::vector<std::pair<unsigned long long, std::string>> failures(blocks, {~0ULL, std::string()});
    const int order = schedule_kind.load();
    std::vector<std::thread> threads;
    threads.reserve(blocks);
    for (unsigned long long i = 0; i < blocks; ++i) {
        const unsigned long long id = order == 1 ? blocks - 1 - i : order == 2 ? (i * 7 + 3) % blocks : i;
        threads.emplace_back([&, id] {
            if (!tl_runner) tl_runner = std::make_unique<Runner>();
            Runner& r = *tl_runner;
            std::string e;
            block_idx = uint3{static_cast<unsigned>(id % grid.x), static_cast<unsigned>(id / grid.x % grid.y),
                              static_cast<unsigned>(id / grid.x / grid.y)};
            if (!r.reserve(1ULL * block.x * block.y * block.z)) {
                e = "could not map fiber stacks";
            } else {
                r.kernel = k;
                r.params = params;
                r.barrier = &barrier;
                grid_dim = grid;
                block_dim = block;
                run_block(r, id, e);
            }
            if (!e.empty()) failures[id] = {id, e};
            barrier.exit(block_name(), e);
        });
    }
    for (std::thread& t : threads) t.join();
    // blocks that waited at a broken barrier report it; the reason is the block that broke it
    std::string broken = barrier.broken();
    if (!broken.empty()) return broken;
    const auto first = std::min_element(failures.begin(), failures.end(),
                                        [](const auto& a, const auto& b) { return a.first < b.first; });
    return first->second;
}

// ---- device memory -------------------------------------------------------------------------------------------------

// Each allocation is its own mapping, laid out so that both kinds of out-of-bounds access show up:
//
//   [ unused ][ front guard: kGuardBytes of kGuardByte ][ user bytes ][ tail: < 16 bytes of 0xFF ][ PROT_NONE page ]
//
// Reads: the user region ends (after rounding its size up to 16 bytes, so that its start keeps the 16-byte alignment
// float4 loads need) where a PROT_NONE page begins, so a kernel reading past the end crashes the process with SIGSEGV
// at the read (in the JVM: a crashed test fork, which fails the build) instead of reading a neighbour's data and
// passing. A read at most 15 bytes past an allocation whose size is not a multiple of 16 lands in the tail, which
// holds NaN bytes like unwritten memory, so it shows up in the results instead.
// Writes: the front guard zone and the tail are checked after every launch; a launch that changed them fails (an
// out-of-bounds write that would silently corrupt a neighbouring buffer on a GPU). Writes past the tail fault like
// reads. Fresh memory is filled with 0xFF bytes, a NaN pattern, as a GPU gives no zeroed memory either: reading what
// nothing wrote shows up as NaN.
constexpr std::size_t kGuardBytes = 256;
constexpr unsigned char kGuardByte = 0xA5;
constexpr unsigned char kFreshByte = 0xFF;
constexpr std::size_t kStartAlign = 16;

struct Allocation {
    unsigned char* base;   // the mapping
    std::size_t mapped;    // its length, the PROT_NONE page included
    std::size_t bytes;     // what was asked for
    bool reported;         // a damaged guard fails one launch (and the free), not every launch after it
};

std::size_t page_size() {
    static const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    return page;
}

std::size_t round_up(std::size_t v, std::size_t to) { return (v + to - 1) / to * to; }

/** Bytes between the end of what was asked for and the PROT_NONE page. */
std::size_t tail_bytes(std::size_t bytes) { return round_up(bytes, kStartAlign) - bytes; }

std::mutex memory_lock;
std::map<void*, Allocation>& allocations() {
    static std::map<void*, Allocation> live;
    return live;
}

/** Empty if the front guard zone and the tail are intact, else what is damaged. */
std::string check_guards(void* user, const Allocation& a) {
    const unsigned char* front = static_cast<unsigned char*>(user) - kGuardBytes;
    const unsigned char* tail = static_cast<unsigned char*>(user) + a.bytes;
    for (std::size_t i = 0; i < kGuardBytes; ++i) {
        if (front[i] != kGuardByte) return "bytes before an allocation of " + std::to_string(a.bytes) + " were written";
    }
    for (std::size_t i = 0, n = tail_bytes(a.bytes); i < n; ++i) {
        if (tail[i] != kFreshByte) {
            return "bytes after an allocation of " + std::to_string(a.bytes) + " were written (at offset " +
                   std::to_string(a.bytes + i) + ")";
        }
    }
    return {};
}

std::string check_all_guards() {
    std::lock_guard<std::mutex> g(memory_lock);
    for (auto& [user, a] : allocations()) {
        if (a.reported) continue;
        std::string e = check_guards(user, a);
        if (!e.empty()) {
            a.reported = true;
            return e;
        }
    }
    return {};
}

// ---- launch --------------------------------------------------------------------------------------------------------

void copy_message(const std::string& m, char* out, int outLen) {
    if (out == nullptr || outLen <= 0) return;
    std::snprintf(out, static_cast<std::size_t>(outLen), "%s", m.c_str());
}

enum Status { OK = 0, NO_SUCH_KERNEL = 1, BAD_ARGUMENTS = 2, BAD_CONFIGURATION = 3, KERNEL_FAILED = 4 };

int check_launch(const char* name, const char* signature, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                 unsigned by, unsigned bz, unsigned sharedBytes, const Kernel** found, std::string& error) {
    auto it = registry().find(name);
    if (it == registry().end()) {
        error = std::string("no kernel named '") + name + "' in the host build";
        return NO_SUCH_KERNEL;
    }
    if (it->second.signature != signature) {
        error = std::string("kernel '") + name + "' takes arguments (" + it->second.signature + ") but was given (" +
                signature + ") [p = float*, i = int, l = long long, f = float]";
        return BAD_ARGUMENTS;
    }
    const unsigned long long threads = 1ULL * bx * by * bz;
    if (bx == 0 || by == 0 || bz == 0 || bx > 1024 || by > 1024 || bz > 64 || threads > 1024) {
        error = "invalid block " + std::to_string(bx) + "x" + std::to_string(by) + "x" + std::to_string(bz) +
                " (1..1024 threads, x,y <= 1024, z <= 64)";
        return BAD_CONFIGURATION;
    }
    if (threads > it->second.maxThreads) {
        // nvcc compiles the kernel for at most this many threads (its register budget assumes it): a GPU refuses
        // the launch ("too many resources requested for launch") where the CPU would happily run it.
        error = "block " + std::to_string(bx) + "x" + std::to_string(by) + "x" + std::to_string(bz) + " has " +
                std::to_string(threads) + " threads, more than the kernel's __launch_bounds__(" +
                std::to_string(it->second.maxThreads) +
                "): a GPU rejects the launch (too many resources requested for launch)";
        return BAD_CONFIGURATION;
    }
    if (gx == 0 || gy == 0 || gz == 0 || gx > 2147483647u || gy > 65535 || gz > 65535) {
        error = "invalid grid " + std::to_string(gx) + "x" + std::to_string(gy) + "x" + std::to_string(gz) +
                " (x 1..2^31-1, y and z 1..65535)";
        return BAD_CONFIGURATION;
    }
    if (sharedBytes != 0) {
        error = "dynamic shared memory (" + std::to_string(sharedBytes) +
                " bytes) is not supported: the kernels use static __shared__ only";
        return BAD_CONFIGURATION;
    }
    *found = &it->second;
    return OK;
}

}  // namespace

// ---- built-ins -----------------------------------------------------------------------------------------------------

const uint3& thread_idx() {
    Runner* r = tl_runner.get();
    if (r == nullptr || r->current == nullptr) {
        std::fprintf(stderr, "lstmk host build: threadIdx read outside a kernel launch\n");
        std::abort();
    }
    return r->current->tid;
}

void sync_threads(const char* file, int line) {
    Runner* r = tl_runner.get();
    if (r == nullptr || r->current == nullptr) {
        std::fprintf(stderr, "lstmk host build: __syncthreads() outside a kernel launch at %s:%d\n", file, line);
        std::abort();
    }
    Fiber* f = r->current;
    f->state = State::Waiting;
    f->file = file;
    f->line = line;
    swapcontext(&f->context, &r->scheduler);
}

void grid_sync(const char* file, int line) {
    Runner* r = tl_runner.get();
    if (r == nullptr || r->current == nullptr) {
        std::fprintf(stderr, "lstmk host build: grid sync outside a kernel launch at %s:%d\n", file, line);
        std::abort();
    }
    Fiber* f = r->current;
    f->file = file;
    f->line = line;
    if (r->barrier == nullptr) {   // undefined on a GPU: a grid sync needs every block resident
        f->state = State::Trapped;
        f->why = "grid sync in a kernel not launched cooperatively";
        swapcontext(&f->context, &r->scheduler);   // never resumed
        std::abort();
    }
    f->state = State::Waiting;
    f->grid = true;
    swapcontext(&f->context, &r->scheduler);
    f->grid = false;
}

void trap(const char* file, int line) {
    Runner* r = tl_runner.get();
    if (r == nullptr || r->current == nullptr) {
        std::fprintf(stderr, "lstmk host build: __trap() outside a kernel launch at %s:%d\n", file, line);
        std::abort();
    }
    Fiber* f = r->current;
    f->state = State::Trapped;
    f->file = file;
    f->line = line;
    swapcontext(&f->context, &r->scheduler);   // never resumed
    std::abort();
}

bool register_kernel(const char* name, void* fn, Thunk thunk, const char* signature, unsigned maxThreads) {
    registry()[name] = Kernel{fn, thunk, signature, maxThreads};
    return true;
}

}  // namespace lstmk_host

// ---- C API (called from Java through FFM; see org.lstmk.cuda.HostLibrary) ------------------------------------------

using namespace lstmk_host;

extern "C" {

/** Number of kernels in the registry. */
int lstmk_host_kernel_count() { return static_cast<int>(registry().size()); }

/** Writes the kernel's argument signature (e.g. "iipl") into out; 1 if the kernel exists, else 0. */
int lstmk_host_kernel_signature(const char* name, char* out, int outLen) {
    auto it = registry().find(name);
    if (it == registry().end()) return 0;
    copy_message(it->second.signature, out, outLen);
    return 1;
}

/** What cuLaunchKernel checks before it enqueues: 0, or a status with a message in err. */
int lstmk_host_check_launch(const char* name, const char* signature, unsigned gx, unsigned gy, unsigned gz,
                            unsigned bx, unsigned by, unsigned bz, unsigned sharedBytes, char* err, int errLen) {
    const Kernel* k = nullptr;
    std::string e;
    int rc = check_launch(name, signature, gx, gy, gz, bx, by, bz, sharedBytes, &k, e);
    copy_message(e, err, errLen);
    return rc;
}

}  // extern "C"

namespace {

/**
 * The checks and the run both launch kinds share: the configuration as cuLaunchKernel checks it, then (cooperative)
 * the co-residency limit, no launch from inside a kernel, the grid, the guard zones; 0 or a status with err.
 */
int launch(bool cooperative, const char* name, const char* signature, unsigned gx, unsigned gy, unsigned gz,
           unsigned bx, unsigned by, unsigned bz, unsigned sharedBytes, void** params, char* err, int errLen) {
    const Kernel* k = nullptr;
    std::string e;
    int rc = check_launch(name, signature, gx, gy, gz, bx, by, bz, sharedBytes, &k, e);
    if (rc != OK) {
        copy_message(e, err, errLen);
        return rc;
    }
    const unsigned long long blocks = 1ULL * gx * gy * gz;
    if (cooperative && blocks > static_cast<unsigned long long>(max_cooperative_blocks.load())) {
        copy_message("cooperative launch too large: " + std::to_string(blocks) + " blocks, at most " +
                     std::to_string(max_cooperative_blocks.load()) + " can be resident at once", err, errLen);
        return BAD_CONFIGURATION;
    }
    if (tl_runner && tl_runner->current != nullptr) {
        copy_message("a kernel launched from inside a kernel", err, errLen);
        return BAD_CONFIGURATION;
    }
    e = cooperative ? run_cooperative(k, params, dim3{gx, gy, gz}, dim3{bx, by, bz})
                    : run_grid(k, params, dim3{gx, gy, gz}, dim3{bx, by, bz});
    if (!e.empty()) {
        copy_message(std::string(name) + ": " + e, err, errLen);
        return KERNEL_FAILED;
    }
    e = check_all_guards();
    if (!e.empty()) {
        copy_message(std::string(name) + " wrote outside a buffer: " + e, err, errLen);
        return KERNEL_FAILED;
    }
    return OK;
}

}  // namespace

extern "C" {

/**
 * Runs a kernel over its whole grid, on the calling thread and its block lanes (lstmk_host_set_block_lanes), and
 * returns when every block is done; 0, or a status with a message in err (the failure of the lowest failing block).
 */
int lstmk_host_launch(const char* name, const char* signature, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                      unsigned by, unsigned bz, unsigned sharedBytes, void** params, char* err, int errLen) {
    return launch(false, name, signature, gx, gy, gz, bx, by, bz, sharedBytes, params, err, errLen);
}

/**
 * A cooperative launch (cuLaunchCooperativeKernel): every block at once, each on its own OS thread, so that the
 * kernel's grid syncs are real barriers; 0, or a status with a message in err. A grid larger than
 * lstmk_host_max_cooperative_blocks() is refused, as a GPU refuses one that does not fit on its multiprocessors.
 */
int lstmk_host_launch_cooperative(const char* name, const char* signature, unsigned gx, unsigned gy, unsigned gz,
                                  unsigned bx, unsigned by, unsigned bz, unsigned sharedBytes, void** params, char* err,
                                  int errLen) {
    return launch(true, name, signature, gx, gy, gz, bx, by, bz, sharedBytes, params, err, errLen);
}

/** Blocks a cooperative launch may have (the emulated device's co-residency limit; default 128). */
int lstmk_host_max_cooperative_blocks() { return max_cooperative_blocks.load(); }

/** Sets that limit (tests: a grid that does not fit must be refused), clamped to 1..1024. */
void lstmk_host_set_max_cooperative_blocks(int blocks) {
    max_cooperative_blocks.store(std::max(1, std::min(blocks, 1024)));
}

/**
 * Device memory: 16-byte aligned, filled with NaN bytes, after a guard zone and ending at a PROT_NONE page (see
 * "device memory" above: a read past the end crashes the process); null if out of memory.
 */
void* lstmk_host_alloc(long long bytes) {
    if (bytes < 0) return nullptr;
    const std::size_t b = static_cast<std::size_t>(bytes);
    const std::size_t body = round_up(b, kStartAlign);
    const std::size_t page = page_size();
    const std::size_t mapped = round_up(kGuardBytes + body, page) + page;
    void* m = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    auto* base = static_cast<unsigned char*>(m);
    unsigned char* fence = base + mapped - page;
    if (mprotect(fence, page, PROT_NONE) != 0) {
        munmap(m, mapped);
        return nullptr;
    }
    unsigned char* user = fence - body;
    std::memset(user - kGuardBytes, kGuardByte, kGuardBytes);
    std::memset(user, kFreshByte, body);   // the tail too: NaN, like memory nothing wrote
    std::lock_guard<std::mutex> g(memory_lock);
    allocations()[user] = Allocation{base, mapped, b, false};
    return user;
}

/** Frees memory from lstmk_host_alloc: 0, 1 (with a message) if a guard zone was damaged, 2 if p is unknown. */
int lstmk_host_free(void* p, char* err, int errLen) {
    Allocation a;
    {
        std::lock_guard<std::mutex> g(memory_lock);
        auto it = allocations().find(p);
        if (it == allocations().end()) {
            copy_message("not an allocation of the host build (freed twice?)", err, errLen);
            return 2;
        }
        a = it->second;
        allocations().erase(it);
    }
    std::string e = check_guards(p, a);
    munmap(a.base, a.mapped);
    if (!e.empty()) {
        copy_message(e, err, errLen);
        return 1;
    }
    return 0;
}

/** Allocations not yet freed, over all callers. */
long long lstmk_host_live_allocations() {
    std::lock_guard<std::mutex> g(memory_lock);
    return static_cast<long long>(allocations().size());
}

/**
 * Order in which a block's threads run between barriers: 0 ascending, 1 descending, 2 shuffled per phase; and the
 * order in which each block lane runs its share of the blocks: ascending, descending, a stride permutation.
 */
void lstmk_host_set_schedule(int kind) { schedule_kind.store(kind < 0 || kind > 2 ? 0 : kind); }

/** OS threads a launch runs its blocks on (1 = one after another on the caller; clamped to 1..8; default 3). */
void lstmk_host_set_block_lanes(int lanes) { block_lanes.store(std::max(1, std::min(lanes, kMaxLanes))); }

/** The current number of block lanes. */
int lstmk_host_block_lanes() { return block_lanes.load(); }

}  // extern "C"
