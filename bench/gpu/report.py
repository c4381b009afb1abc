#!/usr/bin/env python3
"""Joins the GPU run's measurements into one table (markdown): our kernels' device time (GpuTiming, CUDA events),
our end-to-end time through the Java API (JMH, LstmBenchmark.inference), and cuDNN through PyTorch
(cudnn_lstm.py), with the ratio to cuDNN and TFLOP/s. Any input may be missing; its columns then show "-".

Usage: python3 report.py --timing timing.tsv --jmh jmh.json --cudnn cudnn.json [--out results.md]
"""
import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model  # noqa: E402  (beside this script)


def read_timing(path):
    """GpuTiming's TSV: shape -> row dict; the '# ...' line names the device."""
    rows, device = {}, None
    if not path or not os.path.exists(path):
        return rows, device
    header = None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("#"):
                device = line[1:].strip()
            elif header is None:
                header = line.split("\t")
            else:
                rows[line.split("\t")[0]] = dict(zip(header, line.split("\t")))
    return rows, device


def read_jmh(path):
    """JMH JSON: shape -> (ms/op, error) for LstmBenchmark.inference on backend cuda."""
    out = {}
    if not path or not os.path.exists(path):
        return out
    with open(path) as f:
        text = f.read().strip()
    if not text:
        return out
    for r in json.loads(text):
        params = r.get("params", {})
        if r.get("benchmark", "").endswith(".inference") and params.get("backend") in ("cuda", "cuda-host"):
            m = r["primaryMetric"]
            out[params["shape"]] = (number(m.get("score")), number(m.get("scoreError")))
    return out


def number(v):
    """A finite float, or None (JMH writes "NaN" for the error of a single iteration)."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def read_cudnn(path):
    if not path or not os.path.exists(path):
        return {}, {}
    with open(path) as f:
        data = json.load(f)
    return {r["shape"]: r for r in data.get("results", [])}, data


def fmt(v, digits=3):
    return "-" if v is None else ("%.*f" % (digits, v))


def e2e_cell(score):
    if not score or score[0] is None:
        return "-"
    return "%.3f ± %.3f" % score if score[1] is not None else "%.3f" % score[0]


def shape_key(shape):
    h, b, t = (int(v) for v in shape.split("x"))
    return (h, b, t)


def build(timing, device, jmh, cudnn, cudnn_info):
    shapes = sorted(set(timing) | set(jmh) | set(cudnn), key=shape_key)
    lines = []
    lines.append("# CUDA backend vs cuDNN: forward inference (I = H, zero initial state, time-major)")
    lines.append("")
    lines.append("- ours: %s" % (device or "(no GpuTiming output)"))
    if cudnn_info:
        lines.append("- cuDNN: %s, PyTorch %s, CUDA %s, cuDNN %s" % (cudnn_info.get("device"), cudnn_info.get("torch"),
                                                               cudnn_info.get("cuda"), cudnn_info.get("cudnn")))
    lines.append("- kernel ms: device time of one sequence with inputs on the GPU (CUDA events, median), launches "
                 "issued one by one; graph ms: the same launches replayed as one CUDA graph, as the API runs them; "
                 "tf32 / bf16 ms: graph, the input projection on tensor cores (matmulPrecision TF32 / BF16); "
                 "persistent ms: the steps in one cooperative kernel (B <= 16, as the API runs them there); "
                 "model: bench/gpu/model.py's expectation for the graph path from published ceilings (not a measurement); "
                 "ratio = ours (the fastest of our paths) / cuDNN fp32 (TF32 off), lower is better")
    lines.append("- end-to-end ms: host memory in, host memory out (ours: JMH LstmBenchmark.inference through the "
                 "Java API; cuDNN: x.cuda() -> LSTM -> y.cpu()); TFLOP/s = 2*T*B*4H*(I+H) / kernel time")
    lines.append("")
    lines.append("| shape HxBxT | ours kernel ms | ours graph ms | ours persistent ms | model ms | cuDNN fp32 ms | ratio "
                 "| ours TFLOP/s | cuDNN TFLOP/s | ours tf32 ms | cuDNN tf32 ms | ours bf16 ms | ours e2e ms (JMH) "
                 "| cuDNN e2e ms |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    worst_b16 = None
    for s in shapes:
        t, c = timing.get(s), cudnn.get(s)
        eager = float(t["device_ms_median"]) if t else None
        graph = float(t["graph_ms_median"]) if t and "graph_ms_median" in t else None
        tf32 = float(t["tf32_graph_ms_median"]) if t and "tf32_graph_ms_median" in t else None
        bf16 = float(t["bf16_graph_ms_median"]) if t and "bf16_graph_ms_median" in t else None
        pers = float(t["persistent_ms_median"]) if t and "persistent_ms_median" in t else None
        pers = None if pers is not None and math.isnan(pers) else pers
        ours = min(v for v in (pers, graph, eager) if v is not None) if t else None   # what the API would run
        ours_tf = float(t["gflop"]) / ours if t and ours else None
        cd = c["fp32_ms"] if c else None
        ratio = ours / cd if ours is not None and cd else None
        if ratio is not None and shape_key(s)[1] >= 16:
            worst_b16 = ratio if worst_b16 is None else max(worst_b16, ratio)
        e2e = jmh.get(s)
        h, b, steps = (int(v) for v in s.split("x"))
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            s, fmt(eager), fmt(graph), fmt(pers), fmt(model.persistent_ms(h, b, steps) if pers is not None
                                                    else model.forward_ms(h, b, steps)), fmt(cd), fmt(ratio, 2), fmt(ours_tf, 2), fmt(c["fp32_tflops"] if c else None, 2),
            fmt(tf32), fmt(c["tf32_ms"] if c else None), fmt(bf16), e2e_cell(e2e), fmt(c["fp32_e2e_ms"] if c else None)))
    lines.append("")
    lines.append("Host path (whole Lstm.forward calls from host memory, wall clock, GpuTiming; model: bench/gpu/model.py's "
                 "host_ms on the model's kernel time, not a measurement): serial = copies whole before and after the "
                 "kernels (-Dlstmk.cuda.overlap=false); ordinary = native memory, copies staged and overlapped in chunks; "
                 "pinned = Lstm.allocateHost memory, copied directly")
    lines.append("")
    lines.append("| shape HxBxT | serial ms | ordinary ms | pinned ms | model serial / ordinary / pinned ms "
                 "| cuDNN e2e ms | cuDNN e2e pinned ms |")
    lines.append("|---|---:|---:|---:|---|---:|---:|")
    for s in shapes:
        t, c = timing.get(s), cudnn.get(s)
        h, b, steps = (int(v) for v in s.split("x"))
        k = (model.persistent_ms(h, b, steps) if b <= 16 and (h // 8) * -(-b // 16) <= 6 * model.SMS
             else model.forward_ms(h, b, steps))
        col = lambda name: float(t[name]) if t and name in t else None
        lines.append("| %s | %s | %s | %s | %s / %s / %s | %s | %s |" % (
            s, fmt(col("e2e_serial_ms_median")), fmt(col("e2e_ms_median")), fmt(col("e2e_pinned_ms_median")),
            fmt(model.host_ms(h, b, steps, k, overlap=False)), fmt(model.host_ms(h, b, steps, k)),
            fmt(model.host_ms(h, b, steps, k, pinned=True)), fmt(c["fp32_e2e_ms"] if c else None),
            fmt(c.get("fp32_e2e_pinned_ms") if c else None)))
    lines.append("")
    if worst_b16 is not None:
        lines.append("Issue 4 goal (within 2x of cuDNN fp32 for B >= 16): %s (worst ratio %.2f)"
                     % ("met" if worst_b16 <= 2.0 else "NOT met", worst_b16))
    else:
        lines.append("Issue 4 goal (within 2x of cuDNN fp32 for B >= 16): not measured")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--timing")
    ap.add_argument("--jmh")
    ap.add_argument("--cudnn")
    ap.add_argument("--out")
    args = ap.parse_args()
    timing, device = read_timing(args.timing)
    cudnn, cudnn_info = read_cudnn(args.cudnn)
    text = build(timing, device, read_jmh(args.jmh), cudnn, cudnn_info)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
