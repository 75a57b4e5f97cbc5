#!/usr/bin/env python3
"""Compiles the runtime's portable sources for another architecture (default aarch64) with
Debian's cross compiler, to show that off x86-64 the build reaches the plain C++ path: the
CPU-level kernel files are left out (runtime/CMakeLists.txt) and nothing else may need an x86
instruction, header or macro.

The flags are the host build's (BUILD/compile_commands.json) less the x86 ones; the third-party
headers are the host's (the same on every architecture for what the runtime includes). Objects
only: linking needs the target's libraries. Usage:
    tools/cross_compile_check.py BUILD [--compiler aarch64-linux-gnu-g++] [--jobs N]
Exit 0 when every source compiles (warnings are errors, as in the build), 1 when one does not
(its errors printed), 2 when the compiler or the compile database is missing.
"""
import argparse
import concurrent.futures
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

# Sources compiled only for x86-64, with their level's instructions (runtime/CMakeLists.txt).
LEVEL_FILES = ("kernels_avx2.cpp", "mxfp4_kernels_avx2.cpp", "gemm_avx2.cpp",
               "kernels_avx512bf16.cpp", "mxfp4_kernels_avx512bf16.cpp")
X86_FLAGS = ("-march", "-mtune", "-mavx", "-mfma", "-mf16c")


def cross_command(entry, compiler, obj):
    """The host compile command of `entry` for `compiler`, writing `obj`."""
    args = shlex.split(entry["command"]) if "command" in entry else list(entry["arguments"])
    out, skip = [compiler], False
    for a in args[1:]:
        if skip:
            skip = False
        elif a == "-o":
            skip = True
        elif a != "-c" and not a.startswith(X86_FLAGS):
            out.append(a)
    return out + ["-c", "-o", obj]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build", help="a configured host build folder (compile_commands.json)")
    ap.add_argument("--compiler", default="aarch64-linux-gnu-g++")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()
    db = os.path.join(a.build, "compile_commands.json")
    if not os.path.isfile(db):
        print("cross_compile_check: %s: no compile database (configure the build first)" % db,
              file=sys.stderr)
        return 2
    if not shutil.which(a.compiler):
        print("cross_compile_check: %s not found (apt-get install g++-aarch64-linux-gnu)"
              % a.compiler, file=sys.stderr)
        return 2
    with open(db) as f:
        entries = [e for e in json.load(f)
                   if "/runtime/" in e["file"] and "/cuda/" not in e["file"]
                   and not e["file"].endswith(LEVEL_FILES)]
    with tempfile.TemporaryDirectory() as tmp:
        def compile_one(i_entry):
            i, e = i_entry
            cmd = cross_command(e, a.compiler, os.path.join(tmp, "%d.o" % i))
            r = subprocess.run(cmd, cwd=e["directory"], capture_output=True, text=True)
            return e["file"], r.returncode, r.stderr
        with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
            results = list(pool.map(compile_one, enumerate(entries)))
    failed = [(f, err) for f, rc, err in results if rc]
    for f, err in failed:
        print("FAIL %s\n%s" % (f, err))
    print("cross_compile_check: %d of %d runtime sources compile for %s"
          % (len(results) - len(failed), len(results), a.compiler))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
