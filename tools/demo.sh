#!/usr/bin/env bash
# The end-to-end demo behind `make demo`. Usage: tools/demo.sh BUILD_DIR
# Makes a tiny random Qwen3-MoE checkpoint (and shows what it holds and how it tokenises), runs
# configs/demo.yaml (routing statistics, expert identification, MGSM baseline and interventions;
# on MPI ranks when mpirun is there), merges the units into one HDF5 file, prints the report
# and the routing analysis, and draws the figures (tools/figures.py). Outputs go to $MOE_DEMO_DIR (default demo-out/); a second run reuses
# the finished units (delete the directory to start over).
set -euo pipefail
BUILD=${1:-build}
CLI="$BUILD/bin/moe-sweep"
export MOE_DEMO_DIR=${MOE_DEMO_DIR:-${MOE_DEMO_OUT:-demo-out}}
OUT=$MOE_DEMO_DIR
mkdir -p "$OUT"
"$CLI" version

step() { printf '\n### %s\n' "$*"; }

# A tiny random Qwen3-MoE checkpoint in the published layout (the demo sweep's model), what it
# holds, and a multilingual prompt in its chat template, tokenised. Same seed, same bytes: the
# units of an earlier run stay valid.
step "make a tiny random checkpoint"
"$CLI" make-model "$OUT/model" --family qwen3_moe --layers 4 --seed 1 --force
"$CLI" inspect "$OUT/model"
"$CLI" tokenize "$OUT/model" --chat --system "Answer briefly." \
  --text "Hello! Grüß Gott. ¿Qué tal? 你好，世界 こんにちは नमस्ते হ্যালো مرحبا สวัสดี 🙂 12345"

step "plan"
"$CLI" plan configs/demo.yaml

step "run"
ranks=${MOE_DEMO_RANKS:-3}
if command -v mpirun >/dev/null && [[ $ranks -gt 1 ]]; then
  mpi=(mpirun -np "$ranks" --oversubscribe --mca btl self,vader,tcp)
  if [[ $(id -u) -eq 0 ]]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
  OMP_NUM_THREADS=1 "${mpi[@]}" "$CLI" configs/demo.yaml --no-progress
else
  "$CLI" run configs/demo.yaml
fi

step "status"
"$CLI" status "$OUT/sweep"

step "merge"
"$CLI" merge "$OUT/sweep"

step "report"
"$CLI" report "$OUT/sweep/results.h5" --top 5 --detail 1

step "routing analysis"
"$CLI" analyze "$OUT/sweep/results.h5" > "$OUT/analysis.txt"
head -40 "$OUT/analysis.txt"

step "figures"
# PYTHON if given, else the first of python3 on PATH and Debian's (where install-deps put h5py
# and matplotlib; a pyenv or venv python3 may lack them).
py=
for candidate in ${PYTHON:-python3 /usr/bin/python3}; do
  if "$candidate" -c "import h5py, matplotlib" 2>/dev/null; then
    py=$candidate
    break
  fi
done
if [[ -n $py ]]; then
  "$py" tools/figures.py "$OUT/sweep/results.h5" --out "$OUT/figures"
else
  echo "skipped: tools/figures.py needs python3 with h5py and matplotlib (PYTHON=... to choose)"
fi

printf '\nresults: %s (readable with h5py; schema in results/SCHEMA.md)\n' "$OUT/sweep/results.h5"
