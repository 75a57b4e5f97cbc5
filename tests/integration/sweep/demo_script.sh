#!/usr/bin/env bash
# The researcher's path as `make demo` runs it (tools/demo.sh): make a model, plan, run, status,
# merge, report, analyze, figures, into a fresh directory. Checks that each step printed what it
# should, that the figures a sweep's results give (routing and interventions) are drawn, and
# that results/SCHEMA.md names everything the file holds and the Python reader
# (python/moe_sweep) reads it.
# Usage: demo_script.sh BUILD_DIR   (env: MOE_SOURCE_DIR, MOE_TEST_PYTHON)
set -euo pipefail
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$MOE_SOURCE_DIR"
log=$work/demo.log
if ! PYTHON="${MOE_TEST_PYTHON:-python3}" MOE_DEMO_DIR="$work/out" MOE_DEMO_RANKS=2 \
    bash tools/demo.sh "$build" > "$log" 2>&1; then
  tail -40 "$log"
  echo "FAIL: tools/demo.sh exited non-zero" >&2
  exit 1
fi
fail() {
  tail -60 "$log"
  echo "FAIL: $*" >&2
  exit 1
}
for needle in "### plan" "### run" "units   " "### merge" "best points by mean delta" \
              "divergence from 'en'" "### figures"; do
  grep -qF -- "$needle" "$log" || fail "the demo's output lacks '$needle'"
done
for fig in divergence_tiny_flores similarity_tiny_flores entropy_tiny_flores experts_tiny \
           interventions_tiny_mgsm grid_tiny_mgsm; do
  png=$work/out/figures/$fig.png
  [[ -s $png ]] || fail "figure $png missing"
  [[ $(stat -c %s "$png") -gt 5000 ]] || fail "figure $png is nearly empty"
  grep -qF "$png" "$log" || fail "figures.py did not print $png"
done
grep -qF "note: tiny / gsm8k: one language (en): no divergence or similarity figure" "$log" ||
  fail "no note for the one-language corpus"
# Every name the file holds is documented in results/SCHEMA.md.
"${MOE_TEST_PYTHON:-python3}" "$(dirname "$0")/check_schema.py" "$work/out/sweep/results.h5" ||
  fail "the demo's results hold names results/SCHEMA.md does not document"
# The Python reader on the same file (python/moe_sweep).
"${MOE_TEST_PYTHON:-python3}" "$(dirname "$0")/check_reader.py" "$work/out/sweep/results.h5" ||
  fail "python/moe_sweep could not read the demo's results"
echo "ok: tools/demo.sh end to end, $(ls "$work/out/figures" | wc -l) figures"
