#!/usr/bin/env bash
# Issue 11 in one sitting: (1) the SIMD backend against oneDNN on the table's shapes, at the machine's widest vectors
# and restricted to AVX2 on both sides (the JVM with -XX:UseAVX=2, oneDNN with ONEDNN_MAX_CPU_ISA=AVX2), two passes
# each, alternating ours and oneDNN's; (2) under load: one core kept busy by a shell loop (JMH -p busyCores=1, the
# same loop beside oneDNN), and eight engines on the machine's cores (EnginesBenchmark).
# Usage: bench/results/run-cpu.sh [out-dir]     (from the repository root, on a quiet machine; ~12 minutes on 2 cores)
#        LOAD_ONLY=1 bench/results/run-cpu.sh [out-dir]: part (2) alone (~4 minutes)
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-bench/results/$(date -u +%Y-%m-%d)-cpu}"
mkdir -p "$out"
./lstmk build >/dev/null
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
touch "$out/onednn.txt"
jmh() { "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -jar bench/target/lstmk.jar bench "$@"; }
peer="${LSTMK_PEERS:-../shared/peers}/onednn/run.sh"
threads=2
{ date -u; uptime; lscpu | grep -E 'Model name|CPU family|^CPU\(s\)|L2|L3|Flags' | cut -c1-400; "$JAVA_HOME/bin/java" -version 2>&1
  bash bench/peak/run.sh "$threads"; } > "$out/machine.txt" 2>&1
shapes="512x1x100 128x1x1000 512x16x100 1024x64x50"
onednn() { # mode H B T -> one line
  bash "$peer" "$1" "$2" "$3" "$4" "$threads" | grep '^onednn' | sed "s/^/isa=$isa /"; }
for isa in $([ -n "${LOAD_ONLY:-}" ] || echo native avx2); do
  if [ "$isa" = avx2 ]; then jvm=(-jvmArgsAppend -XX:UseAVX=2); export ONEDNN_MAX_CPU_ISA=AVX2
  else jvm=(); unset ONEDNN_MAX_CPU_ISA; fi
  for pass in 1 2; do
    jmh 'LstmBenchmark.inference' -p backend=simd -p "shape=${shapes// /,}" -p threads=$threads "${jvm[@]}" \
      -f 1 -wi 3 -w 1 -i 5 -r 1 -rf json -rff "$out/simd-$isa-$pass-inference.json" > "$out/simd-$isa-$pass-inference.log"
    for s in $shapes; do IFS=x read -r h b t <<<"$s"; onednn inference "$h" "$b" "$t"; done >> "$out/onednn.txt"
    jmh 'LstmBenchmark.training' -p backend=simd -p shape=512x16x100 -p threads=$threads "${jvm[@]}" \
      -f 1 -wi 3 -w 2 -i 5 -r 2 -rf json -rff "$out/simd-$isa-$pass-training.json" > "$out/simd-$isa-$pass-training.log"
    onednn training 512 16 100 >> "$out/onednn.txt"
  done
done
unset ONEDNN_MAX_CPU_ISA
isa=native
# under load: ours at 1 and 2 threads beside one busy core, and oneDNN beside the same loop
jmh 'LstmBenchmark' -p backend=simd -p shape=512x1x100,512x16x100 -p threads=1,2 -p busyCores=1 \
  -f 1 -wi 3 -w 2 -i 8 -r 2 -rf json -rff "$out/simd-loaded.json" > "$out/simd-loaded.log"
sh -c 'while :; do :; done' & loop=$!
trap 'kill $loop 2>/dev/null || true' EXIT
{ for s in 512x1x100 512x16x100; do IFS=x read -r h b t <<<"$s"; onednn inference "$h" "$b" "$t"
    threads=1 onednn inference "$h" "$b" "$t" | sed 's/^/threads=1 /'; done
  onednn training 512 16 100; } | sed 's/^/loaded /' >> "$out/onednn.txt"
kill $loop
jmh 'EnginesBenchmark' -p shape=512x1x100,512x16x100 -p threads=1,2 -f 1 -wi 3 -w 2 -i 8 -r 2 \
  -rf json -rff "$out/simd-engines.json" > "$out/simd-engines.log"
python3 bench/results/cpu_table.py "$out" | tee "$out/table.md"
