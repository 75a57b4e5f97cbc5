#!/usr/bin/env bash
# The sweep's evaluation phase and `moe-sweep eval` are the same code: after the demo sweep, an
# eval config with the sweep's expert set (read from the merged results.h5) and one of its grid
# points' interventions reproduces that point's and the baseline's outputs and scores sample for
# sample. Usage (through with_demo_model.sh): eval_matches_sweep.sh CLI CONFIG
source "$(dirname "$0")/lib.sh"
CLI=$1 CONFIG=$2
"$CLI" run "$CONFIG" --out "$WORK/sweep" --no-progress
"$CLI" merge "$WORK/sweep"
# The soft point on the math experts, layers 0-1, tau 0.02, and its expert set.
read -r point set < <("$MOE_TEST_PYTHON" - "$WORK/sweep/results.h5" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
p = f["points"]
s = lambda v: v.decode() if isinstance(v, bytes) else str(v)
for i in range(len(p["point"])):
    if (s(p["method"][i]), s(p["rule"][i]), int(p["layer_start"][i]), int(p["layer_end"][i]),
            float(p["tau"][i])) == ("soft", "math", 0, 1, 0.02):
        print(s(p["point"][i]), s(p["expert_set"][i]))
PY
)
[[ -n $point ]] || fail "no soft/math/0-1/0.02 point in the demo sweep"
say "point $point, expert set $set"
cat > "$WORK/eval.yaml" <<YAML
model: {path: "$MOE_DEMO_DIR/model", threads: 1, max_batch_seqs: 32}
task:
  kind: mgsm
  path: $MOE_DEMO_DATA/mgsm
  languages: [en, de, sw]
  samples: 8
  variant: direct
  shots: 1
  max_new_tokens: 6
experts:
  math: {file: "$WORK/sweep/results.h5", set: "tiny/$set"}
interventions: {std: sample, hard_seed: 0}
intervention: {name: soft_math, method: soft, experts: math, layers: [0, 1], lambda: 1.0, direction: boost}
YAML
"$CLI" eval "$WORK/eval.yaml" -o "$WORK/eval.h5"
"$MOE_TEST_PYTHON" - "$WORK/sweep/results.h5" "$WORK/eval.h5" "$point" <<'PY'
import sys, h5py, numpy as np
sweep, ev, point = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r"), sys.argv[3]
s = lambda v: v.decode() if isinstance(v, bytes) else str(v)
pts = sweep["points"]
base = [s(pts["point"][i]) for i in range(len(pts["point"])) if s(pts["method"][i]) == "none"][0]
rows = sweep["samples"]["mgsm"]
def sweep_rows(pid):
    out = {}
    for i in range(len(rows["point"])):
        if s(rows["point"][i]) == pid:
            out[(s(rows["language"][i]), int(rows["sample"][i]))] = (s(rows["output"][i]), float(rows["score"][i]))
    return out
def eval_rows(name):
    t = ev["samples"][name]
    return {(s(t["language"][i]), int(t["index"][i])): (s(t["output"][i]), float(t["score"][i]))
            for i in range(len(t["index"]))}
for sweep_id, eval_name in ((base, "baseline"), (point, "soft_math")):
    a, b = sweep_rows(sweep_id), eval_rows(eval_name)
    assert len(a) == 24 and a.keys() == b.keys(), (sweep_id, sorted(a)[:3], sorted(b)[:3])
    diff = [k for k in a if a[k] != b[k]]
    assert not diff, f"{eval_name}: {len(diff)} samples differ, e.g. {diff[0]}: {a[diff[0]]} vs {b[diff[0]]}"
    print(f"{eval_name}: 24 samples identical to the sweep's {sweep_id}")
PY
