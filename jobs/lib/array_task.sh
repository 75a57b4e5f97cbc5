# The body of the ready-made sbatch scripts in jobs/ (sourced by them; not a job itself).
#
# Every array task is a worker on the sweep's shared output directory: `moe-sweep run` takes
# pending batches under leases until none is left, so any number of tasks (and resubmissions)
# cooperate and only units that are not done run. The batch shell execs the worker, so the
# --signal=B:USR1@N that SLURM sends before the time limit reaches it and it stops gracefully.
# The scripts ask for the signal 600 s before the limit: with --time of 10 minutes or less it
# comes at once and the task stops almost before it starts; pass e.g. --signal=B:USR1@60 too.
# A task stopped by the signal with batches left requeues itself (run --requeue: exit code 75,
# the scripts ask for --requeue) and goes on where it stopped when SLURM starts it again.
# The task with the lowest index submits one merge job that runs after the whole array
# (afterany) and builds results.h5, or fails listing what is missing.
#
# Environment (all optional):
#   MOE_CONFIG     the sweep YAML (each script sets its default)
#   MOE_OVERRIDES  key=value overrides, space-separated
#   MOE_SWEEP      the moe-sweep binary (default: moe-sweep on PATH, else build/bin/moe-sweep)
#   MOE_LAUNCHER   what starts the ranks of a task: "" (one process), srun, or mpirun
#   MOE_NO_MERGE   set to skip the merge job
#   MOE_LOG_DIR    where the merge job writes its log (default: the submit directory)
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-.}"
: "${MOE_CONFIG:?set MOE_CONFIG to the sweep YAML}"
read -r -a overrides <<< "${MOE_OVERRIDES:-}"
if [[ -z ${MOE_SWEEP:-} ]]; then
  MOE_SWEEP=$(command -v moe-sweep || echo "$PWD/build/bin/moe-sweep")
fi
[[ -x $MOE_SWEEP ]] || { echo "array_task.sh: no moe-sweep binary at '$MOE_SWEEP' (set MOE_SWEEP)" >&2; exit 2; }

if [[ -z ${MOE_NO_MERGE:-} && -n ${SLURM_ARRAY_JOB_ID:-} &&
      ${SLURM_ARRAY_TASK_ID:-0} == "${SLURM_ARRAY_TASK_MIN:-0}" ]]; then
  merge_cmd=$(printf '%q ' "$MOE_SWEEP" merge "$MOE_CONFIG" "${overrides[@]}")
  sbatch --parsable --job-name="${SLURM_JOB_NAME:-moe-sweep}-merge" \
    --dependency="afterany:${SLURM_ARRAY_JOB_ID}" --kill-on-invalid-dep=no \
    --output="${MOE_LOG_DIR:-${SLURM_SUBMIT_DIR:-.}}/%x-%j.out" --time=01:00:00 --ntasks=1 \
    --wrap="$merge_cmd"
fi

exec ${MOE_LAUNCHER:-} "$MOE_SWEEP" run "$MOE_CONFIG" "${overrides[@]}" --keep-failed --requeue
