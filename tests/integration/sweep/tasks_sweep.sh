#!/usr/bin/env bash
# FLORES translation, Belebele and Global-MMLU through `moe-sweep run` with the real model runner
# (tasks_sweep.yaml): the merged file has a row per (point, language) of every task, the
# multiple-choice accuracies equal the mean of their samples' verdicts, the FLORES score is the
# corpus chrF that `moe-sweep eval` computes on the same samples (not the mean sentence chrF),
# and the report prints every task's languages. Usage (through with_demo_model.sh):
# tasks_sweep.sh CLI DEMO_CONFIG (the demo config is not used).
source "$(dirname "$0")/lib.sh"
CLI=$1
export MOE_TEST_OUT="$WORK/sweep"
"$CLI" run "$HERE/tasks_sweep.yaml" --no-progress
"$CLI" merge "$WORK/sweep"
"$CLI" report "$WORK/sweep/results.h5" | tee "$WORK/report.txt"
cat > "$WORK/eval.yaml" <<YAML
model: {path: "$MOE_DEMO_DIR/model", threads: 1, max_batch_seqs: 32}
task:
  kind: flores
  path: $MOE_DEMO_DATA/flores
  languages: [de, fr, sw]
  split: dev
  source_language: en
  standard_size: false
  max_new_tokens: 8
YAML
"$CLI" eval "$WORK/eval.yaml" -o "$WORK/eval.h5"
"$MOE_TEST_PYTHON" - "$WORK/sweep/results.h5" "$WORK/eval.h5" "$WORK/report.txt" <<'PY'
import sys, h5py, numpy as np
merged, ev, report = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r"), open(sys.argv[3]).read()
s = lambda v: v.decode() if isinstance(v, bytes) else str(v)
col = lambda t, c: [s(x) if isinstance(x, bytes) else x for x in t[c][()]]
acc = merged["accuracy"]
rows = {}
for i in range(len(acc["point"])):
    rows[(s(acc["task"][i]), s(acc["point"][i]), s(acc["language"][i]))] = {
        c: acc[c][i] for c in ("n", "correct", "accuracy", "score", "sample_mean", "baseline", "delta")}
pts = merged["points"]
points = {s(pts["task"][i]): [] for i in range(len(pts["point"]))}
for i in range(len(pts["point"])):
    points[s(pts["task"][i])].append(s(pts["point"][i]))
expect = {"flores": (["de", "fr", "sw"], 6), "belebele": (["en", "de", "sw"], 4), "gmmlu": (["en", "de"], 7)}
for task, (langs, n) in expect.items():
    assert len(points[task]) == 2, (task, points[task])  # the baseline and the soft point
    t = merged["samples"][task]
    for p in points[task]:
        for lang in langs:
            r = rows[(task, p, lang)]
            sel = [i for i in range(len(t["point"])) if s(t["point"][i]) == p and s(t["language"][i]) == lang]
            assert len(sel) == n and r["n"] == n, (task, p, lang, len(sel), r["n"])
            if task == "flores":
                continue
            correct = t["correct"][()][sel]
            assert set(correct) <= {0, 1}, correct
            assert r["correct"] == correct.sum() and abs(r["accuracy"] - correct.mean()) < 1e-12, (task, p, lang, r)
            assert all(s(x) in "ABCD" for x in t["extracted"][()][sel])
            assert np.isfinite(t["logprob_a"][()][sel]).all()
print("belebele and gmmlu: every (point, language) row equals its samples' verdicts")
# FLORES: the merged baseline score is the evaluator's corpus chrF of the same outputs.
base = [p for p in points["flores"] if s(pts["method"][list(col(pts, "point")).index(p)]) == "none"][0]
et = ev["accuracy"]
eval_score = {s(et["language"][i]): float(et["score"][i]) for i in range(len(et["language"]))
              if s(et["point"][i]) == "baseline"}
es, ms = ev["samples"]["baseline"], merged["samples"]["flores"]
for lang in ("de", "fr", "sw"):
    r = rows[("flores", base, lang)]
    assert abs(r["score"] - eval_score[lang]) < 1e-9, (lang, r["score"], eval_score[lang])
    e_out = [s(es["extracted"][i]) for i in range(len(es["language"])) if s(es["language"][i]) == lang]
    m_out = [s(ms["extracted"][i]) for i in range(len(ms["point"]))
             if s(ms["point"][i]) == base and s(ms["language"][i]) == lang]
    assert e_out == m_out, (lang, e_out, m_out)
    sent = [float(ms["chrf"][i]) for i in range(len(ms["point"]))
            if s(ms["point"][i]) == base and s(ms["language"][i]) == lang]
    assert abs(r["sample_mean"] - np.mean(sent)) < 1e-9, (lang, r["sample_mean"], np.mean(sent))
    print(f"flores {lang}: corpus chrF {r['score']:.4f} = eval's; mean sentence chrF {r['sample_mean']:.4f}")
# The report: a section per task with a row per language whose base and point columns are the
# merged scores (printed to 3 decimals).
import re
for task, (langs, n) in expect.items():
    head = f"== tiny / {task}: languages {','.join(langs)}"
    assert head in report, f"report has no section '{head}'"
    sect = report[report.index(head):].split("\n== ")[0]
    base, point = sorted(points[task], key=lambda p: s(pts["method"][col(pts, "point").index(p)]) != "none")
    for lang in langs:
        m = re.search(rf"^\s+{lang}\s+{n}\s+(\S+)\s+(\S+)\s", sect, re.M)
        assert m, f"report: no {lang} row in the {task} section"
        key = "score" if task == "flores" else "accuracy"
        want = (rows[(task, base, lang)][key], rows[(task, point, lang)][key])
        got = (float(m.group(1)), float(m.group(2)))
        assert all(abs(g - w) <= 5e-4 for g, w in zip(got, want)), (task, lang, got, want)
print("report: every task's section prints each language's merged base and point scores")
PY
check_units "$WORK/sweep"
say "tasks sweep: flores, belebele, gmmlu merged and reported"
