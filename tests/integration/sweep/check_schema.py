#!/usr/bin/env python3
"""results/SCHEMA.md names everything a results file holds: walks a results file (a merged
sweep after `analyze`, or a `moe-sweep routing` output) and checks that every root attribute,
top-level group, table column, array and attribute of the routing, analysis and expert groups
is named in SCHEMA.md (as `name`). A name written but not documented fails, with its path.
Usage: check_schema.py RESULTS.h5 [...]   (env: MOE_SOURCE_DIR)"""
import os
import re
import sys

import h5py

with open(os.path.join(os.environ["MOE_SOURCE_DIR"], "results", "SCHEMA.md")) as f:
    DOC = f.read()
DOCUMENTED = set()
for token in re.findall(r"`([^`\s]+)`", DOC):  # `name`, and each part of `/a/<b>/c` paths
    DOCUMENTED.add(token)
    DOCUMENTED.update(part for part in token.strip("/").split("/") if part and "<" not in part)
# Names documented as patterns: a statistics id, an expert set's id or rule name, a point id,
# per-task samples, chrF statistics (tasks::chrf_statistic_name), delta_<language> arrays.
PATTERNS = [re.compile(p) for p in (r"^chrf_(char|word)_\d+_(hyp|ref|match)$",
                                    r"^delta_[a-z]{2,3}(_[A-Za-z]+)?$",
                                    r"^param_[a-z_]+$")]


def documented(name):
    return name in DOCUMENTED or any(p.match(name) for p in PATTERNS)


missing = []


def need(name, where):
    if not documented(name):
        missing.append("%s (%s)" % (name, where))


def walk_attrs(obj, where):
    for a in obj.attrs:
        need(a, where + " attribute")


def walk_table(g, where):
    if not isinstance(g, h5py.Group):
        missing.append("%s: a dataset where SCHEMA.md documents a table" % where)
        return
    walk_attrs(g, where)
    for c in g:
        need(c, where)


for path in sys.argv[1:]:
    with h5py.File(path, "r") as f:
        walk_attrs(f, "/")
        for top, g in f.items():
            need(top, "/")
            if top in ("points", "accuracy", "tasks", "units", "notes", "missing"):
                walk_table(g, "/" + top)
            elif top == "samples":
                for task, t in g.items():
                    walk_table(t, "/samples/" + task)
            elif top == "routing":
                for m in g.values():
                    for c in m.values():
                        for lang in c.values():
                            walk_attrs(lang, "/routing/<m>/<c>/<lang>")
                            for name in lang:
                                need(name, "/routing/<m>/<c>/<lang>")
            elif top == "analysis":
                walk_attrs(g, "/analysis")
                for m in g.values():
                    for c in m.values():
                        walk_attrs(c, "/analysis/<m>/<c>")
                        for name, obj in c.items():
                            need(name, "/analysis/<m>/<c>")
                            if isinstance(obj, h5py.Group):
                                walk_table(obj, "/analysis/<m>/<c>/" + name)
            elif top == "experts":
                for m in g.values():
                    for s in m.values():
                        walk_attrs(s, "/experts/<m>/<set>")
                        for name, obj in s.items():
                            need(name, "/experts/<m>/<set>")
                            if isinstance(obj, h5py.Group):
                                for sub, o2 in obj.items():
                                    need(sub, "/experts/<m>/<set>/" + name)
                                    if isinstance(o2, h5py.Group):
                                        walk_table(o2, "/experts/<m>/<set>/%s/%s" % (name, sub))
            elif top == "interventions":
                for p in g.values():
                    for lang in p.values():
                        for name in lang:
                            need(name, "/interventions/<point>/<language>")

if missing:
    for m in sorted(set(missing)):
        print("undocumented: " + m)
    raise SystemExit("FAIL: %d names in %s are not in results/SCHEMA.md"
                     % (len(set(missing)), " ".join(sys.argv[1:])))
print("ok: every name in %s is in results/SCHEMA.md" % " ".join(sys.argv[1:]))
