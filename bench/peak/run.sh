#!/usr/bin/env bash
# Measures this machine's FMA ceiling (the denominator of every "% of peak" under bench/results/).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${TMPDIR:-/tmp}/lstmk_fma_peak"
gcc -O2 -pthread "$here/fma_peak.c" -o "$bin"
lscpu | grep -E "Model name|CPU family|^CPU\(s\)" || true
"$bin" "${1:-$(nproc)}"
