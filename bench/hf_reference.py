#!/usr/bin/env python3
"""hf_reference: CPU throughput of Hugging Face transformers on a checkpoint directory, the reference
figures that moe-sweep's CPU benchmarks are compared with.

Loads CHECKPOINT (config.json + *.safetensors, local files only, no network) with transformers on
CPU in bf16 (GPT-OSS MXFP4 experts are dequantised on load, as transformers does on CPU), with
torch using every core of this machine unless --threads says otherwise, and measures
  prefill: one forward pass over --prefill-seqs sequences of --prefill-len random token ids
           (no padding), computing logits for the last position only, as generation does; one
           untimed pass of the same batch comes first (as in bench/runtime_bench.cpp);
  decode:  for each batch size in --decode-batches, --decode-steps greedy steps through the KV
           cache (one token per sequence per step, no stop on eos) after an untimed prefill of
           --decode-prompt-len tokens; the first --warmup steps are not timed.
Prints one JSON object: the figures (tokens per second, seconds) and every setting.

Usage:  python3 bench/hf_reference.py /path/to/checkpoint [--threads N] [--decode-steps 32] ...
Needs torch and transformers (the pip environment). Token ids are seeded (--seed), so two runs
process the same inputs. Measure on an otherwise idle machine: torch's OpenMP threads slow down by
an order of magnitude when other processes already occupy the cores.
"""
from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402


def machine_cores() -> int:
    """CPUs this process may run on (respects affinity masks and cpusets)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", type=Path, help="directory with config.json and *.safetensors")
    ap.add_argument("--dtype", choices=["bf16", "f32"], default="bf16")
    ap.add_argument("--threads", type=int, default=machine_cores(),
                    help="torch intra-op threads (default: the cores this process may use)")
    ap.add_argument("--prefill-seqs", type=int, default=8)
    ap.add_argument("--prefill-len", type=int, default=512)
    ap.add_argument("--decode-batches", default="1,16", help="comma-separated batch sizes")
    ap.add_argument("--decode-steps", type=int, default=32, help="timed greedy steps per batch")
    ap.add_argument("--decode-prompt-len", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=2, help="untimed decode steps before timing")
    ap.add_argument("--repeats", type=int, default=1,
                    help="timed repetitions of each measurement; the median is reported")
    ap.add_argument("--attn-implementation", default=None,
                    help="transformers attn_implementation (default: transformers' choice)")
    ap.add_argument("--experts-implementation", default=None,
                    help="transformers experts_implementation (default: transformers' choice)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        args.decode_batches = [int(b) for b in args.decode_batches.split(",") if b]
    except ValueError:
        ap.error(f"--decode-batches: expected comma-separated integers, found '{args.decode_batches}'")
    for name in ("threads", "prefill_seqs", "prefill_len", "decode_steps", "decode_prompt_len",
                 "repeats"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')}: expected a positive integer")
    if not args.decode_batches or min(args.decode_batches) < 1:
        ap.error("--decode-batches: expected positive batch sizes")
    if not (args.checkpoint / "config.json").is_file():
        ap.error(f"{args.checkpoint / 'config.json'}: not found (expected a checkpoint directory)")
    return args


def load_model(args):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(args.checkpoint, local_files_only=True)
    kwargs = dict(dtype={"bf16": torch.bfloat16, "f32": torch.float32}[args.dtype],
                  local_files_only=True)
    if args.attn_implementation:
        kwargs["attn_implementation"] = args.attn_implementation
    if args.experts_implementation:
        kwargs["experts_implementation"] = args.experts_implementation
    quant = getattr(config, "quantization_config", None) or {}
    if isinstance(quant, dict) and quant.get("quant_method") == "mxfp4":
        from transformers import Mxfp4Config
        kwargs["quantization_config"] = Mxfp4Config(dequantize=True)
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(args.checkpoint, **kwargs)
    model.eval()
    return model, time.perf_counter() - t0


def random_ids(gen, vocab: int, batch: int, length: int):
    import torch
    return torch.randint(0, vocab, (batch, length), generator=gen)


def time_prefill(model, ids) -> float:
    import torch
    with torch.inference_mode():
        t0 = time.perf_counter()
        model(input_ids=ids, use_cache=False, logits_to_keep=1)
        return time.perf_counter() - t0


def time_decode(model, prompt, steps: int, warmup: int) -> float:
    """Prefills `prompt` [B, P] (untimed), then runs warmup + steps greedy steps through the cache;
    returns the seconds of the timed steps."""
    import torch
    from transformers import DynamicCache

    with torch.inference_mode():
        cache = DynamicCache(config=model.config)
        out = model(input_ids=prompt, past_key_values=cache, use_cache=True, logits_to_keep=1)
        cache = out.past_key_values
        nxt = out.logits[:, -1].argmax(-1, keepdim=True)
        t0 = None
        for step in range(warmup + steps):
            if step == warmup:
                t0 = time.perf_counter()
            out = model(input_ids=nxt, past_key_values=cache, use_cache=True)
            cache = out.past_key_values
            nxt = out.logits[:, -1].argmax(-1, keepdim=True)
        return time.perf_counter() - t0


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch
    import transformers

    torch.set_num_threads(args.threads)
    model, load_s = load_model(args)
    cfg = model.config
    vocab = cfg.vocab_size
    gen = torch.Generator().manual_seed(args.seed)

    # An untimed pass of the prefill batch so that one-time initialisation is not timed.
    prefill_ids = random_ids(gen, vocab, args.prefill_seqs, args.prefill_len)
    time_prefill(model, prefill_ids)
    prefill_s = statistics.median(time_prefill(model, prefill_ids) for _ in range(args.repeats))
    prefill_tokens = args.prefill_seqs * args.prefill_len

    decode = []
    for batch in args.decode_batches:
        prompt = random_ids(gen, vocab, batch, args.decode_prompt_len)
        secs = statistics.median(time_decode(model, prompt, args.decode_steps, args.warmup)
                                 for _ in range(args.repeats))
        decode.append({"batch": batch, "prompt_len": args.decode_prompt_len,
                       "steps": args.decode_steps, "warmup_steps": args.warmup,
                       "seconds": secs, "tokens_per_s": batch * args.decode_steps / secs})

    result = {
        "tool": "bench/hf_reference.py",
        "checkpoint": str(args.checkpoint.resolve()),
        "model_type": cfg.model_type,
        "architecture": type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "dtype": args.dtype,
        "threads": torch.get_num_threads(),
        "machine_cores": machine_cores(),
        "cpu": cpu_model(),
        "attn_implementation": cfg._attn_implementation,
        "experts_implementation": getattr(cfg, "_experts_implementation", None),
        "torch_version": torch.__version__,
        "transformers_version": transformers.__version__,
        "seed": args.seed,
        "repeats": args.repeats,
        "load_seconds": load_s,
        "prefill": {"seqs": args.prefill_seqs, "len": args.prefill_len, "logits": "last position",
                    "seconds": prefill_s, "tokens_per_s": prefill_tokens / prefill_s},
        "decode": decode,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
