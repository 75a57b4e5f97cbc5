# Helpers for the integration tests (sourced). Needs MOE_CLI_DOUBLE / MOE_CLI, MOE_SOURCE_DIR,
# MOE_TEST_PYTHON from CTest.
set -euo pipefail
: "${MOE_SOURCE_DIR:?}" "${MOE_TEST_PYTHON:?}"
HERE="$MOE_SOURCE_DIR/tests/integration/sweep"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/moe-it.XXXXXX")
trap 'status=$?; [[ $status -eq 0 ]] && rm -rf "$WORK"; exit $status' EXIT

# mpirun as root needs explicit permission; --oversubscribe lets 3 ranks share 2 cores.
MPIRUN=(mpirun --oversubscribe --mca btl self,vader,tcp --mca mpi_yield_when_idle 1)
if [[ $(id -u) -eq 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

say() { echo "[$(date +%H:%M:%S)] $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# compare A.h5 B.h5 [--ignore ATTR ...]: identical merged content (see compare_results.py).
compare() { "$MOE_TEST_PYTHON" "$HERE/compare_results.py" "$@"; }

# Every unit file of DIR opens and names itself; with a merged file, the unit files are exactly
# the plan's units (each present once, nothing extra), and no debris is left in units/.
check_units() {
  "$MOE_TEST_PYTHON" - "$1" <<'PY'
import os, sys, h5py
d = sys.argv[1]
def s(v): return v.decode() if isinstance(v, bytes) else str(v)
# A store no worker got to set up yet (killed at start) has no units/: nothing to check.
units = os.path.join(d, "units")
names = sorted(os.listdir(units)) if os.path.isdir(units) else []
for n in names:
    assert n.endswith(".h5"), f"unexpected file in units/: {n}"
    with h5py.File(os.path.join(d, "units", n), "r") as f:
        assert s(f.attrs["unit"]) == n[:-3], n
        assert "tables" in f and "arrays" in f, n
merged = os.path.join(d, "results.h5")
if os.path.exists(merged):
    with h5py.File(merged, "r") as f:
        plan = sorted(s(u) for u in f["units"]["unit"][()])
    assert len(plan) == len(set(plan))
    assert sorted(n[:-3] for n in names) == plan, "unit files differ from the plan's units"
print(f"{len(names)} unit files, all readable")
PY
}
