#!/usr/bin/env bash
# The JMH comparison with every way to run an LSTM on the JVM (issue 11 §3), in one run, then its report.
#   bench/results/run-peers.sh [OUT_DIR]      (default bench/results/<date>-peers)
# Environment: THREADS (default 2: every peer pinned to it), QUICK=1 (smoke: one 1 s warm-up and one 1 s iteration, no fork),
#   PEERS (comma list, default all: simd,reference,onednn,onnxruntime,djl-pytorch,tensorflow,dl4j), SKIP_BUILD=1,
#   SHAPES_B1, SHAPES_BATCH, SHAPES_LARGE, SHAPES_TRAIN (comma lists of HxBxT replacing the defaults below).
# What it does: installs Debian's libdnnl-dev if absent (the oneDNN peer; without it that peer is skipped with the
# reason), builds with -Ppeers (the peers' Maven artifacts: ONNX Runtime, DJL + libtorch, TensorFlow Java, DL4J; none of
# them is in the default build), runs PeerBenchmark:
#   inference, avgt:   512x1x100 128x1x1000 512x16x100 (all peers), 1024x64x50 (all but reference: ~1 min a call)
#   training,  avgt:   512x16x100 (simd, reference, onednn: the peers with a training call here)
#   latency,   sample: 512x1x100 128x1x1000 (p50/p99 at B = 1)
# and writes OUT_DIR/{peers.md, peers-gflops.png, peers-latency.png, *.json, run.log, lscpu.txt}. Every peer's output
# is checked against our reference before it is timed; a peer that cannot run or disagrees is listed with the reason.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${1:-$ROOT/bench/results/$(date -u +%F)-peers}"
THREADS="${THREADS:-2}"
PEERS="${PEERS:-simd,reference,onednn,onnxruntime,djl-pytorch,tensorflow,dl4j}"
if [ -z "${JAVA_HOME:-}" ] || ! "$JAVA_HOME/bin/java" -version 2>&1 | grep -q '"2[5-9]'; then
  for c in /usr/lib/jvm/*25*; do [ -x "$c/bin/javac" ] && { export JAVA_HOME="$c"; break; }; done
fi
JAVA="$JAVA_HOME/bin/java"
if ! [ -e /usr/lib/x86_64-linux-gnu/libdnnl.so.2 ] && ! ldconfig -p 2>/dev/null | grep -q libdnnl.so.2; then
  echo "run-peers: installing oneDNN (Debian libdnnl-dev) for the onednn peer..." >&2
  (apt-get update -qq && apt-get install -y -qq libdnnl-dev) >&2 || echo "run-peers: libdnnl-dev not installed: the onednn peer will be skipped" >&2
fi
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  (cd "$ROOT" && mvn -B -q -pl bench -am package -DskipTests -Ppeers) >&2
fi
T="$ROOT/bench/target"
mkdir -p "$OUT"
LOG="$OUT/run.log"; : > "$LOG"
if [ "${QUICK:-0}" = 1 ]; then ITER=(-wi 1 -w 1 -i 1 -r 1 -f 0); else ITER=(); fi
# OpenMP peers (oneDNN, libtorch) read these; the others get THREADS through their own options (PeerBenchmark).
export OMP_NUM_THREADS="$THREADS" OMP_WAIT_POLICY=passive
without_ref="$(echo ",$PEERS," | sed 's/,reference,/,/g; s/^,//; s/,$//')"
only() { local keep="$1" r=(); IFS=, read -ra all <<< "$PEERS"; for p in "${all[@]}"; do [[ ",$keep," == *",$p,"* ]] && r+=("$p"); done; (IFS=,; echo "${r[*]}"); }
jmh() {  # name, JMH arguments...
  local name="$1"; shift
  echo "run-peers: $name" >&2
  "$JAVA" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp "$T/lstmk.jar:$T/peers-lib/*" \
    org.openjdk.jmh.Main "$@" -p threads="$THREADS" "${ITER[@]}" -rf json -rff "$OUT/$name.json" 2>&1 | tee -a "$LOG" \
    | grep -E '^# check|skipped|disagrees|^PeerBenchmark|^Benchmark ' || true
}
B1="${SHAPES_B1:-512x1x100,128x1x1000}"; BATCH="${SHAPES_BATCH:-512x16x100}"
LARGE="${SHAPES_LARGE:-1024x64x50}"; TRAIN="${SHAPES_TRAIN:-512x16x100}"
jmh inference 'PeerBenchmark.inference$' -p peer="$PEERS" -p shape="$B1,$BATCH"
[ -n "$without_ref" ] && jmh inference-large 'PeerBenchmark.inference$' -p peer="$without_ref" -p shape="$LARGE"
train_peers="$(only simd,reference,onednn)"
[ -n "$train_peers" ] && jmh training 'PeerBenchmark.training$' -p peer="$train_peers" -p shape="$TRAIN" -p mode=training
jmh latency 'PeerBenchmark.latency$' -p peer="$PEERS" -p shape="$B1"
lscpu > "$OUT/lscpu.txt"
jsons=(); for n in inference inference-large training latency; do [ -s "$OUT/$n.json" ] && jsons+=("$OUT/$n.json"); done
"$JAVA" -cp "$T/lstmk.jar:$T/peers-lib/*" org.lstmk.bench.peers.PeerReport "$OUT" "$LOG" "${jsons[@]}"
