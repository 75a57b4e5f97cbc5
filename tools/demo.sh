#!/usr/bin/env bash
# The end-to-end demo behind `make demo`. Usage: tools/demo.sh BUILD_DIR
set -euo pipefail
BUILD=${1:-build}
CLI="$BUILD/bin/moe-sweep"
OUT=${MOE_DEMO_OUT:-demo-out}
mkdir -p "$OUT"
"$CLI" version
