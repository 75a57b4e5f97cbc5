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
  log="$BUILD/fuzz/$name.log"
  if (cd "$BUILD/fuzz" && "./$name" -max_total_time="$SECONDS_EACH" -max_len=65536 \
        -print_final_stats=1 "${dirs[@]}" >"$log" 2>&1); then
    tail -n 6 "$log"
  else
    # The whole report: the sanitizer's or the uncaught exception's message and stack come first.
    grep -v -E '^#[0-9]+\s+(NEW|REDUCE|pulse|INITED|RELOAD)' "$log" | tail -n 80
    for crash in "$BUILD"/fuzz/crash-* "$BUILD"/fuzz/leak-* "$BUILD"/fuzz/timeout-*; do
      [[ -f "$crash" ]] && { echo "reproducer $crash (base64):"; base64 -w 0 "$crash" | head -c 4000; echo; }
    done
    echo "run_fuzzers: $name failed (full log: $log)" >&2
    exit 1
  fi
done
