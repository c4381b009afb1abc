#!/usr/bin/env python3
"""Formats the SIMD benchmark table from the JMH JSON files and the oneDNN peer output of run-simd.sh.

Usage: simd_table.py OUT_DIR   (prints Markdown)
FLOPs: 2*T*B*4H*(I+H) forward with I = H, 3x that for training. Peak: 440 GFLOP/s for two cores at 512 bits,
measured on this machine by bench/peak/run.sh (the issue's 233 assumed one 512-bit FMA per cycle; see
2026-11-25-fma-peak.md). Allocation: JMH's gc.alloc.rate.norm when the run used -prof gc.
"""
import json
import os
import re
import sys

PEAK = 440.0
out = sys.argv[1]


def load(name):
    path = os.path.join(out, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return json.load(f)


def flops(shape, training):
    h, b, t = map(int, shape.split("x"))
    f = 2.0 * t * b * 4 * h * (h + h)
    return 3 * f if training else f


def results(name):
    r = {}
    for e in load(name):
        mode = e["benchmark"].rsplit(".", 1)[1]
        p = e["params"]
        key = (mode, p["shape"], int(p["threads"]), float(p.get("inputScale", "1")))
        alloc = e.get("secondaryMetrics", {}).get("gc.alloc.rate.norm", {}).get("score")
        r[key] = (e["primaryMetric"]["score"], e["primaryMetric"]["scoreError"], alloc)
    return r


simd = {}
for n in ("simd-inference.json", "simd-training.json", "simd-saturating-inference.json", "simd-saturating-training.json"):
    simd.update(results(n))
ref = {}
for n in ("reference-inference.json", "reference-training.json"):
    ref.update(results(n))

peer, peer_active = {}, {}
pat = re.compile(r"^(onednn(?:-active)?) (inference|train)\s+H=\s*(\d+) B=\s*(\d+) T=\s*(\d+).*min/med/max =\s*([\d.]+)\s+([\d.]+)")
path = os.path.join(out, "onednn.txt")
if os.path.exists(path):
    for line in open(path):
        m = pat.match(line)
        if not m:
            continue
        who, mode, h, b, t, mn, med = m.groups()
        mode = "inference" if mode == "inference" else "training"
        (peer_active if who.endswith("active") else peer)[(mode, f"{h}x{b}x{t}")] = float(med)


def target(mode, shape):
    """The issue's absolute target for two threads: (text, test on ms and GFLOP/s)."""
    if mode == "training":
        return "≥ 190 GFLOP/s", lambda ms, g: g >= 190
    if shape == "512x1x100":
        return "≤ 4 ms", lambda ms, g: ms <= 4.0
    if shape == "128x1x1000":
        return "≤ 2.5 ms", lambda ms, g: ms <= 2.5
    return "≥ 200 GFLOP/s", lambda ms, g: g >= 200


print("| mode | H×B×T | threads | SIMD ms (±err) | GFLOP/s | % of 440 | alloc B/call | scalar ms | × scalar "
      "| oneDNN ms (passive / active) | SIMD ÷ best oneDNN time | issue target | met | ≥ oneDNN |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
order = ["512x1x100", "512x16x100", "512x64x100", "1024x64x50", "256x32x200", "128x1x1000"]
for mode in ("inference", "training"):
    for shape in order:
        for th in (1, 2):
            k = (mode, shape, th, 1.0)
            if k not in simd:
                continue
            ms, err, alloc = simd[k]
            al = f"{alloc:.0f}" if alloc is not None else "–"
            g = flops(shape, mode == "training") / (ms * 1e-3) / 1e9
            r = ref.get((mode, shape, 1, 1.0))
            rs = f"{r[0]:.0f}" if r else "–"
            rx = f"{r[0] / ms:.0f}×" if r else "–"
            dnn = peer.get((mode, shape))
            dnna = peer_active.get((mode, shape))
            best = min(x for x in (dnn, dnna) if x is not None) if (dnn or dnna) else None
            ds = (f"{dnn:.2f}" if dnn else "–") + (f" / {dnna:.2f}" if dnna else "")
            dx = f"{ms / best:.2f}" if best else "–"
            if th == 2:
                text, ok = target(mode, shape)
                met = "**met**" if ok(ms, g) else "not met"
                peer_ok = ("**yes**" if ms <= best else "no") if best else "–"
            else:
                text, met, peer_ok = "–", "", ""
            print(f"| {mode} | {shape.replace('x', '×')} | {th} | {ms:.2f} (±{err:.2f}) | {g:.0f} | {100 * g / PEAK:.0f}% "
                  f"| {al} | {rs} | {rx} | {ds} | {dx} | {text} | {met} | {peer_ok} |")
print()
print("Saturating inputs (uniform ±100: every gate saturated), 2 threads:")
print()
print("| mode | H×B×T | ms (±err) | GFLOP/s | same shape, ordinary inputs |")
print("|---|---|---|---|---|")
for (mode, shape, th, scale), (ms, err, _) in sorted(simd.items()):
    if scale != 1.0:
        g = flops(shape, mode == "training") / (ms * 1e-3) / 1e9
        base = simd.get((mode, shape, th, 1.0))
        print(f"| {mode} | {shape.replace('x', '×')} | {ms:.2f} (±{err:.2f}) | {g:.0f} | {base[0]:.2f} ms |" if base else
              f"| {mode} | {shape.replace('x', '×')} | {ms:.2f} (±{err:.2f}) | {g:.0f} | – |")
act = load("activations.json")
if act:
    print()
    print("Activations, 4096 floats per op (ns/op):")
    print()
    print("| benchmark | inputs ±4 | inputs ±100 |")
    print("|---|---|---|")
    rows = {}
    for e in act:
        rows.setdefault(e["benchmark"].rsplit(".", 1)[1], {})[e["params"]["scale"]] = e["primaryMetric"]["score"]
    for name, v in sorted(rows.items()):
        print(f"| {name} | {v.get('4', v.get('4.0', 0)):.0f} | {v.get('100', v.get('100.0', 0)):.0f} |")
