#!/usr/bin/env bash
# A real single-node SLURM cluster (munged, slurmctld, slurmd started here, stopped at the end):
#  1. `sbatch jobs/sweep_qwen3.sh` on CONFIG: an array of several tasks and its merge job; the
#     merged file is complete and identical to a local run's.
#  2. `moe-sweep submit`: arrays split under MaxArraySize (4 here) with a %throttle; mid-run one
#     task is stopped with SIGUSR1 (graceful, as --signal=B:USR1 does before the time limit) and
#     the arrays are cancelled; the merge job then refuses; resubmitting runs only the units not
#     done (units done before keep their files) and the result equals the local run's.
# The runs write to different output directories, so the merged files' config attributes
# (config_yaml, config_resolved) differ in `output`; everything else must be identical.
# Usage: slurm_e2e.sh CLI CONFIG [overrides...]     Skips (77) without SLURM or root.
# MOE_SLURM_PARTS=1 runs part 1 only (a sweep too quick to be stopped mid-run).
source "$(dirname "$0")/lib.sh"
CLI=$(realpath "$1") CONFIG=$(realpath "$2")
shift 2
OVERRIDES=("$@")
CLUSTER="$WORK/cluster"
start_out=$("$MOE_SOURCE_DIR/slurm/testcluster/start.sh" "$CLUSTER" 4) || exit $?
eval "$start_out"
trap 'status=$?; "$MOE_SOURCE_DIR/slurm/testcluster/stop.sh" "$CLUSTER"; [[ $status -eq 0 ]] && rm -rf "$WORK"; exit $status' EXIT
export MOE_TEST_OUT="$WORK/unused"

wait_jobs() {  # waits until the cluster has no job left (or times out)
  for ((i = 0; i < ${1:-300}; i++)); do
    [[ -z $(squeue -h -o %i) ]] && return 0
    sleep 1
  done
  squeue; fail "jobs still queued after $1 s"
}
owners() { "$MOE_TEST_PYTHON" -c "
import h5py, glob, sys
print(len({h5py.File(p, 'r').attrs['owner'] for p in glob.glob(sys.argv[1] + '/units/*.h5')}))" "$1"; }

say "reference: local run"
"$CLI" run "$CONFIG" "${OVERRIDES[@]}" --out "$WORK/ref" --no-progress > "$WORK/ref.log" 2>&1
"$CLI" merge "$WORK/ref" > /dev/null

say "1. sbatch jobs/sweep_qwen3.sh (array of 3, throttle 2) and its merge job"
cd "$MOE_SOURCE_DIR"
export MOE_SWEEP="$CLI" MOE_CONFIG="$CONFIG" MOE_OVERRIDES="${OVERRIDES[*]} output=$WORK/jobs"
export MOE_LOG_DIR="$WORK"  # the merge job's log stays out of the source tree
# --time above the script's --signal=B:USR1@600 lead: with 10 minutes, SLURM's first periodic
# check would send the graceful-stop signal at once and the tasks it reached would stop early.
job=$(sbatch --parsable --array=0-2%2 --gres=none --mem=200M --cpus-per-task=1 \
  --time=00:30:00 --output="$WORK/jobs-%A_%a.out" jobs/sweep_qwen3.sh)
say "array job $job"
wait_jobs 300
unset MOE_SWEEP MOE_CONFIG MOE_OVERRIDES MOE_LOG_DIR
[[ -f $WORK/jobs/results.h5 ]] || { cat "$WORK"/jobs-*.out; fail "the merge job wrote no results.h5"; }
"$CLI" status "$WORK/jobs" --check > /dev/null
check_units "$WORK/jobs"
compare "$WORK/ref/results.h5" "$WORK/jobs/results.h5" --ignore config_yaml --ignore config_resolved
n=$(owners "$WORK/jobs")
say "units committed by $n array tasks"
((n >= 2)) || fail "expected several array tasks to commit units, found $n"

if [[ ${MOE_SLURM_PARTS:-2} == 1 ]]; then exit 0; fi  # part 1 only (MOE_SLURM_PARTS=1)

say "2. moe-sweep submit: 6 tasks under MaxArraySize 4, throttle 3; stop and cancel mid-run"
export MOE_TEST_DOUBLE_DELAY_MS=40  # the test double's pace (ignored by the real runner)
SUB=("${OVERRIDES[@]}" "output=$WORK/sub" slurm.array_tasks=6 slurm.throttle=3
     slurm.time=00:10:00 slurm.mem=200M "slurm.sbatch_args=[--gres=none]")
"$CLI" submit "$CONFIG" "${SUB[@]}" | tee "$WORK/submit1.txt"
arrays=$(grep -c '^array job' "$WORK/submit1.txt")
((arrays == 2)) || fail "expected 2 array jobs (6 tasks, MaxArraySize 4), found $arrays"
grep -q -- '--array=0-3%3' "$WORK/submit1.txt" || fail "expected an array 0-3%3"
grep -q -- '--array=0-1%3' "$WORK/submit1.txt" || fail "expected an array 0-1%3"
# Let some units finish, then stop one running task gracefully and cancel the arrays.
for ((i = 0; i < 120; i++)); do
  done_now=$(ls "$WORK/sub/units" | wc -l)
  ((done_now >= 8)) && break
  sleep 0.5
done
running=$(squeue -h -t R -o %i | grep _ | head -1 || true)
[[ -n $running ]] || fail "no array task running"
scancel --batch --signal=USR1 "$running"
sleep 2
for j in $(grep '^array job' "$WORK/submit1.txt" | awk '{print $3}'); do scancel "$j"; done
wait_jobs 120
before=$(ls "$WORK/sub/units" | wc -l)
total=$(ls "$WORK/ref/units" | wc -l)
say "after stop/cancel: $before of $total units done"
((before < total)) || fail "the sweep finished before the cancel; nothing left to resubmit"
[[ ! -f $WORK/sub/results.h5 ]] || fail "the merge job wrote results.h5 although units are missing"
grep -l "units missing" "$WORK"/sub/logs/*merge*.out > /dev/null || fail "the merge job did not report the missing units"
grep -h "stopped by a signal" "$WORK"/sub/logs/*.out > /dev/null || fail "no task reported a graceful stop"
# The task stopped by SIGUSR1 (the time-limit warning) with units left requeued itself (run
# --requeue, exit code 75) before the arrays were cancelled.
grep -h "stopped with units left: job .* requeued" "$WORK"/sub/logs/*.out > /dev/null ||
  { tail -n 5 "$WORK"/sub/logs/*.out; fail "the task stopped by SIGUSR1 did not requeue itself"; }
"$MOE_TEST_PYTHON" -c "
import h5py, glob, json, sys
json.dump({p: h5py.File(p, 'r').attrs['owner'] for p in glob.glob(sys.argv[1] + '/units/*.h5')},
          open(sys.argv[2], 'w'))" "$WORK/sub" "$WORK/owners_before.json"

say "resubmit: only the missing units run"
"$CLI" submit "$CONFIG" "${SUB[@]}" | tee "$WORK/submit2.txt"
wait_jobs 300
[[ -f $WORK/sub/results.h5 ]] || { tail -5 "$WORK"/sub/logs/*.out; fail "no results.h5 after the resubmission"; }
check_units "$WORK/sub"
compare "$WORK/ref/results.h5" "$WORK/sub/results.h5" --ignore config_yaml --ignore config_resolved
"$MOE_TEST_PYTHON" -c "
import h5py, json, sys
before = json.load(open(sys.argv[1]))
changed = [p for p, o in before.items() if h5py.File(p, 'r').attrs['owner'] != o]
assert not changed, f'{len(changed)} units done before the resubmission were redone'
print(f'{len(before)} units done before the resubmission kept their files')" "$WORK/owners_before.json"
