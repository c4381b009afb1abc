#!/usr/bin/env python3
"""The CUDA backend's performance model: expected device time per kernel and per forward call on an H100 SXM, from
published ceilings (leads, not measurements: replace them with the card's measured figures, as METHOD.md says).

Usage: python3 model.py [HxBxT ...]     prints the Markdown tables kernels-cuda/README.md quotes (kernels; host path)
       report.py imports forward_ms() to put the model beside what bench/gpu measured.

Each kernel's time is the larger of its arithmetic at an assumed fraction of the unit's peak and its memory traffic
at the bandwidth of where the data lives (L2 when it fits, else HBM), plus, per kernel in a chain, the launch cost:
a gap between dependent kernels on the device, and (eager) no faster than the host issues cuLaunchKernel.
"""
import sys

# ---- ceilings (H100 SXM datasheet and common measurements: leads) ------------------------------------------------
FP32_PEAK = 67e12          # FLOP/s, plain FMA
TF32_PEAK = 495e12         # FLOP/s, dense tensor-core TF32 (wgmma); our wmma/mma.sync path reaches a fraction
HBM_BW = 3.35e12           # B/s (H200: 4.8e12)
L2_BW = 5.5e12             # B/s, L2 -> SM
L2_BYTES = 50e6
SMS = 132
# ---- what our kernels are assumed to reach (to be replaced by measurement) -----------------------------------------
GEMM_FP32_EFF = 0.55       # 64x64 tile, 4x4 register tile per thread
GEMM_TF32_EFF = 0.35       # wmma (HMMA), not wgmma: Hopper's fastest path is out of reach for this API
STEP_EFF = 0.45            # fused step: 16-row batch tile, 8 units per block
HOST_LAUNCH_US = 4.0       # one cuLaunchKernel through JCuda, host side (the stream runs dry if the kernel is shorter)
GRAPH_NODE_US = 1.0        # gap between dependent kernel nodes of a replayed graph
KERNEL_MIN_US = 2.0        # a dependent kernel's shortest duration (launch latency on the device, ramp, drain)
GRID_SYNC_US = 1.5         # one grid-wide barrier of a cooperative launch (the persistent forward's per-step cost)
# ---- the host path (leads: PCIe 5.0 x16 is 64 GB/s raw per direction; measured pinned DMA is usually 40-55) ---------
PCIE_BW = 45e9             # B/s, one direction, DMA from/to pinned host memory
STAGE_BW = 8e9             # B/s, the calling thread's memcpy into / out of pinned staging (one core, pageable memory)
CHUNKS = 4                 # StepChunks.MAX_CHUNKS: copies cut by steps, overlapped with the kernels
MIN_BYTES = 1 << 20        # StepChunks.DEFAULT_MIN_BYTES: smaller calls' copies stay whole, on the main stream


def gemm_us(m, n, k, tf32=False):
    """C[m,n] = A[m,k] B[k,n]: arithmetic vs one pass over A, B and C from HBM."""
    flops = 2.0 * m * n * k
    rate = TF32_PEAK * GEMM_TF32_EFF if tf32 else FP32_PEAK * GEMM_FP32_EFF
    tiles = -(-m // 64) * -(-n // 64)
    rate *= min(1.0, tiles / SMS)                       # fewer 64x64 tiles than SMs leaves SMs idle
    bytes_ = 4.0 * (m * k + k * n + m * n)
    return max(flops / rate, bytes_ / HBM_BW) * 1e6 + KERNEL_MIN_US


def step_parts_us(h, b, k=None):
    """One fused forward step, h_{t-1}[b,k] . W_hh^T [k,4h] + the cell: (arithmetic µs, W_hh traffic µs)."""
    k = k or h
    flops = 2.0 * b * 4 * h * k
    blocks = (h // 8 or 1) * -(-b // 16)
    tile = 4 if b <= 4 else 16                           # the small batch tile (_b4 kernels) for B <= 4
    useful = b / (tile * float(-(-b // tile)))           # the batch tile's filled fraction
    rate = FP32_PEAK * STEP_EFF * useful * min(1.0, blocks / SMS)
    w_bytes = 4.0 * 4 * h * k
    bw = L2_BW if w_bytes <= L2_BYTES else HBM_BW
    return flops / rate * 1e6, w_bytes / bw * 1e6


def step_us(h, b, k=None):
    """One fused forward step's device time."""
    return max(step_parts_us(h, b, k)) + KERNEL_MIN_US


def persistent_ms(h, b, t, tf32=False):
    """The projection, then all t steps in one cooperative launch: a grid sync instead of a kernel per step (B <= 16)."""
    return (gemm_us(t * b, 4 * h, h, tf32) + KERNEL_MIN_US + t * (max(step_parts_us(h, b)) + GRID_SYNC_US)) / 1e3


def forward_ms(h, b, t, graph=True, tf32=False):
    """A forward call on inputs already on the GPU: the projection GEMM, then t steps (I = H)."""
    proj = gemm_us(t * b, 4 * h, h, tf32)
    step = step_us(h, b) + GRAPH_NODE_US           # dependent kernels: a gap on the device either way
    per_step = step if graph else max(step, HOST_LAUNCH_US)   # eager: the host must also keep up, one launch each
    return (proj + t * per_step) / 1e3


def host_ms(h, b, t, kernels_ms, pinned=False, overlap=True):
    """A whole forward call from host memory: x [t*b, h] up, the kernels, y [t*b, h] down (I = H).

    Serial (-Dlstmk.cuda.overlap=false): staging memcpy, DMA up, kernels, DMA down, memcpy out, one after another.
    Overlapped (StepChunks, CopyPipeline): three resources run side by side -- the calling thread (staging memcpys),
    the copy engine (DMA) and the SMs (kernels) -- so only the first chunk's way up and the last chunk's way down are
    exposed, and the rest costs the busiest of the three. Pinned memory has no staging memcpy at all.
    """
    one_way = 4.0 * t * b * h
    stage = 0.0 if pinned else one_way / STAGE_BW * 1e3    # ms, one direction
    dma = one_way / PCIE_BW * 1e3
    if not overlap or 2 * one_way < MIN_BYTES or t < 4:   # StepChunks: not cut
        return 2 * stage + 2 * dma + kernels_ms
    head = tail = (stage + dma) / CHUNKS
    rest = 1 - 1.0 / CHUNKS
    return head + max(kernels_ms, 2 * stage * rest, 2 * dma * rest) + tail


def host_table(shapes):
    rows = ["| shape HxBxT | MB each way | kernels ms (graph) | serial, ordinary memory ms | overlapped, ordinary ms "
            "| overlapped, pinned ms | bound |",
            "|---|---:|---:|---:|---:|---:|---|"]
    for s in shapes:
        h, b, t = (int(v) for v in s.split("x"))
        k = persistent_ms(h, b, t) if b <= 16 and (h // 8) * -(-b // 16) <= 6 * SMS else forward_ms(h, b, t)
        dma = 2 * 4.0 * t * b * h / PCIE_BW * 1e3
        stage = 2 * 4.0 * t * b * h / STAGE_BW * 1e3
        rest = 1 - 1.0 / CHUNKS
        bound = ("kernels" if k >= dma * rest else "PCIe") + ("" if k >= stage * rest else "; ordinary memory: staging memcpy")
        rows.append("| %s | %.1f | %.2f | %.2f | %.2f | %.2f | %s |" % (
            s, 4.0 * t * b * h / 1e6, k, host_ms(h, b, t, k, overlap=False), host_ms(h, b, t, k),
            host_ms(h, b, t, k, pinned=True), bound))
    return "\n".join(rows)


def table(shapes):
    rows = ["| shape HxBxT | GFLOP | projection fp32 / tf32 µs | step µs | forward eager ms | graph ms | graph+tf32 ms "
            "| persistent ms | bound |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for s in shapes:
        h, b, t = (int(v) for v in s.split("x"))
        gflop = 2.0 * t * b * 4 * h * 2 * h / 1e9
        step = step_us(h, b)
        arith, traffic = step_parts_us(h, b)
        where = "HBM" if 16.0 * h * h > L2_BYTES else "L2"
        bound = ("eager: host launches; " if step + GRAPH_NODE_US < HOST_LAUNCH_US else "") + (
            "step arithmetic (%s%d blocks)" % ("%d/%d-filled batch tile, " % (b, 4 if b <= 4 else 16) if b % 16 and b not in (4,) else "", (h // 8) * -(-b // 16))
            if arith >= traffic else "W_hh from %s each step" % where)
        pers = "%.2f" % persistent_ms(h, b, t) if b <= 16 and (h // 8) * -(-b // 16) <= 6 * SMS else "-"
        rows.append("| %s | %.2f | %.0f / %.0f | %.1f | %.2f | %.2f | %.2f | %s | %s |" % (
            s, gflop, gemm_us(t * b, 4 * h, h), gemm_us(t * b, 4 * h, h, True), step, forward_ms(h, b, t, False),
            forward_ms(h, b, t), forward_ms(h, b, t, tf32=True), pers, bound))
    return "\n".join(rows)


if __name__ == "__main__":
    shapes = sys.argv[1:] or ["128x1x1000", "512x1x100", "512x16x100", "1024x16x100", "1024x64x50", "2048x64x100"]
    print(table(shapes))
    print()
    print(host_table(shapes))
