#!/usr/bin/env bash
# Runs an engine test script (mpi_e2e.sh, kill_resume.sh, slurm_e2e.sh) with the REAL model
# runner on configs/demo.yaml: makes the demo's tiny random checkpoint first (moe-sweep
# make-model), points the config's ${MOE_DEMO_DIR} / ${MOE_DEMO_DATA} at it and the demo data.
# Usage: with_demo_model.sh SCRIPT [overrides...]
set -euo pipefail
: "${MOE_CLI:?}" "${MOE_SOURCE_DIR:?}"
script=$1
shift
# Run at a CPU level (MOE_CPU_ISA) that this CPU lacks: skipped (77), not run at a lower one.
if [[ -n "${MOE_CPU_ISA:-}" ]]; then
  level=$("$MOE_CLI" version | sed -n 's/^cpu level: \([a-z0-9_]*\).*/\1/p')
  if [[ "$level" != "$MOE_CPU_ISA" ]]; then
    echo "skipped: MOE_CPU_ISA=$MOE_CPU_ISA, but this CPU's level is $level"
    exit 77
  fi
fi
export MOE_DEMO_DIR
MOE_DEMO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/moe-demo.XXXXXX")
trap 'rm -rf "$MOE_DEMO_DIR"' EXIT
export MOE_DEMO_DATA="$MOE_SOURCE_DIR/configs/demo_data"
"$MOE_CLI" make-model "$MOE_DEMO_DIR/model" --family qwen3_moe --layers 4 --seed 1 --threads 1
export OMP_NUM_THREADS=1
bash "$(dirname "$0")/$script" "$MOE_CLI" "$MOE_SOURCE_DIR/configs/demo.yaml" "$@"
