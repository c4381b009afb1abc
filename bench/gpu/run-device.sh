#!/usr/bin/env bash
# run-device.sh - runs ON THE GPU MACHINE (no Java, no Maven, no network there), from the repository copy the device
# tool makes, with the kit that bench/gpu/prepare.sh built here carried along:
#     device tool: command "bash bench/gpu/run-device.sh", carry [".devicekit"], timeout_s 600
# Steps, each logged under $OUT (what comes back: at most 8 files):
#   1. device.txt      nvidia-smi, `lstmk info` (why cuda is or is not usable), `lstmk verify --backend cuda`
#   2. junit.log       the bindings test suite: host build and GPU tests; -Dlstmk.requireGpu=true makes a GPU test
#                      that cannot find the GPU fail instead of skip
#   3. timing.tsv      org.lstmk.cuda.GpuTiming: our kernels' device time (CUDA events) + end-to-end API time
#   4. jmh.json/.log   JMH LstmBenchmark.inference -p backend=cuda on the same shapes (end-to-end, host memory)
#   5. cudnn.json      PyTorch nn.LSTM on cuDNN, same shapes, CUDA events (cudnn_lstm.py)
#   6. gpu-results.md  one table joining 3-5 (report.py), printed last
# Env: OUT (default /tmp/lstmk-gpu-out), LSTMK_GPU_SHAPES (HxBxT,...), LSTMK_GPU_DRY_RUN=1 (prepare.sh's check on a
# machine without a GPU: host-build timing, a short JMH on cuda-host, GPU tests may skip, no PyTorch).
# Exit code: 0 only if every step passed.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KIT="$ROOT/.devicekit"
APP="$KIT/app"
HERE="$ROOT/bench/gpu"
OUT="${OUT:-/tmp/lstmk-gpu-out}"
DRY="${LSTMK_GPU_DRY_RUN:-0}"
SHAPES="${LSTMK_GPU_SHAPES:-512x1x100,512x16x100,512x64x100,1024x1x100,1024x16x100,1024x64x100,2048x1x100,2048x16x100,2048x64x100,1024x64x50,1024x64x200}"
mkdir -p "$OUT"

[ -d "$APP/lib" ] || { echo "run-device.sh: $APP is missing: run bench/gpu/prepare.sh on the build machine and carry .devicekit" >&2; exit 2; }
. "$KIT/env.sh" || exit 2
CP="$(ls "$APP"/lib/*.jar | tr '\n' ':')$DEVICEKIT_CP"
JAVA=(java $DEVICEKIT_JAVA_OPTS -cp "$CP")
if [ "$DRY" = 1 ]; then
  BACKEND=cuda-host; DEVICE=host; REQUIRE_GPU=false; SHAPES="${LSTMK_GPU_SHAPES:-16x2x4,24x3x3}"
  JMH_RUN=(-wi 1 -w 200ms -i 1 -r 200ms)
else
  BACKEND=cuda; DEVICE=cuda; REQUIRE_GPU=true
  JMH_RUN=(-wi 2 -w 1s -i 3 -r 1s)
fi

declare -a SUMMARY
step() { # name, command...: runs it, records PASS/FAIL and the time
  local name="$1"; shift
  local t0; t0=$(date +%s)
  echo "=== $name" >&2
  "$@"
  local rc=$? took=$(( $(date +%s) - t0 ))
  if [ $rc = 0 ]; then SUMMARY+=("$(printf '%-8s PASS %4ds' "$name" $took)")
  else SUMMARY+=("$(printf '%-8s FAIL %4ds (rc=%d)' "$name" $took $rc)"); fi
}

device_info() {
  { command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm \
      --format=csv; } 2>&1
  echo "--- lstmk info"
  "${JAVA[@]}" org.lstmk.bench.Lstmk info 2>&1
  echo "--- lstmk verify --backend $BACKEND"
  "${JAVA[@]}" org.lstmk.bench.Lstmk verify --backend "$BACKEND" 2>&1
}

junit() {
  java $DEVICEKIT_JAVA_OPTS -Dlstmk.requireGpu=$REQUIRE_GPU \
    -jar "$KIT/lib/junit-platform-console-standalone-6.0.3.jar" execute \
    --class-path "$APP/test-classes:$CP" --scan-class-path "$APP/test-classes" --fail-if-no-tests \
    --details=tree --disable-banner --disable-ansi-colors > "$OUT/junit.log" 2>&1
  local rc=$?
  grep -E "tests (successful|failed|skipped|aborted)" "$OUT/junit.log" >&2
  return $rc
}

timing() {
  "${JAVA[@]}" org.lstmk.cuda.GpuTiming --device "$DEVICE" --shapes "$SHAPES" > "$OUT/timing.tsv"
}

jmh() {
  "${JAVA[@]}" org.openjdk.jmh.Main 'LstmBenchmark.inference' -p backend="$BACKEND" -p shape="$SHAPES" -p threads=1 \
    -f 1 "${JMH_RUN[@]}" -rf json -rff "$OUT/jmh.json" > "$OUT/jmh.log" 2>&1
}

cudnn() {
  if [ "$DRY" = 1 ]; then echo "(dry run: cuDNN skipped)" >&2; return 0; fi
  python3 "$HERE/cudnn_lstm.py" --shapes "$SHAPES" --out "$OUT/cudnn.json" >> "$OUT/jmh.log" 2>&1
}

step device device_info > "$OUT/device.txt"
step junit junit
step timing timing
step jmh jmh
step cudnn cudnn
step report python3 "$HERE/report.py" --timing "$OUT/timing.tsv" --jmh "$OUT/jmh.json" --cudnn "$OUT/cudnn.json" \
  --out "$OUT/gpu-results.md" > /dev/null
sed -n '/^--- lstmk info/,/^--- lstmk verify/p' "$OUT/device.txt" | grep -E '^(backend|cuda|default)'
grep -E 'backends agree|disagree|cannot run' "$OUT/device.txt"
echo "---- summary (logs in $OUT)"
printf '%s\n' "${SUMMARY[@]}"
echo
cat "$OUT/gpu-results.md" 2>/dev/null
printf '%s\n' "${SUMMARY[@]}" | grep -q FAIL && exit 1 || exit 0
