#!/usr/bin/env python3
"""check_golden: verifies that the committed golden fixtures still match tools/make_golden.py and
Hugging Face transformers.

For each fixture directory under tests/golden it
  1. rebuilds the checkpoint with make_golden in a temporary directory and compares it with the
     committed files (config.json and generation_config.json as JSON without transformers_version,
     model.safetensors byte for byte): a difference means the script changed without the fixtures
     being regenerated;
  2. reloads the committed checkpoint with the installed transformers, reruns every prompt and
     compares with expected.h5: input ids and greedy tokens exactly, selected experts exactly
     except where the recorded router logits have a near-tie (gap < 1e-6 f32, < 1e-2 bf16), router
     logits / routing weights / logits / greedy logits / greedy-step router logits within the
     tolerances below.

Not run by CI (CI has no torch); run it after upgrading transformers or editing make_golden.py:
    python3 tools/check_golden.py [--dir tests/golden] [--case NAME ...]
Exit status 0 when every case matches; 1 otherwise, with one line per problem.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_golden as mg  # noqa: E402

# Absolute tolerances for values recomputed on another machine or version (same code: 0 difference).
TOLERANCE = {"f32": 1e-4, "bf16": 6.25e-2}
TIE_GAP = {"f32": 1e-6, "bf16": 1e-2}


def compare_checkpoint(case: mg.Case, fixture: Path) -> list:
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        mg.write_checkpoint(mg.FAMILIES[case.family](case.seed), case, fresh)
        for name in ("config.json", "generation_config.json"):
            a = json.loads((fixture / name).read_text())
            b = json.loads((fresh / name).read_text())
            a.pop("transformers_version", None)
            b.pop("transformers_version", None)
            if a != b:
                keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
                problems.append(f"{fixture / name}: differs from make_golden's output in keys {keys}")
        if (fixture / "model.safetensors").read_bytes() != (fresh / "model.safetensors").read_bytes():
            problems.append(f"{fixture / 'model.safetensors'}: differs from make_golden's output")
    return problems


def compare_outputs(case: mg.Case, fixture: Path) -> tuple:
    import h5py
    import torch

    torch.set_num_threads(1)
    model = mg.FAMILIES[case.family](case.seed)
    ref = mg.load_reference(case, fixture)
    problems, worst = [], {}
    tol, tie_gap = TOLERANCE[case.dtype], TIE_GAP[case.dtype]
    with h5py.File(fixture / "expected.h5", "r") as f:
        prompts = [f[g]["input_ids"][()].astype(np.int64) for g in sorted(f) if g.startswith("prompt_")]
        steps = len(f["prompt_0000"]["greedy_tokens"])
        results = mg.run_reference(ref, model.moe_layers, prompts, steps)

        def close(what, want, got):
            d = float(np.max(np.abs(want - got))) if want.size else 0.0
            worst[what] = max(worst.get(what, 0.0), d)

        for n, r in enumerate(results):
            g = f[f"prompt_{n:04d}"]
            for i, (logits, experts, weights) in r["layers"].items():
                lg = g[f"layer_{i:02d}"]
                want_logits = lg["router_logits"][()]
                close("router_logits", want_logits, logits)
                srt = -np.sort(-want_logits.astype(np.float64), axis=-1)
                k = experts.shape[1]
                tie = np.any(np.abs(np.diff(srt[:, :k + 1], axis=-1)) < tie_gap, axis=-1)
                bad = np.any(lg["selected_experts"][()] != experts, axis=-1) & ~tie
                if bad.any():
                    problems.append(f"{fixture.name} prompt {n} layer {i}: selected experts differ "
                                    f"at tokens {np.nonzero(bad)[0].tolist()}")
                ok = ~tie
                close("routing_weights", lg["routing_weights"][()][ok], weights[ok])
                close("greedy_router_logits", lg["greedy_router_logits"][()],
                      r["greedy_router_logits"][i])
            close("logits", g["logits"][()], r["logits"])
            close("greedy_logits", g["greedy_logits"][()], r["greedy_logits"])
            if not np.array_equal(g["greedy_tokens"][()], r["greedy_tokens"]):
                problems.append(f"{fixture.name} prompt {n}: greedy tokens "
                                f"{r['greedy_tokens'].tolist()} != {g['greedy_tokens'][()].tolist()}")
        problems += [f"{fixture.name} {what}: max |diff| {d:.3g} > {tol}"
                     for what, d in worst.items() if d > tol]
        recorded = json.loads(f.attrs["config_json"])
        if recorded != model.config:
            problems.append(f"{fixture.name}: expected.h5's config_json differs from make_golden's")
    return problems, worst


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=mg.REPO / "tests" / "golden")
    ap.add_argument("--case", action="append", choices=[c.name for c in mg.CASES])
    args = ap.parse_args(argv)
    failed = False
    for case in mg.CASES:
        if args.case and case.name not in args.case:
            continue
        fixture = args.dir / case.name
        if not fixture.is_dir():
            print(f"{fixture}: missing")
            failed = True
            continue
        problems = compare_checkpoint(case, fixture)
        more, worst = compare_outputs(case, fixture)
        problems += more
        for p in problems:
            print(p)
        failed |= bool(problems)
        print(json.dumps({"case": case.name, "ok": not problems,
                          "max_abs_diff": {k: float(f"{v:.3g}") for k, v in worst.items()}}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
