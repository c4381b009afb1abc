#!/usr/bin/env bash
# The SIMD backend's benchmark table in one sitting: JMH (SIMD at 1 and 2 threads, inference and training, a
# saturating-input run, the scalar reference single-shot) and the oneDNN peer on the same shapes, then the table.
# Usage: bench/results/run-simd.sh [out-dir]      (from the repository root; takes ~17 minutes on 2 cores)
# Run it on a quiet machine: every JMH iteration prints the CPU other processes used ("bg="), the peer its own.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-bench/results/$(date -u +%Y-%m-%d)-simd}"
mkdir -p "$out"
./lstmk build
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
jmh() { "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -jar bench/target/lstmk.jar bench "$@"; }
{ date -u; uptime; lscpu | grep -E 'Model name|^CPU\(s\)|Flags' | cut -c1-200; "$JAVA_HOME/bin/java" -version 2>&1; } > "$out/machine.txt"
inf=512x1x100,512x16x100,512x64x100,1024x64x50,256x32x200,128x1x1000
train=512x16x100,512x64x100,1024x64x50,256x32x200
jmh 'LstmBenchmark.inference' -p backend=simd -p shape=$inf -p threads=1,2 -f 1 -wi 4 -w 1 -i 5 -r 1 -prof gc \
  -rf json -rff "$out/simd-inference.json" | tee "$out/simd-inference.log"
jmh 'LstmBenchmark.training' -p backend=simd -p shape=$train -p threads=1,2 -f 1 -wi 3 -w 2 -i 5 -r 2 -prof gc \
  -rf json -rff "$out/simd-training.json" | tee "$out/simd-training.log"
jmh 'LstmBenchmark.inference' -p backend=simd -p shape=512x1x100,512x16x100 -p threads=2 -p inputScale=100 \
  -f 1 -wi 4 -w 1 -i 5 -r 1 -rf json -rff "$out/simd-saturating-inference.json" | tee "$out/simd-saturating-inference.log"
jmh 'LstmBenchmark.training' -p backend=simd -p shape=512x16x100 -p threads=2 -p inputScale=100 \
  -f 1 -wi 3 -w 2 -i 5 -r 2 -rf json -rff "$out/simd-saturating-training.json" | tee "$out/simd-saturating-training.log"
peer="${LSTMK_PEERS:-../shared/peers}/onednn/run.sh"
bash "$peer" inference 128 1 10 2 >/dev/null # builds the peer on first use
{
  for s in 512:1:100 512:16:100 512:64:100 1024:64:50 256:32:200 128:1:1000; do
    IFS=: read -r h b t <<<"$s"
    bash "$peer" inference "$h" "$b" "$t" 2 | grep '^onednn'
    OMP_NUM_THREADS=2 OMP_WAIT_POLICY=active "${ONEDNN_BENCH_BIN:-$HOME/.cache/lstm-peers/dnnl_lstm_bench}" \
      inference "$h" "$b" "$t" | grep '^onednn' | sed 's/^onednn /onednn-active /'
  done
  for s in 512:16:100 512:64:100 1024:64:50 256:32:200; do
    IFS=: read -r h b t <<<"$s"
    bash "$peer" training "$h" "$b" "$t" 2 | grep '^onednn train '
  done
} | tee "$out/onednn.txt"
jmh 'LstmBenchmark.inference' -p backend=reference -p shape=$inf -p threads=1 -bm ss -f 1 -wi 0 -i 1 \
  -rf json -rff "$out/reference-inference.json" | tee "$out/reference-inference.log"
jmh 'LstmBenchmark.training' -p backend=reference -p shape=512x16x100,256x32x200 -p threads=1 -bm ss -f 1 -wi 0 -i 1 \
  -rf json -rff "$out/reference-training.json" | tee "$out/reference-training.log"
jmh ActivationBenchmark -f 1 -wi 3 -w 1 -i 5 -r 1 -rf json -rff "$out/activations.json" | tee "$out/activations.log"
# The two cores of a shared VM need not be equally fast (other tenants on the host): one thread pinned to each CPU.
for c in $(seq 0 $(($(nproc) - 1))); do
  echo "cpu $c: $(taskset -c "$c" "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
    -jar bench/target/lstmk.jar bench 'LstmBenchmark.inference' -p backend=simd -p shape=512x16x100 -p threads=1 \
    -f 1 -wi 3 -w 1 -i 4 -r 1 -jvmArgsAppend -XX:ActiveProcessorCount=1 2>&1 | grep '^LstmBenchmark')"
done | tee "$out/per-cpu.txt"
python3 bench/results/simd_table.py "$out" | tee "$out/table.md"
