#!/usr/bin/env bash
# The whole-layer benchmarks (issue 8) in one sitting: JMH LayerBenchmark on the SIMD backend — cell features
# against the plain layer, a 2-layer bidirectional stack, a variable-length batch against the same batch padded,
# projection 1024→256, bidirectional at B = 1 — and oneDNN's 2-layer bidirectional primitive on the same shape.
# Usage: bench/results/run-layer.sh [out-dir]     (from the repository root; ~10 minutes on 2 cores; quiet machine)
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-bench/results/$(date -u +%Y-%m-%d)-layer}"
mkdir -p "$out"
./lstmk build
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
jmh() { "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -jar bench/target/lstmk.jar bench "$@"; }
{ date -u; uptime; lscpu | grep -E 'Model name|^CPU\(s\)|CPU family|^Model:'; \
  echo "vector flags: $(lscpu | grep -o 'avx[0-9a-z_]*\|fma' | sort -u | tr '\n' ' ')"; \
  "$JAVA_HOME/bin/java" -version 2>&1; git rev-parse --short HEAD; } > "$out/machine.txt"
bash bench/peak/run.sh > "$out/peak.txt" 2>&1 || echo "peak: failed (see peak.txt)" >> "$out/machine.txt"
run() { local name="$1" pattern="$2"; shift 2; jmh "$pattern" -f 1 -wi 3 -w 2 -i 5 -r 2 -rf json -rff "$out/$name.json" \
  "$@" | tee "$out/$name.log"; }
# 1. Peepholes and clip against the plain layer (target: < 5% more), twice, to see the sitting's own spread.
run features LayerBenchmark -p shape=512x16x100 -p features=plain,peep,clip,peep+clip
run features-again LayerBenchmark -p shape=512x16x100 -p features=plain,peep+clip
# 2. Two layers, both directions, against oneDNN's same stack.
run stack LayerBenchmark -p shape=512x16x100 -p layers=2 -p bidirectional=true
# 3. Lengths uniform in [1, T] against the same batch padded to T (target: about half the time).
run lengths LayerBenchmark -p shape=512x16x100 -p lengths=full,uniform
# 4. Projection 1024 -> 256, and the plain 1024 layer beside it.
run projection LayerBenchmark -p shape=1024x16x100 -p features=plain,proj256
# 5. Bidirectional at B = 1 against one direction.
run bidir-b1 'LayerBenchmark.inference' -p shape=512x1x100 -p bidirectional=false,true
peer="${LSTMK_PEERS:-../shared/peers}/onednn/run.sh"
{
  bash "$peer" all 512 16 100 2 | grep '^onednn'
  LSTM_LAYERS=2 LSTM_DIRS=2 bash "$peer" all 512 16 100 2 | grep '^onednn' | sed 's/^onednn /onednn-2x-bidir /'
  LSTM_DIRS=2 bash "$peer" inference 512 1 100 2 | grep '^onednn' | sed 's/^onednn /onednn-bidir /'
  bash "$peer" inference 512 1 100 2 | grep '^onednn'
} | tee "$out/onednn.txt"
