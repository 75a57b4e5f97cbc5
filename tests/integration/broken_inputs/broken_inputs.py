#!/usr/bin/env python3
"""Broken checkpoints as a new user would meet them: each case in broken_inputs.json makes a
checkpoint with `moe-sweep make-model`, breaks it, runs `moe-sweep inspect` on it and checks that
it exits non-zero with exactly ONE line on stderr that contains every expected piece (the file
and the problem).

A case:
  {"name": "...",                    # also the ctest name: broken_inputs.<name>
   "make": ["--family", "olmoe"],    # make-model arguments (default: --family qwen3_moe)
   "break": [ {op}, ... ],           # applied in order, paths relative to the checkpoint
   "expect": ["config.json", "hidden_size", ...]}   # substrings of the error line
Operations (add more here when a case needs one):
  {"truncate": FILE, "drop": N}                    remove the last N bytes
  {"header_length": FILE, "value": N | "file_size"}  overwrite the 8-byte length field
  {"corrupt_header": FILE, "at": N, "text": S}     overwrite header bytes at offset N (from the
                                                   start of the JSON) with S (same length kept)
  {"edit_header": FILE, "tensor": NAME, "set": {...}, "shift": N}
        change a tensor entry (dtype/shape/data_offsets) or move its data_offsets by N bytes;
        the header is re-serialized (padded to 8 bytes) and the data kept as it was
  {"edit_json": FILE, "set": {"a.b": VALUE}, "delete": ["key", "a.b"]}   dotted key paths
  {"write": FILE, "text": S}                       replace a file's content
  {"delete": FILE | "shard:N"}                     remove a file ("shard:2" = the 2nd shard)
Usage: broken_inputs.py --cli PATH/moe-sweep [--case NAME] [--cases FILE]
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def read_header(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def write_header(path, header, payload):
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + payload)


def dotted(obj, key, create=False):
    parts = key.split(".")
    for p in parts[:-1]:
        if create and p not in obj:
            obj[p] = {}
        obj = obj[p]
    return obj, parts[-1]


def shard_name(ckpt, n):
    shards = sorted(f for f in os.listdir(ckpt) if f.startswith("model-") and
                    f.endswith(".safetensors"))
    return shards[n - 1]


def apply(op, ckpt):
    kind = next(k for k in ("truncate", "header_length", "corrupt_header", "edit_header",
                            "edit_json", "write", "delete") if k in op)
    target = op[kind]
    if isinstance(target, str) and target.startswith("shard:"):
        target = shard_name(ckpt, int(target[6:]))
    path = os.path.join(ckpt, target)
    if kind == "truncate":
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.truncate(size - op["drop"])
    elif kind == "header_length":
        value = os.path.getsize(path) if op["value"] == "file_size" else op["value"]
        with open(path, "r+b") as f:
            f.write(struct.pack("<Q", value))
    elif kind == "corrupt_header":
        with open(path, "r+b") as f:
            f.seek(8 + op["at"])
            f.write(op["text"].encode())
    elif kind == "edit_header":
        header, payload = read_header(path)
        entry = header[op["tensor"]]
        entry.update(op.get("set", {}))
        if "shift" in op:
            entry["data_offsets"] = [x + op["shift"] for x in entry["data_offsets"]]
        write_header(path, header, payload)
    elif kind == "edit_json":
        with open(path) as f:
            doc = json.load(f)
        for key in op.get("delete", []):
            obj, last = dotted(doc, key)
            del obj[last]
        for key, value in op.get("set", {}).items():
            obj, last = dotted(doc, key, create=True)
            obj[last] = value
        with open(path, "w") as f:
            json.dump(doc, f, indent=2)
    elif kind == "write":
        with open(path, "w") as f:
            f.write(op["text"])
    elif kind == "delete":
        os.remove(path)


def run_case(case, cli, made, work):
    make = case.get("make", ["--family", "qwen3_moe"])
    key = json.dumps(make)
    if key not in made:
        src = os.path.join(work, "made-%d" % len(made))
        r = subprocess.run([cli, "make-model", src, "--seed", "7"] + make, capture_output=True,
                           text=True)
        if r.returncode != 0:
            return "make-model failed: " + r.stderr.strip()
        made[key] = src
    ckpt = os.path.join(work, case["name"])
    shutil.rmtree(ckpt, ignore_errors=True)
    shutil.copytree(made[key], ckpt)
    for op in case["break"]:
        apply(op, ckpt)
    r = subprocess.run([cli, "inspect", ckpt], capture_output=True, text=True)
    err = r.stderr.rstrip("\n")
    problems = []
    if r.returncode == 0:
        problems.append("inspect exited 0")
    if "\n" in err or not err:
        problems.append("expected exactly one line on stderr, found %d" % len(err.splitlines()))
    for piece in case["expect"]:
        if piece not in err:
            problems.append("missing %r" % piece)
    if problems:
        return "; ".join(problems) + "\n    stderr: " + err
    print("ok   %-34s %s" % (case["name"], err))
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--cases", default=os.path.join(HERE, "broken_inputs.json"))
    ap.add_argument("--case", help="run only this case")
    args = ap.parse_args()
    with open(args.cases) as f:
        cases = json.load(f)
    if args.case:
        cases = [c for c in cases if c["name"] == args.case]
        if not cases:
            sys.exit("no case named %r" % args.case)
    failed = 0
    made = {}
    with tempfile.TemporaryDirectory(prefix="moe_broken_") as work:
        for case in cases:
            problem = run_case(case, args.cli, made, work)
            if problem:
                failed += 1
                print("FAIL %-34s %s" % (case["name"], problem))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
