#!/usr/bin/env bash
# Starts a private single-node SLURM cluster (munged, slurmctld, slurmd from Debian's munge and
# slurm-wlm packages) under DIR, for tests. Prints the line to source: `export SLURM_CONF=...`.
# Usage: slurm/testcluster/start.sh DIR [MAX_ARRAY_SIZE]        Stop it with stop.sh DIR.
# Needs root (SlurmUser=root). Nothing outside DIR is touched.
set -euo pipefail
DIR=$(realpath -m "$1")
MAX_ARRAY=${2:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
for b in munged slurmctld slurmd sinfo; do
  command -v "$b" > /dev/null || { echo "start.sh: $b not found (tools/install-deps.sh --with-cluster)" >&2; exit 77; }
done
[[ $(id -u) -eq 0 ]] || { echo "start.sh: needs root (SlurmUser=root)" >&2; exit 77; }

mkdir -p "$DIR"/{munge,state,spool,log}
chmod 700 "$DIR/munge"
HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
# Ports from this instance's directory, so concurrent test clusters do not collide.
base=$(( 20000 + $(echo "$DIR" | cksum | cut -d' ' -f1) % 20000 ))
sed -e "s|@DIR@|$DIR|g" -e "s|@HOST@|$HOST|g" -e "s|@CTLD_PORT@|$base|g" \
    -e "s|@SLURMD_PORT@|$((base + 1))|g" -e "s|@CPUS@|$CPUS|g" -e "s|@MEM_MB@|$MEM_MB|g" \
    -e "s|@MAX_ARRAY@|$MAX_ARRAY|g" "$HERE/slurm.conf.in" > "$DIR/slurm.conf"
export SLURM_CONF=$DIR/slurm.conf

# munge with a private key and socket
dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$DIR/munge/munge.key"
munged --force --key-file="$DIR/munge/munge.key" --socket="$DIR/munge/munge.socket" \
  --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/log/munged.log" \
  --seed-file="$DIR/munge/munge.seed"

slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"

# Wait until the node takes jobs.
for ((i = 0; i < 60; i++)); do
  state=$(sinfo -h -n "$HOST" -o %t 2> /dev/null || true)
  case "$state" in
    idle*|mix*|alloc*) echo "export SLURM_CONF=$SLURM_CONF"; exit 0 ;;
    down*|drain*|inval*) scontrol update nodename="$HOST" state=resume 2> /dev/null || true ;;
  esac
  sleep 1
done
echo "start.sh: the node did not come up; logs in $DIR/log" >&2
tail -20 "$DIR"/log/*.log >&2 || true
exit 1
