#!/usr/bin/env bash
# Memory of a gpt-oss-20b-shaped checkpoint on the fast CPU backend, measured (not computed).
#
# Makes a random checkpoint with the published gpt-oss-20b shapes and layout (`moe-sweep make-model
# --preset gpt-oss-20b`: MXFP4 experts as U8 blocks/scales, bf16 elsewhere, about 13.8 GB), runs a
# short greedy generation on it (`moe-sweep generate --max-tokens N`: prefill of the prompt, then
# N-1 decode steps) and reports
#   - peak resident set size of the generate process (/usr/bin/time -v), its wall time, and the
#     times of the load and of the generation (split where generate logs its prompt, to within
#     one 50 ms sample);
#   - the split of the resident set into file-backed pages (the mmapped checkpoint) and anonymous
#     memory (activations, KV cache, anything copied or dequantised), sampled from
#     /proc/PID/status every 50 ms: the largest RssAnon and RssFile seen, and both at the sample
#     with the largest VmRSS; and the checkpoint's size on disk (du).
# The checkpoint is deleted afterwards unless KEEP=1.
#
# Usage: bench/run_gptoss20b_memory.sh [CHECKPOINT_DIR]
#   env: MOE_SWEEP (default build/bin/moe-sweep), THREADS (default 2), MAX_TOKENS (default 2),
#        PROMPT (default "The capital of France is"), BACKEND (default cpu), KEEP (default 0),
#        MAKE_FLAGS (default "--preset gpt-oss-20b"; e.g. "--family gpt_oss" to try the script on
#        the tiny shape)
set -euo pipefail

MOE_SWEEP=${MOE_SWEEP:-build/bin/moe-sweep}
THREADS=${THREADS:-2}
MAX_TOKENS=${MAX_TOKENS:-2}
PROMPT=${PROMPT:-"The capital of France is"}
BACKEND=${BACKEND:-cpu}
KEEP=${KEEP:-0}
# OpenMP threads wait passively: on cores shared with other processes libgomp's spinning makes
# every parallel region wait for a preempted peer (see README.md, CPU runtime).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
MAKE_FLAGS=${MAKE_FLAGS:-"--preset gpt-oss-20b"}
DIR=${1:-${TMPDIR:-/tmp}/moe_gptoss20b_$$}
LOG=$(mktemp -d "${TMPDIR:-/tmp}/moe_gptoss20b_log.XXXXXX")

cleanup() {
  if [[ "$KEEP" != 1 ]]; then rm -rf "$DIR"; fi
  rm -rf "$LOG"
}
trap cleanup EXIT

[[ -x "$MOE_SWEEP" ]] || { echo "no moe-sweep binary at $MOE_SWEEP (set MOE_SWEEP)" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time (GNU time) is needed" >&2; exit 2; }

field() {  # value of "<name>: value" in a time -v report
  awk -v k="$1: " '{ sub(/^[ \t]+/, "") } index($0, k) == 1 { print substr($0, length(k) + 1) }' "$2"
}
gib() { awk -v k="$1" 'BEGIN { printf "%.2f GiB", k / 1048576 }'; }  # KiB -> GiB

# ---- make the checkpoint (skipped when DIR already holds one) -------------------------------------
if [[ ! -f "$DIR/config.json" ]]; then
  echo "making a checkpoint ($MAKE_FLAGS) in $DIR ($THREADS threads)"
  # shellcheck disable=SC2086  # MAKE_FLAGS is a list of flags
  /usr/bin/time -v -o "$LOG/make.time" \
    "$MOE_SWEEP" make-model "$DIR" $MAKE_FLAGS --threads "$THREADS"
  echo "make-model: wall $(field 'Elapsed (wall clock) time (h:mm:ss or m:ss)' "$LOG/make.time"), peak RSS $(gib "$(field 'Maximum resident set size (kbytes)' "$LOG/make.time")")"
fi
ckpt_kib=$(du -sk "$DIR" | cut -f1)
echo "checkpoint on disk: $(gib "$ckpt_kib")"

# ---- run it, sampling the resident set ------------------------------------------------------------
t_start=$(date +%s.%N)
/usr/bin/time -v -o "$LOG/gen.time" \
  "$MOE_SWEEP" generate "$DIR" --prompt "$PROMPT" --max-tokens "$MAX_TOKENS" \
  --backend "$BACKEND" --threads "$THREADS" >"$LOG/gen.out" 2>"$LOG/gen.err" &
time_pid=$!
child=""
: >"$LOG/samples"
while kill -0 "$time_pid" 2>/dev/null; do
  [[ -n "$child" ]] || child=$(cat "/proc/$time_pid/task/$time_pid/children" 2>/dev/null | awk '{print $1}')
  if [[ -z "${t_gen:-}" ]] && cat "$LOG/gen.out" "$LOG/gen.err" 2>/dev/null | grep -q 'generate: '; then
    t_gen=$(date +%s.%N)  # the log line that ends loading (within one sample period)
  fi
  if [[ -n "$child" ]]; then
    awk '/^(VmRSS|RssAnon|RssFile|RssShmem):/ { v[$1] = $2 }
         END { if (v["VmRSS:"] != "") print v["VmRSS:"], v["RssAnon:"], v["RssFile:"] }' \
      "/proc/$child/status" >>"$LOG/samples" 2>/dev/null || true
  fi
  sleep 0.05
done
status=0
wait "$time_pid" || status=$?
t_end=$(date +%s.%N)
t_gen=${t_gen:-$t_end}
if [[ $status -ne 0 ]]; then
  echo "generate failed (exit $status):" >&2
  cat "$LOG/gen.err" "$LOG/gen.time" >&2
  exit 1
fi

peak_kib=$(field 'Maximum resident set size (kbytes)' "$LOG/gen.time")
read -r s_rss s_anon s_file < <(sort -n -k1,1 "$LOG/samples" | tail -1)
max_anon=$(sort -n -k2,2 "$LOG/samples" | tail -1 | cut -d' ' -f2)
max_file=$(sort -n -k3,3 "$LOG/samples" | tail -1 | cut -d' ' -f3)
prompt_tokens=$(cat "$LOG/gen.out" "$LOG/gen.err" | sed -n 's/.*generate: \([0-9]*\) prompt tokens.*/\1/p')
wall=$(field 'Elapsed (wall clock) time (h:mm:ss or m:ss)' "$LOG/gen.time")

echo
echo "generate --backend $BACKEND --threads $THREADS --max-tokens $MAX_TOKENS, $prompt_tokens prompt tokens, OMP_WAIT_POLICY=$OMP_WAIT_POLICY, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  output: $(grep -v 'generate: ' "$LOG/gen.out" | tr '\n' ' ')"
echo "  wall time: $wall (user $(field 'User time (seconds)' "$LOG/gen.time") s, system $(field 'System time (seconds)' "$LOG/gen.time") s)"
awk -v s="$t_start" -v g="$t_gen" -v e="$t_end" \
  'BEGIN { printf "  load (start to the first log line) %.1f s, prefill + decode %.1f s\n", g - s, e - g }'
echo "  peak RSS (time -v): $(gib "$peak_kib")  [checkpoint $(gib "$ckpt_kib"), RAM $(gib "$(awk '/MemTotal/ {print $2}' /proc/meminfo)")]"
echo "  sampled every 50 ms ($(wc -l <"$LOG/samples") samples): at the largest VmRSS $(gib "$s_rss") = anonymous $(gib "$s_anon") + file-backed $(gib "$s_file")"
echo "  largest anonymous $(gib "$max_anon"), largest file-backed $(gib "$max_file")"
echo "  major page faults $(field 'Major (requiring I/O) page faults' "$LOG/gen.time"), minor $(field 'Minor (reclaiming a frame) page faults' "$LOG/gen.time")"
