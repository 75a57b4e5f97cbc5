#!/usr/bin/env python3
"""Fails where an instruction of a CPU level appears outside that level's kernel files.

moe-sweep's code is compiled for the baseline (x86-64-v2); only the level files of
runtime/backend/cpu (kernels.h) are compiled with AVX2, AVX-512, AVX512-BF16 or AMX, and their
functions live in the namespaces moe::cpu::avx2, moe::cpu::avx512bf16 and moe::cpu::amx. An
inline function or template instantiated in a level file can still be emitted there as a weak
symbol that the linker then picks for the whole program, and a static initialiser of a level
file runs at start-up on every CPU; both would execute the level's instructions without
dispatch. This reads `objdump -d` of the given binaries and attributes every instruction to its
function:
  - a function outside moe::cpu::avx512bf16 and moe::cpu::amx may not use AVX-512 (zmm
    registers, mask registers, registers 16-31, embedded broadcasts), AVX512-BF16 or AMX;
  - outside moe::cpu::amx, no AMX;
  - moe-sweep's own functions (moe::...) outside the level namespaces may not use AVX/AVX2
    either (VEX-encoded instructions, ymm registers): they must run on the baseline.
Functions of other libraries linked statically are held to the first two rules only: they may
dispatch AVX2 at run time themselves.
It reads optimised builds: at -O0 compilers may emit a level file's intrinsics as out-of-line
functions of that file named for the intrinsic (_mm512_add_ps), which it cannot attribute.
As a self-check it also requires that each level namespace is present and uses its level's
instructions, so that a change in objdump's output cannot make the check pass vacuously.

Usage: check_disassembly.py BINARY...   (exit 0: clean; 1: violations, listed; 2: cannot check)
"""
import re
import subprocess
import sys

LEVEL_NS = {"avx2": "moe::cpu::avx2::", "avx512bf16": "moe::cpu::avx512bf16::",
            "amx": "moe::cpu::amx::"}
FUNC = re.compile(r"^[0-9a-f]+ <(.+)>:$")
INSN = re.compile(r"^\s+[0-9a-f]+:\s+(\S+)\s*(.*)$")
AVX512_OPERAND = re.compile(r"%zmm|%k[0-7]\b|\{%k|%[xy]mm(1[6-9]|2[0-9]|3[01])\b|\{1to\d+\}")
BF16 = {"vdpbf16ps", "vcvtneps2bf16", "vcvtne2ps2bf16"}
# AMX: tile loads, stores and products, and the tile configuration.
AMX = re.compile(r"^(tile\w+|tdp\w+|ldtilecfg|sttilecfg)$")
# VEX/EVEX encodings: mnemonics with the v prefix (vmovaps, vfmadd231ps, vzeroupper, ...).
VEX = re.compile(r"^v[a-z]")


def classes(mnemonic, operands):
    c = set()
    if AMX.match(mnemonic):
        c.add("amx")
    if mnemonic in BF16:
        c.add("avx512_bf16")
    if AVX512_OPERAND.search(operands):
        c.add("avx512")
    if VEX.match(mnemonic) or "%ymm" in operands:
        c.add("avx")
    return c


def qualified_name(function):
    """The function's qualified name from objdump's demangled symbol: without the argument list
    and without the return type that templates' symbols carry ("void ns::f<2>(int)" ->
    "ns::f<2>")."""
    name = function.replace("(anonymous namespace)", "{anonymous}")
    name = name.split("(", 1)[0]
    depth, start = 0, 0
    for i, ch in enumerate(name):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == " " and depth == 0:
            start = i + 1
    return name[start:]


def allowed(function):
    function = qualified_name(function)
    if function.startswith(LEVEL_NS["amx"]):
        return {"amx", "avx512_bf16", "avx512", "avx"}, "amx"
    if function.startswith(LEVEL_NS["avx512bf16"]):
        return {"avx512_bf16", "avx512", "avx"}, "avx512bf16"
    if function.startswith(LEVEL_NS["avx2"]):
        return {"avx"}, "avx2"
    if function.startswith("moe::"):
        return set(), None
    return {"avx"}, None  # another library's code: may dispatch AVX2 itself


def check(binary):
    proc = subprocess.run(["objdump", "-d", "-C", "--no-show-raw-insn", binary],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"{binary}: objdump failed: {proc.stderr.strip()}")
        sys.exit(2)
    violations = {}  # function -> (classes, first instruction)
    seen = {"avx2": set(), "avx512bf16": set(), "amx": set()}  # classes used per level
    functions = 0
    func, ok, level = None, set(), None
    for line in proc.stdout.splitlines():
        m = FUNC.match(line)
        if m:
            func = m.group(1)
            ok, level = allowed(func)
            functions += 1
            continue
        m = INSN.match(line)
        if not m or func is None:
            continue
        used = classes(m.group(1), m.group(2))
        if level:
            seen[level] |= used
        bad = used - ok
        if bad and func not in violations:
            violations[func] = (sorted(bad), line.strip())
    return functions, violations, seen


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    failed = False
    for binary in sys.argv[1:]:
        functions, violations, seen = check(binary)
        expect = {"avx2": "avx", "avx512bf16": "avx512_bf16", "amx": "amx"}
        missing = [lvl for lvl, c in expect.items() if c not in seen[lvl]]
        if functions < 100 or missing:
            print(f"{binary}: cannot check: {functions} functions read; level namespaces "
                  f"without their instructions: {missing or 'none'}")
            return 2
        for func, (bad, insn) in sorted(violations.items()):
            print(f"{binary}: {func} uses {', '.join(bad)} outside its level's files: {insn}")
        failed |= bool(violations)
        print(f"{binary}: {functions} functions, {len(violations)} with instructions above "
              f"their level")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
