#!/usr/bin/env bash
# Faults: SIGKILL a worker at random moments (at least 10 times; local runs and MPI ranks),
# resume each time. After every kill the store holds only complete unit files; at the end every
# unit is present exactly once and the merged results equal an uninterrupted run's.
# Usage: kill_resume.sh CLI CONFIG [overrides...]
source "$(dirname "$0")/lib.sh"
CLI=$1 CONFIG=$2
shift 2
KILLS=${MOE_TEST_KILLS:-12}
export MOE_TEST_OUT="$WORK/unused"
RANDOM=${MOE_TEST_SEED:-$$}
say "seed $RANDOM (set MOE_TEST_SEED to replay)"

say "uninterrupted reference run"
"$CLI" run "$CONFIG" "$@" --out "$WORK/ref" --no-progress > "$WORK/ref.log" 2>&1
"$CLI" merge "$WORK/ref" > /dev/null
files=("$WORK"/ref/units/*.h5)
total=${#files[@]}

done_units() {
  local files=("$WORK"/run/units/*.h5)
  [[ -e ${files[0]} ]] && echo ${#files[@]} || echo 0
}
mkdir -p "$WORK/run"
mid_run_kills=0
for ((i = 1; i <= KILLS; i++)); do
  before=$(done_units)
  delay_ms=$((200 + RANDOM % 800))
  if ((i % 2)); then
    mode=local
    setsid "$CLI" run "$CONFIG" "$@" --out "$WORK/run" --no-progress >> "$WORK/run.log" 2>&1 &
    victim=$!
    sleep "$(printf '0.%03d' "$delay_ms")"
    kill -9 "$victim" 2> /dev/null || true
    wait "$victim" 2> /dev/null || true
  else
    mode="mpi rank"
    setsid "${MPIRUN[@]}" -np 2 "$CLI" run "$CONFIG" "$@" --out "$WORK/run" --no-progress \
      >> "$WORK/run.log" 2>&1 &
    launcher=$!
    # Wait for the ranks to start, then kill one of them at a random moment.
    ranks=()
    for ((w = 0; w < 100 && ${#ranks[@]} < 2; w++)); do
      sleep 0.05
      ranks=($(pgrep -P "$launcher" -f "$(basename "$CLI")" || true))
    done
    sleep "$(printf '0.%03d' "$delay_ms")"
    victim=none
    if ((${#ranks[@]})); then
      victim=${ranks[RANDOM % ${#ranks[@]}]}
      kill -9 "$victim" 2> /dev/null || victim="$victim (already gone)"
    fi
    rc=0
    wait "$launcher" 2> /dev/null || rc=$?  # mpirun ends the job when a rank dies
    pkill -9 -P "$launcher" 2> /dev/null || true
    mode="mpi rank $victim, mpirun exit $rc,"
  fi
  after=$(done_units)
  check_units "$WORK/run" > /dev/null || fail "store inconsistent after kill $i"
  ((after > before && after < total)) && mid_run_kills=$((mid_run_kills + 1))
  say "kill $i ($mode after ${delay_ms} ms): $before -> $after of $total units"
done

say "final resume"
"$CLI" run "$CONFIG" "$@" --out "$WORK/run" --no-progress >> "$WORK/run.log" 2>&1
"$CLI" status "$WORK/run" --check > /dev/null || fail "not complete after the final resume"
"$CLI" merge "$WORK/run" > /dev/null
check_units "$WORK/run"
compare "$WORK/ref/results.h5" "$WORK/run/results.h5"
say "$mid_run_kills of $KILLS kills hit a run that had made progress and was not finished"
((mid_run_kills >= 5)) || fail "too few kills landed mid-run ($mid_run_kills); slow the runner down"
