#!/usr/bin/env bash
# Runs every built libFuzzer target for a bounded time. Usage: run_fuzzers.sh FUZZ_BUILD SECONDS
# A crash, leak or sanitizer report fails the run; the reproducer is left in FUZZ_BUILD/fuzz/.
set -euo pipefail
BUILD=$(cd "$1" && pwd)  # absolute: the fuzzers run inside $BUILD/fuzz
SECONDS_EACH=${2:-30}
SRC=$(cd "$(dirname "$0")" && pwd)
shopt -s nullglob
targets=("$BUILD"/fuzz/fuzz_*)
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "run_fuzzers: no fuzz targets built" >&2
  exit 1
fi
for t in "${targets[@]}"; do
  [[ -x "$t" && -f "$t" ]] || continue
  name=$(basename "$t")
  corpus_seed="$SRC/corpus/${name#fuzz_}"
  work="$BUILD/fuzz/corpus-${name#fuzz_}"
  mkdir -p "$work"
  dirs=("$work")
  [[ -d "$corpus_seed" ]] && dirs+=("$corpus_seed")
  echo "== $name for ${SECONDS_EACH}s"
  (cd "$BUILD/fuzz" && "./$name" -max_total_time="$SECONDS_EACH" -max_len=65536 \
      -print_final_stats=1 "${dirs[@]}" 2>&1 | tail -n 12)
  [[ ${PIPESTATUS[0]} -eq 0 ]] || { echo "run_fuzzers: $name failed" >&2; exit 1; }
done
