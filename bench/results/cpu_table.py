#!/usr/bin/env python3
"""Turns a bench/results/run-cpu.sh sitting into Markdown tables: SIMD vs oneDNN per vector width, and under load."""
import json, re, sys
from pathlib import Path

out = Path(sys.argv[1])


def jmh(name):
    p = out / name
    if not p.exists():
        return []
    rows = []
    for r in json.loads(p.read_text()):
        m = r["primaryMetric"]
        rows.append((r["benchmark"].split(".")[-1], r["params"], m["score"], m["scoreError"], m["scoreUnit"]))
    return rows


onednn = []  # (loaded, threads, isa, mode, H, B, T, median ms)
line = re.compile(r"^(loaded )?(threads=1 )?isa=(\S+) onednn (\S+)\s+H=\s*(\d+) B=\s*(\d+) T=\s*(\d+) thr=(\d+).*"
                  r"min/med/max =\s*([\d.]+)\s+([\d.]+)")
for l in (out / "onednn.txt").read_text().splitlines():
    m = line.match(l)
    if m and m[4] in ("inference", "train"):  # "train" is forward + backward; train-fwd/-bwd are its halves
        mode = "training" if m[4] == "train" else m[4]
        onednn.append((bool(m[1]), int(m[8]), m[3], mode, int(m[5]), int(m[6]), int(m[7]), float(m[10])))


def shape_key(s):
    h, b, t = (int(v) for v in s.split("x"))
    return h, b, t


def flops(mode, s):
    h, b, t = shape_key(s)
    return 2 * t * b * 4 * h * (2 * h) * (3 if mode == "training" else 1)


print("## SIMD against oneDNN, 2 threads, two passes each (ms per call; ratio = SIMD / oneDNN, below 1 is ours ahead)\n")
for isa in ("native", "avx2"):
    print(f"### {'widest vectors of the machine' if isa == 'native' else 'restricted to AVX2 (-XX:UseAVX=2, ONEDNN_MAX_CPU_ISA=AVX2)'}\n")
    print("| mode | H×B×T | SIMD ms, pass 1 / 2 (±err) | oneDNN ms, pass 1 / 2 | SIMD GFLOP/s | oneDNN GFLOP/s | SIMD ÷ oneDNN |")
    print("|---|---|---|---|---|---|---|")
    for mode in ("inference", "training"):
        ours = {}
        for p in (1, 2):
            for bench, params, score, err, unit in jmh(f"simd-{isa}-{p}-{mode}.json"):
                ours.setdefault(params["shape"], []).append((score, err))
        for s in sorted(ours, key=lambda s: (shape_key(s)[1], shape_key(s)[0])):
            h, b, t = shape_key(s)
            theirs = [r[7] for r in onednn if not r[0] and r[2] == isa and r[3] == mode and (r[4], r[5], r[6]) == (h, b, t)]
            o = sum(v for v, _ in ours[s]) / len(ours[s])
            d = sum(theirs) / len(theirs) if theirs else float("nan")
            f = flops(mode, s)
            print(f"| {mode} | {s.replace('x', '×')} | " + " / ".join(f"{v:.2f} (±{e:.2f})" for v, e in ours[s])
                  + f" | {' / '.join(f'{v:.2f}' for v in theirs)} | {f / o / 1e6:.0f} | {f / d / 1e6:.0f} | **{o / d:.2f}** |")
    print()

print("## Under load: one core kept busy by a shell loop (ms per call)\n")
print("| mode | H×B×T | SIMD 1 thread | SIMD 2 threads | 2 ÷ 1 | oneDNN 1 thread | oneDNN 2 threads |")
print("|---|---|---|---|---|---|---|")
def by_threads(name):
    """(benchmark, shape, threads) -> (score, error) of one JMH result file."""
    return {(bench, params["shape"], int(params["threads"])): (score, err)
            for bench, params, score, err, unit in jmh(name)}


loaded = by_threads("simd-loaded.json")
for bench, s in sorted({(k[0], k[1]) for k in loaded}):
    h, b, t = shape_key(s)
    one, two = loaded.get((bench, s, 1)), loaded.get((bench, s, 2))
    d = {r[1]: r[7] for r in onednn if r[0] and r[3] == bench and (r[4], r[5], r[6]) == (h, b, t)}
    print(f"| {bench} | {s.replace('x', '×')} | {one[0]:.2f} (±{one[1]:.2f}) | {two[0]:.2f} (±{two[1]:.2f}) | "
          f"**{two[0] / one[0]:.2f}** | {d.get(1, float('nan')):.2f} | {d.get(2, float('nan')):.2f} |")
print()
print("## Eight engines on the machine's cores: calls per second of all eight together\n")
print("| H×B×T | threads per call = 1 | threads per call = 2 | 2 ÷ 1 |")
print("|---|---|---|---|")
eng = by_threads("simd-engines.json")
for bench, s in sorted({(k[0], k[1]) for k in eng}, key=lambda k: shape_key(k[1])):
    one, two = eng[(bench, s, 1)], eng[(bench, s, 2)]
    print(f"| {s.replace('x', '×')} | {one[0]:.1f} (±{one[1]:.1f}) | {two[0]:.1f} (±{two[1]:.1f}) | **{two[0] / one[0]:.2f}** |")
