#!/usr/bin/env bash
# Stops the test cluster started by start.sh DIR: cancels its jobs, then stops slurmd,
# slurmctld and munged (by their pid files). Usage: slurm/testcluster/stop.sh DIR
set -uo pipefail
DIR=$(realpath -m "$1")
export SLURM_CONF=$DIR/slurm.conf
[[ -f $SLURM_CONF ]] && scancel --full --quiet --user=root 2> /dev/null
stop() {
  local pidfile=$1
  [[ -f $pidfile ]] || return 0
  local pid
  pid=$(cat "$pidfile")
  kill "$pid" 2> /dev/null || return 0
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2> /dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2> /dev/null
}
stop "$DIR/slurmd.pid"
stop "$DIR/slurmctld.pid"
stop "$DIR/munge/munged.pid"
exit 0
