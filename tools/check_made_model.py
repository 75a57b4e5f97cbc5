#!/usr/bin/env python3
"""check_made_model: checkpoints written by `moe-sweep make-model` against Hugging Face transformers.

For each family it makes a small f32 checkpoint, loads it with transformers (which must report no
missing, unexpected or mismatched tensors, and load the tokenizer), runs a prompt through it, runs
the same prompt through `moe-sweep trace --backend cpu-ref`, and compares the final logits.
Prints one line per family and exits non-zero when any check fails.
Tolerance: 1e-5 absolute on the logits (f32 both sides; only summation order differs).

Usage:  python3 tools/check_made_model.py [--cli build/bin/moe-sweep] [--family gpt_oss ...]
Needs torch, transformers, h5py, numpy, and accelerate for gpt_oss (transformers loads its MXFP4
experts only with it): `pip install torch transformers accelerate h5py numpy` (not CI's
environment).
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

FAMILIES = ["qwen3_moe", "olmoe", "gpt_oss", "phimoe"]
PROMPT = [5, 17, 300, 42, 9, 511, 77, 1000, 3, 64]
TOLERANCE = 1e-5


def check(cli, family, work):
    model = work / family
    subprocess.run([cli, "make-model", str(model), "--family", family, "--dtype", "f32",
                    "--seed", "3"], check=True, capture_output=True)
    hf, info = AutoModelForCausalLM.from_pretrained(
        model, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    problems = [f"{k}: {v}" for k, v in info.items() if v]
    AutoTokenizer.from_pretrained(model)
    with torch.no_grad():
        want = hf.eval()(torch.tensor([PROMPT])).logits[0].numpy()
    prompts, trace = work / f"{family}.jsonl", work / f"{family}.h5"
    prompts.write_text(json.dumps({"ids": PROMPT}) + "\n")
    # transformers' LongRoPE semantics for phimoe (the prompt is shorter than the original
    # context anyway, where both modes agree).
    subprocess.run([cli, "trace", str(model), "--prompts", str(prompts), "--out", str(trace),
                    "--backend", "cpu-ref", "--longrope", "transformers"], check=True,
                   capture_output=True)
    with h5py.File(trace) as f:
        got = f["prompt_0000/logits"][()]
    diff = float(np.abs(got - want).max()) if got.shape == want.shape else float("inf")
    if diff > TOLERANCE:
        problems.append(f"logits differ by {diff:.3g} (shapes {got.shape} / {want.shape})")
    status = "ok  " if not problems else "FAIL"
    print(f"{status} {family:10s} {type(hf).__name__}: logits {got.shape}, max |diff| {diff:.2e}"
          + "".join("; " + p for p in problems))
    return not problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default="build/bin/moe-sweep")
    ap.add_argument("--family", action="append", choices=FAMILIES)
    args = ap.parse_args()
    families = args.family or FAMILIES
    if "gpt_oss" in families:
        try:
            import accelerate  # noqa: F401  (transformers' MXFP4 loader needs it)
        except ImportError:
            sys.exit("check_made_model: gpt_oss needs the pip package accelerate (transformers "
                     "loads MXFP4 experts only with it): pip install accelerate, or leave it out "
                     "with --family for the others")
    with tempfile.TemporaryDirectory(prefix="moe_made_") as work:
        ok = [check(args.cli, f, Path(work)) for f in families]
    sys.exit(0 if all(ok) else 1)


if __name__ == "__main__":
    main()
