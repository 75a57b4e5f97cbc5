#!/usr/bin/env bash
# Faults: SIGKILL a worker at random moments (local runs and MPI ranks), resume each time, until
# at least 10 kills have landed mid-run. After every kill the store holds only complete unit
# files; every finished run has each unit exactly once and merged results equal to an
# uninterrupted run's.
# Usage: kill_resume.sh CLI CONFIG [overrides...]
source "$(dirname "$0")/lib.sh"
CLI=$1 CONFIG=$2
shift 2
KILLS=${MOE_TEST_KILLS:-12}
export MOE_TEST_OUT="$WORK/unused"
SEED=${MOE_TEST_SEED:-$$}
RANDOM=$SEED
say "seed $SEED (set MOE_TEST_SEED to replay)"

say "uninterrupted reference run"
"$CLI" run "$CONFIG" "$@" --out "$WORK/ref" --no-progress > "$WORK/ref.log" 2>&1
"$CLI" merge "$WORK/ref" > /dev/null
files=("$WORK"/ref/units/*.h5)
total=${#files[@]}

RUN="$WORK/run.1"
done_units() {
  local files=("$RUN"/units/*.h5)
  [[ -e ${files[0]} ]] && echo ${#files[@]} || echo 0
}

# A finished run directory: complete, every unit once, merged results equal to the reference.
verify() {
  "$CLI" status "$1" --check > /dev/null || fail "not complete after the final resume of $1"
  "$CLI" merge "$1" > /dev/null
  check_units "$1"
  compare "$WORK/ref/results.h5" "$1/results.h5"
}

# Kill until at least KILLS kills and at least MIN_MID of them landed mid-run (the run had made
# progress and was not finished). A machine fast enough to finish a run within fewer kills starts
# another round in a fresh directory after verifying the finished one.
MIN_MID=${MOE_TEST_MIN_MID_KILLS:-10}
MAX_KILLS=$((KILLS * 4))
round=1
mid_run_kills=0
mkdir -p "$RUN"
for ((i = 1; i <= MAX_KILLS && (i <= KILLS || mid_run_kills < MIN_MID); i++)); do
  before=$(done_units)
  delay_ms=$((200 + RANDOM % 800))
  if ((i % 2)); then
    mode=local
    setsid "$CLI" run "$CONFIG" "$@" --out "$RUN" --no-progress >> "$WORK/run.log" 2>&1 &
    victim=$!
    sleep "$(printf '0.%03d' "$delay_ms")"
    kill -9 "$victim" 2> /dev/null || true
    wait "$victim" 2> /dev/null || true
  else
    setsid "${MPIRUN[@]}" -np 2 "$CLI" run "$CONFIG" "$@" --out "$RUN" --no-progress \
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
    # Ranks mpirun left behind (orphans once it exited) are still in its session: end them all
    # before the next run, which must find only dead holders' leases.
    pkill -9 -s "$launcher" 2> /dev/null || true
    for ((w = 0; w < 100; w++)); do
      pgrep -s "$launcher" | xargs -r ps -o stat= -p | grep -qv '^Z' || break  # zombies only
      sleep 0.05
    done
    mode="mpi rank $victim, mpirun exit $rc,"
  fi
  after=$(done_units)
  check_units "$RUN" > /dev/null || fail "store inconsistent after kill $i"
  ((after > before && after < total)) && mid_run_kills=$((mid_run_kills + 1))
  say "kill $i ($mode after ${delay_ms} ms): $before -> $after of $total units (round $round)"
  if ((after == total)); then
    say "round $round finished between kills: verifying it and starting a fresh directory"
    verify "$RUN"
    round=$((round + 1))
    RUN="$WORK/run.$round"
    mkdir -p "$RUN"
  fi
done

say "final resume (round $round)"
"$CLI" run "$CONFIG" "$@" --out "$RUN" --no-progress >> "$WORK/run.log" 2>&1
verify "$RUN"
say "$mid_run_kills of $((i - 1)) kills hit a run that had made progress and was not finished"
((mid_run_kills >= MIN_MID)) || fail "too few kills landed mid-run ($mid_run_kills of $((i - 1)))"
