#!/usr/bin/env python3
"""Compares two merged results.h5 files: every group, dataset and attribute must be identical,
except the root attribute 'created' (when the file was written) and root attributes named with
--ignore (e.g. config_yaml when the runs wrote to different output directories). Exit 0 if
equal, 1 otherwise (listing the first differences).
Usage: compare_results.py A.h5 B.h5 [--ignore ATTR ...]"""
import sys

import h5py
import numpy as np

IGNORED_ROOT_ATTRS = {"created"}


def norm(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray):
        return [norm(x) for x in v.tolist()] if v.dtype.kind in "OS" else v
    return v


def equal(a, b):
    a, b = norm(a), norm(b)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if a.dtype.kind == "f":
            return np.array_equal(a, b, equal_nan=True)
        return np.array_equal(a, b)
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return a == b


def walk(f):
    out = {}
    def visit(name, obj):
        out[name] = obj
    f.visititems(visit)
    return out


def main():
    args = sys.argv[3:]
    while args:
        if args[0] != "--ignore" or len(args) < 2:
            sys.exit(__doc__)
        IGNORED_ROOT_ATTRS.add(args[1])
        args = args[2:]
    fa, fb = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
    diffs = []
    for name in sorted(set(fa.attrs) | set(fb.attrs)):
        if name in IGNORED_ROOT_ATTRS:
            continue
        if name not in fa.attrs or name not in fb.attrs or not equal(fa.attrs[name], fb.attrs[name]):
            diffs.append(f"root attribute {name}")
    a, b = walk(fa), walk(fb)
    for name in sorted(set(a) ^ set(b)):
        diffs.append(f"only in {'first' if name in a else 'second'}: /{name}")
    for name in sorted(set(a) & set(b)):
        oa, ob = a[name], b[name]
        if isinstance(oa, h5py.Dataset) != isinstance(ob, h5py.Dataset):
            diffs.append(f"/{name}: group vs dataset")
            continue
        if isinstance(oa, h5py.Dataset) and not equal(oa[()], ob[()]):
            diffs.append(f"/{name}: values differ")
        for at in sorted(set(oa.attrs) | set(ob.attrs)):
            if at not in oa.attrs or at not in ob.attrs or not equal(oa.attrs[at], ob.attrs[at]):
                diffs.append(f"/{name}@{at}: attribute differs")
    if diffs:
        print(f"{sys.argv[1]} and {sys.argv[2]} differ:")
        for d in diffs[:30]:
            print("  " + d)
        return 1
    print(f"identical: {len(a)} objects")
    return 0


if __name__ == "__main__":
    sys.exit(main())
