#!/usr/bin/env bash
# CPU runtime throughput on a random checkpoint with OLMoE-1B-7B's per-layer shapes (hidden 2048,
# 16 heads, 64 experts top-8, expert intermediate 1024, vocab 50304), all in one run:
#   1. moe-sweep make-model writes the checkpoint (bf16, --layers N of the published 16; removed
#      afterwards unless --keep);
#   2. Hugging Face transformers on the same weights (bench/hf_reference.py): prefill 8 x 512
#      tokens, decode at batch 1 and 16; skipped, and said so, where torch/transformers are absent;
#   3. bench/runtime_bench on the fast backend: the same figures, next to the bf16 GEMM peak
#      (oneDNN) and memory read bandwidth measured in the same run, the bounds they imply, the
#      transformers figures and the targets (prefill >= 3x transformers and >= 50% of the
#      GEMM-peak bound; decode batch 1 >= 60% of the bandwidth bound);
#   4. bench/routing_stats_overhead: the cost of the routing statistics collectors (< 3%).
# The load average is printed before and after each step: the figures are only as good as the
# machine was idle.
# OpenMP threads wait passively (OMP_WAIT_POLICY=passive unless set) for both runtimes: on a
# machine whose cores other processes also use, spinning threads wait for a preempted peer at
# every parallel region (measured: decode at batch 1 several times slower); on an idle machine
# OMP_WAIT_POLICY=active may be a little faster.
#
# Usage: bench/run_runtime_bench.sh [BUILD_DIR] [--layers N] [--workdir DIR] [--keep]
#          [--model DIR] [--python PY] [--repeats N] [--decode-steps N] [--rounds N]
#          [--skip-hf] [--skip-hooks]
#   --model DIR uses a checkpoint made before (e.g. with --keep) instead of making one.
#   --rounds N runs steps 2 and 3 N times, alternating, and ends with each round's ratios and
#     their medians: the machine's speed drifts within minutes, so a ratio is only as good as
#     the two measurements were close in time.
# Memory: the checkpoint is ~0.84 GiB per layer + 0.4 GiB embeddings in bf16; transformers holds
# a second copy. The default 4 layers need about 8 GiB; the full 16 about 28 GiB.
set -euo pipefail
build=build
if [[ $# -gt 0 && $1 != --* ]]; then
  build=$1
  shift
fi
layers=4 workdir=${TMPDIR:-/tmp}/moe-runtime-bench keep=0 python=python3 repeats=1 steps=32 rounds=1
skip_hf=0 skip_hooks=0 model=
while [[ $# -gt 0 ]]; do
  case $1 in
    --layers) layers=$2; shift 2 ;;
    --workdir) workdir=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --model) model=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --decode-steps) steps=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --skip-hf) skip_hf=1; shift ;;
    --skip-hooks) skip_hooks=1; shift ;;
    *) echo "run_runtime_bench.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
if ! [[ $rounds =~ ^[1-9][0-9]*$ ]]; then
  echo "run_runtime_bench.sh: --rounds expects a positive integer, found '$rounds'" >&2
  exit 2
fi
cli="$build/bin/moe-sweep" bench="$build/bench/runtime_bench" hooks="$build/bench/routing_stats_overhead"
for b in "$cli" "$bench" "$hooks"; do
  if [[ ! -x $b ]]; then
    echo "run_runtime_bench.sh: $b not found: build first (cmake --build $build)" >&2
    exit 1
  fi
done
here=$(cd "$(dirname "$0")" && pwd)
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
# MOE_CPU_ISA caps moe-sweep's CPU level (runtime/core/cpu_isa.h); transformers is capped to the
# same instructions (torch's kernels by ATEN_CPU_CAPABILITY, its oneDNN by ONEDNN_MAX_CPU_ISA),
# so that a newer machine can stand in for an older one for both alike.
case ${MOE_CPU_ISA:-} in
  avx2) export ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 ;;
  avx512) export ATEN_CPU_CAPABILITY=avx512 ONEDNN_MAX_CPU_ISA=AVX512_CORE ;;
  avx512_bf16) export ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 ;;
esac
load() { echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"; }

echo "== run_runtime_bench.sh $(date -u +%FT%TZ) on $(hostname): $(nproc) cores," \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')," \
  "$(free -g | awk '/^Mem:/ {print $2 " GiB RAM, " $7 " GiB available"}')"
load
echo "OMP_WAIT_POLICY=$OMP_WAIT_POLICY OMP_NUM_THREADS=${OMP_NUM_THREADS:-(all cores)}" \
  "MOE_CPU_ISA=${MOE_CPU_ISA:-(unset)} ATEN_CPU_CAPABILITY=${ATEN_CPU_CAPABILITY:-(unset)}" \
  "ONEDNN_MAX_CPU_ISA=${ONEDNN_MAX_CPU_ISA:-(unset)}"
mkdir -p "$workdir"
if [[ -n $model ]]; then
  layers=$(grep -o '"num_hidden_layers": *[0-9]*' "$model/config.json" | grep -o '[0-9]*$')
  echo "== 1. using $model"
else
  model="$workdir/olmoe-1b-7b-${layers}l"
  cleanup() { if [[ $keep == 0 ]]; then rm -rf "$model"; fi; }
  trap cleanup EXIT
  echo "== 1. make-model $model"
  "$cli" make-model "$model" --family olmoe --preset olmoe-1b-7b --layers "$layers" --seed 1 --force
fi
echo "figures are for $layers of OLMoE-1B-7B's 16 layers (per-layer shapes as published;" \
  "embedding and lm_head full size)"

hf_ok=0
if [[ $skip_hf == 1 ]]; then
  hf_why="--skip-hf"
elif ! hf_why=$("$python" -c 'import torch, transformers' 2>&1); then
  hf_why="'$python' cannot import torch and transformers (pip install torch transformers, or --python PY): ${hf_why##*$'\n'}"
else
  hf_ok=1
fi
for ((round = 1; round <= rounds; ++round)); do
  [[ $rounds -gt 1 ]] && echo "=== round $round of $rounds"
  echo "== 2. transformers on the same weights"
  ref=()
  if [[ $hf_ok == 0 ]]; then
    echo "transformers comparison SKIPPED: $hf_why"
  else
    load
    "$python" "$here/hf_reference.py" "$model" --repeats "$repeats" --decode-steps "$steps" \
      > "$workdir/hf.json"
    "$python" -c 'import json, sys; j = json.load(open(sys.argv[1])); print(
        "transformers {transformers_version}, torch {torch_version}, {threads} threads: load {load_seconds:.1f} s, "
        "prefill {p:.1f} tokens/s, decode {d}".format(**j, p=j["prefill"]["tokens_per_s"],
        d=", ".join("batch %d %.1f tokens/s" % (x["batch"], x["tokens_per_s"]) for x in j["decode"])))' \
      "$workdir/hf.json"
    ref=(--reference "$workdir/hf.json")
  fi

  echo "== 3. runtime_bench (fast CPU backend)"
  load
  "$bench" "$model" --backend cpu --repeats "$repeats" --decode-steps "$steps" \
    --layers-of-full 16 "${ref[@]}" | tee "$workdir/round$round.txt"
  load
done
if [[ $rounds -gt 1 ]]; then
  echo "== rounds: each round's figures (moe-sweep / transformers, and of bound) and the medians"
  "$python" - "$workdir" "$rounds" <<'PY'
import re, statistics, sys
workdir, rounds = sys.argv[1], int(sys.argv[2])
cols = {}
for r in range(1, rounds + 1):
    for line in open(f"{workdir}/round{r}.txt"):
        m = re.match(r"(prefill \S+ x \S+|decode batch \d+)\s+([\d.]+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", line)
        if m:
            ratio = m.group(4)[:-1] if m.group(4) != "-" else None
            of = m.group(6)[:-1] if m.group(6) != "-" else None
            cols.setdefault(m.group(1), []).append((ratio, of))
for what, vals in cols.items():
    ratios = [float(a) for a, _ in vals if a]
    ofs = [float(b) for _, b in vals if b]
    line = f"{what:<20}"
    if ratios:
        line += " ratio " + " ".join(f"{x:.2f}x" for x in ratios) + f"  median {statistics.median(ratios):.2f}x"
    if ofs:
        line += "   of bound " + " ".join(f"{x:.1f}%" for x in ofs) + f"  median {statistics.median(ofs):.1f}%"
    print(line)
PY
fi

if [[ $skip_hooks == 0 ]]; then
  echo "== 4. routing statistics collectors' cost (target < 3% of forward time)"
  "$hooks" "$model" --backend cpu --prompts 16 --len 128 --reps 3
  load
fi
