#!/usr/bin/env python3
"""The Python reader (python/moe_sweep) on a demo sweep's results.h5 after `analyze`: every
table loads as a DataFrame with the columns results/SCHEMA.md names, the accuracy join keeps
one row per (point, language) with the point's settings, routing groups and the analysis come
back labelled, and expert sets load from the sweep's layout and analyze's.
Usage: check_reader.py RESULTS.h5 (imports moe_sweep from MOE_SOURCE_DIR/python)."""
import os
import sys

sys.path.insert(0, os.path.join(os.environ["MOE_SOURCE_DIR"], "python"))
import moe_sweep  # noqa: E402


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL reader: " + what)
    print("ok   reader: " + what)


with moe_sweep.open_results(sys.argv[1]) as r:
    check(r.attrs["name"] == "demo" and r.layer_base == 0, "attributes (name, layer_indexing)")
    names = r.tables()
    check({"points", "accuracy", "tasks", "units", "samples/mgsm"} <= set(names),
          "tables listed: %s" % names)
    points = r.table("points")
    for col in ("point", "model", "task", "method", "rule", "layer_start", "layer_end", "tau",
                "lambda", "K", "thr", "expert_set_size"):
        check(col in points.columns, "/points has %s" % col)
    check((points["method"] == "none").sum() == 1, "one baseline point")
    acc_raw = r.table("accuracy")
    acc = r.accuracy()
    check(len(acc) == len(acc_raw) and len(acc) > 0, "accuracy join keeps its %d rows" % len(acc))
    check({"rule", "tau", "lambda", "layers", "score", "delta", "ci_low"} <= set(acc.columns),
          "accuracy rows carry the points' settings")
    base = acc[acc["method"] == "none"]
    check((base["layers"] == "-").all() and (acc[acc["method"] != "none"]["layers"] != "-").all(),
          "layers label: '-' for the baseline, a window for the others")
    samples = r.table("samples/mgsm")
    check({"point", "language", "sample", "gold", "output", "answer_text", "extracted",
           "correct", "score"} <= set(samples.columns) and len(samples) > 0,
          "samples/mgsm: %d rows with SCHEMA.md's columns" % len(samples))
    check(all(isinstance(x, str) for x in samples["output"]), "string columns are str")
    groups = r.routing_groups()
    check(len(groups) > 0, "routing groups: %s" % groups)
    g = r.routing(*groups[0])
    check(g["attrs"]["model"] == groups[0][0] and "importance" in g, "a routing group's arrays")
    a = r.analysis("tiny", "flores")
    div = a["divergence"]
    check(list(div.index) == a["languages"] and list(div.columns) == a["layers"],
          "divergence: languages x layers")
    ref = a["attrs"]["reference"]
    check((div.loc[ref] == 0).all(), "the reference language's divergence is zero")
    check(set(a["similarity"]) == set(a["layers"]), "similarity per layer")
    sets = r.expert_sets("tiny")
    check(len(sets) > 0, "%d expert sets" % len(sets))
    kinds = set()
    for name in sets:
        df = r.expert_set("tiny", name)
        check({"layer", "expert", "score"} <= set(df.columns), "expert set %s rows" % name)
        kinds.add("source" in df.attrs)
    check(kinds == {True, False}, "expert sets of the sweep and of analyze both read")
print("ok: python/moe_sweep reads %s" % sys.argv[1])
