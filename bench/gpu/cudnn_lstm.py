#!/usr/bin/env python3
"""cuDNN's LSTM, through PyTorch's nn.LSTM, on the shapes the CUDA backend is benchmarked on (DeepBench-like:
I = H, zero initial state, time-major), timed the way our kernels are timed:

  fp32_ms      device time of one forward on inputs already on the GPU, CUDA events, TF32 off (pure fp32 like ours)
  tf32_ms      the same with TF32 allowed (PyTorch's default for cuDNN; tensor cores) - for reference only
  fp32_e2e_ms  wall time of x (host) -> GPU -> forward -> y (host), as an application calling our Java API sees it
  fp32_e2e_pinned_ms  the same from and into pinned host tensors (non_blocking copies), as with Lstm.allocateHost

Medians over --reps runs after --warmup runs. Writes JSON (--out) and prints one line per shape.
Usage: python3 cudnn_lstm.py --shapes 512x16x100,1024x64x100 --out cudnn.json [--reps 20] [--warmup 5]
Exit code 3 when PyTorch has no CUDA device or cuDNN.
"""
import argparse
import json
import statistics
import sys
import time

DEFAULT_SHAPES = ("512x1x100,512x16x100,512x64x100,1024x1x100,1024x16x100,1024x64x100,"
                  "2048x1x100,2048x16x100,2048x64x100,1024x64x50,1024x64x200")


def parse_shape(shape):
    hidden, batch, steps = (int(v) for v in shape.split("x"))
    return hidden, batch, steps


def gflop(hidden, batch, steps):
    """Forward FLOPs of one sequence: 2 * T * B * 4H * (I + H), with I = H."""
    return 2.0 * steps * batch * 4 * hidden * (2 * hidden) / 1e9


def median_device_ms(torch, fn, reps, warmup):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def median_wall_ms(torch, fn, reps, warmup):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def set_tf32(torch, allowed):
    torch.backends.cudnn.allow_tf32 = allowed
    torch.backends.cuda.matmul.allow_tf32 = allowed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", default=DEFAULT_SHAPES, help="comma-separated HxBxT")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--out", required=True, help="JSON file to write")
    args = ap.parse_args()

    import torch  # imported here so that --help and py_compile work without PyTorch

    if not torch.cuda.is_available():
        print("cudnn_lstm.py: PyTorch sees no CUDA device", file=sys.stderr)
        return 3
    if not torch.backends.cudnn.is_available():
        print("cudnn_lstm.py: PyTorch has no cuDNN", file=sys.stderr)
        return 3
    torch.backends.cudnn.enabled = True
    torch.manual_seed(7)
    results = []
    with torch.no_grad():
        for shape in args.shapes.split(","):
            hidden, batch, steps = parse_shape(shape.strip())
            lstm = torch.nn.LSTM(hidden, hidden).cuda().eval()
            x = torch.rand(steps, batch, hidden, device="cuda") * 2 - 1
            x_host = x.cpu()
            row = {"shape": shape.strip(), "hidden": hidden, "batch": batch, "steps": steps,
                   "gflop": gflop(hidden, batch, steps)}
            set_tf32(torch, False)
            row["fp32_ms"] = median_device_ms(torch, lambda: lstm(x), args.reps, args.warmup)
            row["fp32_e2e_ms"] = median_wall_ms(torch, lambda: lstm(x_host.cuda())[0].cpu(), args.reps, args.warmup)
            x_pinned = x_host.pin_memory()
            y_pinned = torch.empty(steps, batch, hidden).pin_memory()

            def pinned_call():
                y_pinned.copy_(lstm(x_pinned.cuda(non_blocking=True))[0], non_blocking=True)
                torch.cuda.current_stream().synchronize()
            row["fp32_e2e_pinned_ms"] = median_wall_ms(torch, pinned_call, args.reps, args.warmup)
            set_tf32(torch, True)
            row["tf32_ms"] = median_device_ms(torch, lambda: lstm(x), args.reps, args.warmup)
            set_tf32(torch, False)
            row["fp32_tflops"] = row["gflop"] / row["fp32_ms"]
            results.append(row)
            print("%-12s fp32 %9.3f ms (%6.2f TFLOP/s)  tf32 %9.3f ms  fp32 end-to-end %9.3f ms"
                  % (row["shape"], row["fp32_ms"], row["fp32_tflops"], row["tf32_ms"], row["fp32_e2e_ms"]))
            del lstm, x, x_host, x_pinned, y_pinned
            torch.cuda.empty_cache()
    info = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(), "results": results}
    with open(args.out, "w") as f:
        json.dump(info, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
