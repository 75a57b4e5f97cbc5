#!/usr/bin/env bash
# Expert-parallel dispatch+combine throughput (Qwen3-30B-A3B-shaped MoE layer) at R = 1, 2 and 4
# ranks over MPI, each next to a raw MPI_Alltoallv of the same bytes measured in the same run,
# and the peak memory per rank, for a prefill-sized step (1024 tokens per rank) and a decode-sized
# one (16 tokens per rank: latency), with both dispatcher transports.
# Usage: bench/run_ep_bench.sh [BUILD_DIR] [extra bench flags]
#   e.g. bench/run_ep_bench.sh build --iters 20 --backend cpu
set -euo pipefail
build=${1:-build}
shift || true
bin="$build/bench/ep_dispatch_bench"
if [[ ! -x "$bin" ]]; then
  echo "run_ep_bench.sh: $bin not found: build first (cmake --build $build --target ep_dispatch_bench)" >&2
  exit 1
fi
echo "ep_dispatch_bench on $(nproc --all) cores, $(date -u +%FT%TZ), load average:" \
  "$(cut -d' ' -f1-3 /proc/loadavg)"
# Open MPI refuses root without consent (containers); the machine may have fewer cores than ranks.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
for tokens in 1024 16; do
  echo "== $tokens tokens per rank per layer call"
  r1=$(mpirun -np 1 --oversubscribe "$bin" --tokens "$tokens" "$@")
  echo "$r1"
  # The R = 1 peak RSS, against which R = 2 and 4 print each rank's peak.
  r1_peak=$(sed -n 's/.*peak RSS \([0-9.]*\) GiB.*/\1/p' <<<"$r1")
  for np in 2 4; do
    # shared_memory: what `auto` picks on one node; exchange: the all-to-all-v path (any network).
    for transport in shared_memory exchange; do
      mpirun -np "$np" --oversubscribe "$bin" --tokens "$tokens" --transport "$transport" \
        ${r1_peak:+--r1-peak-gib "$r1_peak"} "$@"
    done
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
