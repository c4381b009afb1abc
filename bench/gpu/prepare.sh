#!/usr/bin/env bash
# prepare.sh - runs HERE (the build machine, JDK 25 + Maven + nvcc): builds the project and packs everything the GPU
# machine needs into <repo>/.devicekit (git-ignored), then checks the kit with a dry run of run-device.sh on this
# machine (no GPU: host-build timing, GPU tests skip). Afterwards, on a GPU lease:
#     device tool: command "bash bench/gpu/run-device.sh", carry [".devicekit"], timeout_s 600
# Options: --no-check (skip the dry run). Env: DEVICEKIT_HOME (default <repo>/../shared/devicekit), JAVA_HOME.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEVICEKIT_HOME="${DEVICEKIT_HOME:-$REPO/../shared/devicekit}"
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
KIT="$REPO/.devicekit"
APP="$KIT/app"
CHECK=1
[ "${1:-}" = --no-check ] && CHECK=0
say() { echo "[prepare] $*"; }
die() { echo "[prepare] ERROR: $*" >&2; exit 1; }
[ -x "$DEVICEKIT_HOME/make-kit.sh" ] || die "no devicekit at $DEVICEKIT_HOME (set DEVICEKIT_HOME)"

say "1/4 device kit (Java 25 runtime, JCuda, JUnit console) -> .devicekit"
# make-kit.sh wants a repository whose .git is a directory; in a git worktree .git is a file. The kit is
# relocatable (env.sh finds itself), so it is built in a scratch "repository" and moved; .gitignore has /.devicekit/.
LOG="$(mktemp)"
STAGE="$(mktemp -d)"
mkdir -p "$STAGE/.git/info"
bash "$DEVICEKIT_HOME/make-kit.sh" "$STAGE" > "$LOG" 2>&1 || { cat "$LOG"; die "make-kit.sh failed"; }
rm -rf "$KIT"
mv "$STAGE/.devicekit" "$KIT"
rm -rf "$STAGE" "$LOG"

say "2/4 build (mvn package, tests compiled not run) and runtime + test dependencies -> .devicekit/app/lib"
mkdir -p "$APP/lib"
(cd "$REPO" && mvn -q -B -DskipTests package dependency:copy-dependencies -pl bindings,bench -am \
  -DincludeScope=test -DoutputDirectory="$APP/lib" \
  -DexcludeGroupIds=org.junit.jupiter,org.junit.platform,org.opentest4j,org.apiguardian,org.jcuda) \
  | grep -v '^\[kernels-cuda\]' || true
cp "$REPO"/bench/target/bench-*.jar "$APP/lib/"
rm -rf "$APP/test-classes"
cp -r "$REPO/bindings/target/test-classes" "$APP/test-classes"

say "3/4 check the kit"
need() { ls $1 >/dev/null 2>&1 || die "kit lacks $1"; }
for j in kernels-java kernels-cuda bindings bench jmh-core jopt-simple commons-math3; do need "$APP/lib/$j-*.jar"; done
need "$APP/lib/kernels-java-*-tests.jar"
need "$APP/test-classes/org/lstmk/cuda/CudaGpuTest.class"
need "$KIT/lib/jcuda-12.6.0.jar"
unzip -l "$APP"/lib/kernels-cuda-*.jar | grep -q 'org/lstmk/cuda/lstm_kernels.fatbin' \
  || die "the kernels-cuda jar has no fatbin (was nvcc missing? see kernels-cuda/target/classes/org/lstmk/cuda/build-info.properties)"
unzip -p "$APP"/lib/bench-*.jar META-INF/BenchmarkList | grep -q 'LstmBenchmark' || die "bench jar lacks the JMH benchmark list"
PYC="$(mktemp -d)"
for f in "$REPO"/bench/gpu/*.py; do
  python3 -c 'import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)' "$f" "$PYC/x.pyc" \
    || die "$f does not compile"
done
rm -rf "$PYC"
bytes=$(du -sb "$KIT" | cut -f1)
[ "$bytes" -le $((60 * 1024 * 1024)) ] || die "kit is $bytes bytes; the device tool carries 64 MiB in all"
say "kit ok: $(du -sh "$KIT" | cut -f1), $(ls "$APP/lib" | wc -l) jars in app/lib"

if [ "$CHECK" = 1 ]; then
  say "4/4 dry run of run-device.sh here (no GPU: host build, GPU tests skip, no PyTorch)"
  DRY_OUT="$(mktemp -d)"
  OUT="$DRY_OUT" LSTMK_GPU_DRY_RUN=1 bash "$REPO/bench/gpu/run-device.sh" || die "dry run failed (logs in $DRY_OUT)"
  say "dry run ok (logs in $DRY_OUT)"
else
  say "4/4 dry run skipped (--no-check)"
fi
say "ready: on a GPU lease run  bash bench/gpu/run-device.sh  with carry [\".devicekit\"] (timeout_s 600)"
