#!/usr/bin/env bash
# Result integrity faults on the demo sweep with the real model runner, one section per fault:
#   samples   a corpus's `samples` changed between resumes: the expert sets (and every point on
#             them) are computed again; merged results equal a fresh run's, both ways (6 -> 4, 4 -> 6)
#   inputs    a data file edited in place or the checkpoint's weights replaced: the resume refuses,
#             naming the input (under mpirun too); with --accept-changed-inputs the affected
#             units are computed again and the merge equals a fresh run on the new inputs
#   damage    a truncated unit file, one with garbage at its start, one with random bytes inside:
#             status --check names all three; merge names and quarantines all three; the next run
#             computes them again and the merge equals the reference
#   merge     `merge CONFIG key=value` with overrides that describe another sweep is refused
#   exit      a run stopped by SIGTERM with units left exits 75; a finished one 0
#   debris    merge temporaries, lease break/clock files and temp files of dead processes go
#   full      (root with tmpfs only) a full disk: a clean error naming "No space left on device",
#             a non-zero exit without a crash, no half-written unit or results file
# Usage (through with_demo_model.sh): integrity.sh CLI DEMO_CONFIG [overrides...]
source "$(dirname "$0")/lib.sh"
CLI=$1 CONFIG=$2
shift 2
export MOE_TEST_OUT="$WORK/unused"
run() { "$CLI" run "$CONFIG" "$@" --no-progress >> "$WORK/run.log" 2>&1; }
# expect_exit CODE LOG CMD...: runs CMD with its output in LOG; fails unless it exits with CODE.
expect_exit() {
  local code=$1 log=$2 rc=0
  shift 2
  "$@" > "$log" 2>&1 || rc=$?
  [[ $rc -eq $code ]] || { cat "$log"; fail "$* exited $rc, expected $code"; }
}
# expect_clean_failure LOG CMD...: CMD fails with an exit code (no crash) and LOG names the full disk.
expect_clean_failure() {
  local log=$1 rc=0
  shift
  "$@" > "$log" 2>&1 || rc=$?
  [[ $rc -ne 0 && $rc -lt 128 ]] || { cat "$log"; fail "$* on a full disk exited $rc"; }
  grep -qi "no space left on device" "$log" || { cat "$log"; fail "$*: no 'No space left on device'"; }
}
merge() { "$CLI" merge "$1" > /dev/null; }
# The demo's data files, copied so that they can be edited.
cp -r "$MOE_DEMO_DATA" "$WORK/data"
export MOE_DEMO_DATA="$WORK/data"
S4=(corpora.flores.samples=4 corpora.gsm8k.samples=4)
S6=(corpora.flores.samples=6 corpora.gsm8k.samples=6)

say "samples: fresh runs with 6 and 4 corpus samples"
run "${S6[@]}" --out "$WORK/s6" && merge "$WORK/s6"
run "${S4[@]}" --out "$WORK/s4" && merge "$WORK/s4"
say "samples: 6 -> 4 and 4 -> 6 resumes equal the fresh runs"
cp -r "$WORK/s6" "$WORK/s6to4"
cp -r "$WORK/s4" "$WORK/s4to6"
run "${S4[@]}" --out "$WORK/s6to4" && merge "$WORK/s6to4"
run "${S6[@]}" --out "$WORK/s4to6" && merge "$WORK/s4to6"
compare "$WORK/s4/results.h5" "$WORK/s6to4/results.h5" --ignore config_yaml
compare "$WORK/s6/results.h5" "$WORK/s4to6/results.h5" --ignore config_yaml

say "inputs: a task file edited in place is refused on resume, naming it"
REF="$WORK/s6"
cp -r "$REF" "$WORK/edited"
printf 'Wie viel ist 2 plus 3?\t5\n' >> "$WORK/data/mgsm/mgsm_de.tsv"
expect_exit 2 "$WORK/refused.log" "$CLI" run "$CONFIG" "${S6[@]}" --out "$WORK/edited" --no-progress
grep -q "tasks.mgsm: content changed" "$WORK/refused.log" || { cat "$WORK/refused.log"; fail "the refusal does not name tasks.mgsm"; }
grep -q -- "--accept-changed-inputs" "$WORK/refused.log" || fail "the refusal does not say how to go on"
say "inputs: under mpirun, rank 0's refusal stops every rank"
expect_exit 2 "$WORK/refused_mpi.log" "${MPIRUN[@]}" -np 2 "$CLI" run "$CONFIG" "${S6[@]}" \
  --out "$WORK/edited" --no-progress
grep -q "tasks.mgsm: content changed" "$WORK/refused_mpi.log" || fail "mpirun: the refusal does not name tasks.mgsm"
say "inputs: accepted, the affected units are computed again; the merge equals a fresh run"
run "${S6[@]}" --out "$WORK/edited" --accept-changed-inputs && merge "$WORK/edited"
run "${S6[@]}" --out "$WORK/edited_fresh" && merge "$WORK/edited_fresh"
compare "$WORK/edited_fresh/results.h5" "$WORK/edited/results.h5" --ignore config_yaml
say "inputs: weights replaced by others of the same shapes are refused too"
"$CLI" make-model "$WORK/model2" --family qwen3_moe --layers 4 --seed 2 --threads 1 > /dev/null
cp -r "$MOE_DEMO_DIR/model" "$WORK/model.orig"
cp "$WORK/model2"/*.safetensors "$MOE_DEMO_DIR/model/"
expect_exit 2 "$WORK/refused2.log" "$CLI" run "$CONFIG" "${S6[@]}" --out "$WORK/edited" --no-progress
grep -q "models.tiny: content changed" "$WORK/refused2.log" || fail "the refusal does not name models.tiny"
# The original inputs again, for the sections below.
rm -rf "$MOE_DEMO_DIR/model" && cp -r "$WORK/model.orig" "$MOE_DEMO_DIR/model"
cp "$MOE_SOURCE_DIR/configs/demo_data/mgsm/mgsm_de.tsv" "$WORK/data/mgsm/mgsm_de.tsv"

say "damage: three damaged unit files are named by status --check and merge, then recomputed"
cp -r "$REF" "$WORK/damaged"
units=("$WORK"/damaged/units/*.h5)
a=${units[0]} b=${units[1]} c=${units[2]}
truncate -s $(($(stat -c %s "$a") / 2)) "$a"
printf 'garbage at the start of the file' | dd of="$b" conv=notrunc status=none
head -c 64 /dev/urandom | dd of="$c" bs=1 seek=$(($(stat -c %s "$c") / 2)) conv=notrunc status=none
expect_exit 1 "$WORK/status.log" "$CLI" status "$WORK/damaged" --check
for f in "$a" "$b" "$c"; do
  grep -q "$(basename "$f" .h5)" "$WORK/status.log" || { cat "$WORK/status.log"; fail "status does not name $f"; }
done
expect_exit 3 "$WORK/merge.log" "$CLI" merge "$WORK/damaged"
for f in "$a" "$b" "$c"; do
  grep -q "quarantine.*$(basename "$f" .h5)" "$WORK/merge.log" || { cat "$WORK/merge.log"; fail "merge does not name $f"; }
done
[[ $(ls "$WORK"/damaged/quarantine/*.h5 | wc -l) -eq 3 ]] || fail "expected 3 files in quarantine/"
run "${S6[@]}" --out "$WORK/damaged" && merge "$WORK/damaged"
compare "$REF/results.h5" "$WORK/damaged/results.h5" --ignore config_yaml
say "damage: a truncated file found by the run itself is quarantined and recomputed"
units=("$WORK"/damaged/units/*.h5)
: > "$WORK/run.log"
truncate -s 1000 "${units[3]}"
run "${S6[@]}" --out "$WORK/damaged"
grep -q "damaged unit file moved to quarantine" "$WORK/run.log" || fail "the run did not report the damaged file"
"$CLI" status "$WORK/damaged" --check > /dev/null || fail "not complete after the run"

say "merge: a config whose overrides describe another sweep is refused"
expect_exit 2 "$WORK/merge_cfg.log" "$CLI" merge "$CONFIG" "${S4[@]}" output="$REF"
grep -q "is not the one that ran" "$WORK/merge_cfg.log" || fail "the refusal does not say why"
"$CLI" merge "$CONFIG" "${S6[@]}" output="$REF" > /dev/null || fail "merge CONFIG of the sweep that ran"

say "exit: SIGTERM with units left exits 75; a finished run exits 0"
setsid "$CLI" run "$CONFIG" "${S6[@]}" execution.unit_samples=1 --out "$WORK/stopped" \
  --no-progress > "$WORK/stopped.log" 2>&1 &
pid=$!
for ((i = 0; i < 600; i++)); do
  files=("$WORK"/stopped/units/*.h5)
  [[ -e ${files[0]} ]] && break
  sleep 0.1
done
kill -TERM "$pid"
set +e
wait "$pid"
rc=$?
set -e
"$CLI" status "$WORK/stopped" --check > /dev/null && fail "the stopped run finished before the signal"
[[ $rc -eq 75 ]] || { cat "$WORK/stopped.log"; fail "stopped run: exit $rc, expected 75"; }
run "${S6[@]}" execution.unit_samples=1 --out "$WORK/stopped" || fail "the resumed run did not exit 0"

say "debris: leftovers of dead processes are removed by the next run and merge"
sleep 0.1 &
dead=$!
wait "$dead"
host=$(hostname)
touch "$REF/results.h5.tmp.$host.$dead" "$REF/leases/.clock.$host:$dead:0000abcd" \
  "$REF/failed/g.0.txt.tmp.$host.$dead.0123456789abcdef"
touch -d '-1 hour' "$REF/failed/g.0.txt.tmp.$host.$dead.0123456789abcdef"
# The lease and break files of a finished batch whose worker was killed before removing them.
gid=$("$CLI" plan "$CONFIG" "${S6[@]}" --units | grep -o 'g\.[0-9a-f]\{16\}' | head -1)
[[ -n $gid ]] || fail "no batch id in the plan"
touch "$REF/leases/$gid.break.0123456789abcdef" "$REF/leases/$gid.lease"
run "${S6[@]}" --out "$REF"
merge "$REF"
left=$(find "$REF" -name '*.tmp.*' -o -name ".clock.*" -o -name '*.break.*' -o -name '*.lease')
[[ -z $left ]] || fail "debris left: $left"

if [[ $(id -u) -eq 0 ]] && mkdir -p "$WORK/full" && mount -t tmpfs -o size=96k tmpfs "$WORK/full" 2> /dev/null; then
  trap 'st=$?; umount "$WORK/full" 2> /dev/null || true; [[ $st -eq 0 ]] && rm -rf "$WORK"; exit $st' EXIT
  say "full: a run into a full file system fails cleanly"
  expect_clean_failure "$WORK/full.log" \
    "$CLI" run "$CONFIG" "${S6[@]}" --out "$WORK/full/sweep" --no-progress
  check_units "$WORK/full/sweep"
  [[ -z $(ls -A "$WORK/full/sweep/tmp") ]] || fail "a failed unit write left files in tmp/"
  say "full: a merge into a full file system fails cleanly and leaves no results file"
  rm -rf "$WORK/full/sweep"
  head -c 90k /dev/zero > "$WORK/full/filler" 2> /dev/null || true
  expect_clean_failure "$WORK/full_merge.log" "$CLI" merge "$REF" --out "$WORK/full/results.h5"
  [[ -z $(ls "$WORK"/full/results.h5* 2> /dev/null) ]] || fail "merge left a results file on the full disk"
  umount "$WORK/full"
else
  say "full: skipped (needs root and a tmpfs mount)"
fi
say "integrity: all faults handled"
