#!/usr/bin/env bash
# mpirun -np 3 end to end: the merged file is complete and identical in content to the local
# executor's. Usage: mpi_e2e.sh CLI CONFIG [overrides...] (CLI: moe-sweep or the test double).
# MOE_MPI_NP (default 3) ranks; MOE_MPI_OVERRIDES: extra overrides of the MPI run only (e.g.
# expert parallelism, which must not change any result; the config attributes then differ);
# MOE_MPI_EXPECT_SHARES=1: check that the replicas' non-leader ranks fed samples of their own.
source "$(dirname "$0")/lib.sh"
CLI=$1 CONFIG=$2
shift 2
export MOE_TEST_OUT="$WORK/unused"

say "local run"
"$CLI" run "$CONFIG" "$@" --out "$WORK/local" --no-progress
"$CLI" merge "$WORK/local"
"$CLI" status "$WORK/local" --check

read -r -a mpi_overrides <<< "${MOE_MPI_OVERRIDES:-}"
say "mpirun -np ${MOE_MPI_NP:-3} ${mpi_overrides[*]}"
log_args=()
[[ -n ${MOE_MPI_EXPECT_SHARES:-} ]] && log_args=(--log-level debug)
"${MPIRUN[@]}" -np "${MOE_MPI_NP:-3}" "$CLI" "${log_args[@]}" "$CONFIG" "$@" \
  "${mpi_overrides[@]}" --out "$WORK/mpi" --no-progress 2>&1 | tee "$WORK/mpi.log"
"$CLI" merge "$WORK/mpi"
"$CLI" status "$WORK/mpi" --check
check_units "$WORK/mpi"

say "compare"
ignore=()
[[ -n ${MOE_MPI_OVERRIDES:-} ]] && ignore=(--ignore config_yaml --ignore config_resolved)
compare "$WORK/local/results.h5" "$WORK/mpi/results.h5" "${ignore[@]}"
# The MPI run really spread the work: unit files were committed by several replicas.
owners=$("$MOE_TEST_PYTHON" -c "
import h5py, glob
print(len({h5py.File(p, 'r').attrs['owner'] for p in glob.glob('$WORK/mpi/units/*.h5')}))")
say "MPI units were committed by $owners replicas"
(( owners >= 2 )) || fail "expected several replicas to commit units, found $owners"
# Expert parallelism: attention is data-parallel, the replicas' other ranks fed samples too.
if [[ -n ${MOE_MPI_EXPECT_SHARES:-} ]]; then
  fed=$(grep -cE "rank [1-9][0-9]*: feeds [1-9][0-9]* samples" "$WORK/mpi.log" || true)
  say "non-leader ranks fed samples in $fed batches"
  (( fed > 0 )) || fail "no non-leader rank of a replica fed samples (attention not data-parallel)"
  # The ranks share this node: the dispatchers move rows through shared memory (auto).
  grep -qE "expert-parallel transport shared_memory" "$WORK/mpi.log" ||
    fail "the replicas did not pick the shared-memory transport on one node"
fi
