#!/usr/bin/env python3
"""Derives config fixtures from the hand-written published-style configs in tests/data/configs/<m>/
with transformers (the reference), for tests/unit/io/model_config_test.cpp:

  tests/data/configs/<m>/expected.json  what transformers makes of the config: head_dim, experts,
      top-k, which layers are MoE (the modeling files' rule), sliding window per layer, the
      standardized RoPE parameters and the RoPE attention scaling transformers computes.
  tests/data/configs/<m>-tf5/config.json  the same config saved by transformers 5 (its spelling:
      rope_parameters, num_local_experts, ...), to check both spellings parse the same.

Usage: python3 tools/make_config_fixtures.py   (needs transformers >= 5 and torch)
"""
import json
import os
import shutil
import tempfile

import transformers
from transformers import AutoConfig
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "configs")
MODELS = ["qwen3-30b-a3b", "olmoe-1b-7b", "gpt-oss-20b", "phi-3.5-moe"]


def moe_layers(c):
    n = c.num_hidden_layers
    if c.model_type == "qwen3_moe":  # Qwen3MoeDecoderLayer
        return [(i not in c.mlp_only_layers) and c.num_experts > 0 and
                (i + 1) % c.decoder_sparse_step == 0 for i in range(n)]
    return [True] * n


def sliding(c):
    n = c.num_hidden_layers
    if c.model_type == "gpt_oss":  # GptOssAttention
        return [c.sliding_window if t == "sliding_attention" else 0 for t in c.layer_types]
    if c.model_type in ("qwen3_moe", "phimoe"):
        return [getattr(c, "sliding_window", None) or 0] * n
    return [0] * n


def expected(c):
    head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
    rp = dict(c.rope_parameters)
    rope_type = rp.get("rope_type", "default")
    attention_scaling = 1.0
    if rope_type != "default":
        _, attention_scaling = ROPE_INIT_FUNCTIONS[rope_type](c, "cpu")
    experts = getattr(c, "num_local_experts", None) or getattr(c, "num_experts")
    return {
        "model_type": c.model_type,
        "num_hidden_layers": c.num_hidden_layers,
        "hidden_size": c.hidden_size,
        "num_attention_heads": c.num_attention_heads,
        "num_key_value_heads": c.num_key_value_heads,
        "head_dim": head_dim,
        "vocab_size": c.vocab_size,
        "num_experts": experts,
        "num_experts_per_tok": c.num_experts_per_tok,
        "moe_layer": moe_layers(c),
        "sliding_window": sliding(c),
        "rms_norm_eps": c.rms_norm_eps,
        "max_position_embeddings": c.max_position_embeddings,
        "attention_bias": bool(getattr(c, "attention_bias", False)),
        "tie_word_embeddings": bool(c.tie_word_embeddings),
        "norm_topk_prob": bool(getattr(c, "norm_topk_prob", False)),
        "rope_type": rope_type,
        "rope_theta": rp["rope_theta"],
        "rope_parameters": rp,
        "rope_attention_scaling": float(attention_scaling),
    }


def main():
    for m in MODELS:
        src = os.path.join(ROOT, m)
        c = AutoConfig.from_pretrained(src)
        with open(os.path.join(src, "expected.json"), "w") as f:
            json.dump(expected(c), f, indent=2, sort_keys=True)
            f.write("\n")
        out = os.path.join(ROOT, m + "-tf5")
        os.makedirs(out, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            c.save_pretrained(tmp)
            shutil.copy(os.path.join(tmp, "config.json"), os.path.join(out, "config.json"))
        print(m, "->", os.path.relpath(out), "transformers", transformers.__version__)


if __name__ == "__main__":
    main()
