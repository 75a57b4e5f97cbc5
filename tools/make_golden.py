#!/usr/bin/env python3
"""make_golden: golden fixtures for the four MoE families, computed by Hugging Face transformers.

For every case (family x dtype) this script
  1. builds a tiny random checkpoint with the family's exact module structure, seeded, and writes it
     in the PUBLISHED layout (config.json with the published key names, model.safetensors with the
     published per-expert / MXFP4 tensor names, generation_config.json);
  2. reloads that directory with transformers (proving the published layout loads), checks that
     every parameter transformers holds equals what the files say (expert fusion, renames, and for
     GPT-OSS an independent numpy MXFP4 dequantiser), failing loudly on any difference;
  3. runs each prompt unpadded, batch 1, and records what the routers saw and chose (forward hooks
     on the router modules, cross-checked against output_router_logits), the final logits and a
     greedy continuation through the KV cache;
  4. writes expected.h5 in the routing-trace layout (results/SCHEMA.md, tests/golden/README.md).

Usage:  python3 tools/make_golden.py [--out tests/golden] [--case qwen3_moe_f32 ...]
Needs torch, transformers, safetensors, h5py, numpy (the pip environment, not CI's).
Deterministic: the same versions give byte-identical checkpoints and identical expected values.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
GREEDY_STEPS = 8

# FP4 E2M1 values by nibble (runtime/models/README.md section 3).
MXFP4_LUT = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0,
                      -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0], dtype=np.float32)


@dataclasses.dataclass
class Model:
    """A family's random checkpoint in its published layout, before any dtype is chosen."""
    family: str
    config: dict              # config.json contents (published key names)
    generation_config: dict   # generation_config.json contents
    tensors: dict             # published name -> np.ndarray (float32, or uint8 for MXFP4)
    moe_layers: list          # decoder layer indices that have an MoE block
    prompts: list             # list of np.int64 arrays of token ids
    notes: str                # what the case exercises (README / root attribute)


@dataclasses.dataclass
class Case:
    name: str                 # directory name, e.g. "qwen3_moe_bf16"
    family: str
    dtype: str                # "f32" or "bf16"
    seed: int


CASES = [
    Case("qwen3_moe_f32", "qwen3_moe", "f32", 1001),
    Case("qwen3_moe_bf16", "qwen3_moe", "bf16", 1001),
    Case("olmoe_f32", "olmoe", "f32", 2002),
    Case("olmoe_bf16", "olmoe", "bf16", 2002),
    Case("gpt_oss_f32", "gpt_oss", "f32", 3003),
    Case("gpt_oss_bf16", "gpt_oss", "bf16", 3003),
    Case("phimoe_f32", "phimoe", "f32", 4004),
    Case("phimoe_bf16", "phimoe", "bf16", 4004),
]


# ---------------------------------------------------------------------------------------------
# Random weights. Every float tensor is rounded to bf16 once, so the f32 and bf16 cases of a family
# hold the same values (the f32 case is the bf16 model computed in f32).

class Init:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def linear(self, out_f: int, in_f: int, gain: float = 1.0) -> np.ndarray:  # [out, in]
        return self.rng.standard_normal((out_f, in_f)) * (gain / math.sqrt(in_f))

    def vector(self, n: int, scale: float, center: float = 0.0) -> np.ndarray:
        return center + scale * self.rng.standard_normal(n)

    def prompts(self, lengths, vocab: int) -> list:
        return [self.rng.integers(0, vocab, size=n, dtype=np.int64) for n in lengths]


def round_bf16(a: np.ndarray) -> np.ndarray:
    """float -> nearest bf16 (round to nearest even) -> float32."""
    import torch
    return torch.from_numpy(np.asarray(a, dtype=np.float32)).to(torch.bfloat16).to(torch.float32).numpy()


def attention_tensors(init: Init, p: str, hidden: int, heads: int, kv: int, head_dim: int,
                      bias: bool) -> dict:
    t = {
        p + "self_attn.q_proj.weight": init.linear(heads * head_dim, hidden),
        p + "self_attn.k_proj.weight": init.linear(kv * head_dim, hidden),
        p + "self_attn.v_proj.weight": init.linear(kv * head_dim, hidden),
        p + "self_attn.o_proj.weight": init.linear(hidden, heads * head_dim),
    }
    if bias:
        t[p + "self_attn.q_proj.bias"] = init.vector(heads * head_dim, 0.2)
        t[p + "self_attn.k_proj.bias"] = init.vector(kv * head_dim, 0.2)
        t[p + "self_attn.v_proj.bias"] = init.vector(kv * head_dim, 0.2)
        t[p + "self_attn.o_proj.bias"] = init.vector(hidden, 0.2)
    return t


def norm_tensors(init: Init, names: list, hidden: int, layer_norm: bool) -> dict:
    """RMSNorm weights, or LayerNorm weights and biases, near 1 and 0."""
    t = {}
    for name in names:
        t[name + ".weight"] = init.vector(hidden, 0.1, 1.0)
        if layer_norm:
            t[name + ".bias"] = init.vector(hidden, 0.1)
    return t


def swiglu_tensors(init: Init, p: str, names: tuple, hidden: int, inter: int) -> dict:
    gate, up, down = names
    return {
        p + gate: init.linear(inter, hidden),
        p + up: init.linear(inter, hidden),
        p + down: init.linear(hidden, inter),
    }


def shared_config(arch: str, model_type: str, hidden: int, layers: int, heads: int, kv: int,
                  top_k: int, vocab: int) -> dict:
    """config.json keys every family's published file has, with the same meaning."""
    return {
        "architectures": [arch], "model_type": model_type, "attention_dropout": 0.0,
        "hidden_act": "silu", "hidden_size": hidden, "initializer_range": 0.02,
        "num_attention_heads": heads, "num_hidden_layers": layers, "num_key_value_heads": kv,
        "num_experts_per_tok": top_k, "output_router_logits": False, "tie_word_embeddings": False,
        "use_cache": True, "vocab_size": vocab,
    }


def layer_tensors(init: Init, layer: int, cfg: dict, head_dim: int, bias: bool,
                  layer_norm: bool = False) -> tuple:
    """(prefix, attention + norm tensors) of decoder layer `layer`."""
    p = f"model.layers.{layer}."
    H = cfg["hidden_size"]
    t = attention_tensors(init, p, H, cfg["num_attention_heads"], cfg["num_key_value_heads"],
                          head_dim, bias)
    t.update(norm_tensors(init, [p + "input_layernorm", p + "post_attention_layernorm"], H,
                          layer_norm))
    return p, t


def outer_tensors(init: Init, cfg: dict, layer_norm: bool = False, lm_head_bias: bool = False,
                  embedding_only: bool = False) -> dict:
    """Embedding (embedding_only) or final norm and lm_head."""
    H, V = cfg["hidden_size"], cfg["vocab_size"]
    if embedding_only:
        return {"model.embed_tokens.weight": init.rng.standard_normal((V, H))}
    t = norm_tensors(init, ["model.norm"], H, layer_norm)
    t["lm_head.weight"] = init.linear(V, H, gain=2.0)
    if lm_head_bias:
        t["lm_head.bias"] = init.vector(V, 0.2)
    return t


# ---------------------------------------------------------------------------------------------
# The four families. Config keys follow the published config.json files (Qwen3-30B-A3B,
# OLMoE-1B-7B-0125-Instruct, gpt-oss-20b, Phi-3.5-MoE-instruct), shrunk.

def make_qwen3_moe(seed: int) -> Model:
    init = Init(seed)
    H, heads, kv, hd, E, k, I, Idense, L, V = 64, 4, 2, 24, 16, 4, 16, 64, 4, 512
    mlp_only, sparse_step = [1], 1
    config = shared_config("Qwen3MoeForCausalLM", "qwen3_moe", H, L, heads, kv, k, V) | {
        "attention_bias": False, "bos_token_id": 509, "decoder_sparse_step": sparse_step,
        "eos_token_id": 511, "head_dim": hd, "intermediate_size": Idense,
        "max_position_embeddings": 512, "max_window_layers": L, "mlp_only_layers": mlp_only,
        "moe_intermediate_size": I, "norm_topk_prob": True, "num_experts": E,
        "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000.0,
        "router_aux_loss_coef": 0.001, "sliding_window": None, "use_sliding_window": False,
    }
    t = outer_tensors(init, config, embedding_only=True)
    moe_layers = []
    names = ("gate_proj.weight", "up_proj.weight", "down_proj.weight")
    for i in range(L):
        p, lt = layer_tensors(init, i, config, hd, bias=False)
        t.update(lt)
        t.update(norm_tensors(init, [p + "self_attn.q_norm", p + "self_attn.k_norm"], hd, False))
        if i in mlp_only or (i + 1) % sparse_step != 0:
            t.update(swiglu_tensors(init, p + "mlp.", names, H, Idense))
            continue
        moe_layers.append(i)
        t[p + "mlp.gate.weight"] = init.linear(E, H, gain=2.0)
        for e in range(E):
            t.update(swiglu_tensors(init, f"{p}mlp.experts.{e}.", names, H, I))
    t.update(outer_tensors(init, config))
    gen = {"bos_token_id": 509, "eos_token_id": [511, 509], "pad_token_id": 509,
           "do_sample": True, "temperature": 0.6, "top_k": 20, "top_p": 0.95}
    return Model("qwen3_moe", config, gen, t, moe_layers, init.prompts([3, 9, 20, 33], V),
                 "GQA 4/2 with explicit head_dim 24 (4*24 != hidden 64), per-head q/k RMSNorm, "
                 "rope_theta 1e6, norm_topk_prob true, layer 1 dense (mlp_only_layers [1])")


def make_olmoe(seed: int) -> Model:
    init = Init(seed)
    H, heads, E, k, I, L, V = 64, 4, 16, 4, 16, 3, 512
    hd = H // heads
    config = shared_config("OlmoeForCausalLM", "olmoe", H, L, heads, heads, k, V) | {
        "attention_bias": False, "clip_qkv": None, "eos_token_id": 510, "intermediate_size": I,
        "max_position_embeddings": 512, "norm_topk_prob": False, "num_experts": E,
        "pad_token_id": 1, "rms_norm_eps": 1e-05, "rope_scaling": None, "rope_theta": 10000.0,
        "router_aux_loss_coef": 0.01,
    }
    t = outer_tensors(init, config, embedding_only=True)
    names = ("gate_proj.weight", "up_proj.weight", "down_proj.weight")
    for i in range(L):
        p, lt = layer_tensors(init, i, config, hd, bias=False)
        t.update(lt)
        t.update(norm_tensors(init, [p + "self_attn.q_norm", p + "self_attn.k_norm"], H, False))
        t[p + "mlp.gate.weight"] = init.linear(E, H, gain=2.0)
        for e in range(E):
            t.update(swiglu_tensors(init, f"{p}mlp.experts.{e}.", names, H, I))
    t.update(outer_tensors(init, config))
    gen = {"eos_token_id": 510, "pad_token_id": 1}
    return Model("olmoe", config, gen, t, list(range(L)), init.prompts([3, 9, 20, 33], V),
                 "MHA, q_norm/k_norm over the whole projected vector, norm_topk_prob false "
                 "(routing weights are raw softmax probabilities), clip_qkv null")


def make_gpt_oss(seed: int) -> Model:
    init = Init(seed)
    H, heads, kv, hd, E, k, I, L, V, W = 64, 4, 2, 24, 16, 4, 32, 4, 512, 8
    config = shared_config("GptOssForCausalLM", "gpt_oss", H, L, heads, kv, k, V) | {
        "attention_bias": True, "eos_token_id": 510, "experts_per_token": k, "head_dim": hd,
        "initial_context_length": 4096, "intermediate_size": I,
        "layer_types": ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(L)],
        "max_position_embeddings": 131072, "num_local_experts": E, "pad_token_id": 509,
        "quantization_config": {
            "modules_to_not_convert": ["model.layers.*.self_attn", "model.layers.*.mlp.router",
                                       "model.embed_tokens", "lm_head"],
            "quant_method": "mxfp4",
        },
        "rms_norm_eps": 1e-05,
        "rope_scaling": {"beta_fast": 32.0, "beta_slow": 1.0, "factor": 32.0,
                         "original_max_position_embeddings": 4096, "rope_type": "yarn",
                         "truncate": False},
        "rope_theta": 150000, "router_aux_loss_coef": 0.9, "sliding_window": W,
        "swiglu_limit": 7.0,
    }
    t = outer_tensors(init, config, embedding_only=True)
    for i in range(L):
        p, lt = layer_tensors(init, i, config, hd, bias=True)
        t.update(lt)
        t[p + "self_attn.sinks"] = init.vector(heads, 1.0)
        t[p + "mlp.router.weight"] = init.linear(E, H, gain=2.0)
        t[p + "mlp.router.bias"] = init.vector(E, 0.5)
        # MXFP4 experts as published: U8 blocks of 16 bytes (32 FP4 values), U8 E8M0 scales.
        # Exponents 2^-5..2^-2 for gate/up make some gate/up values pass the swiglu limit 7.
        q = p + "mlp.experts."
        t[q + "gate_up_proj_blocks"] = init.rng.integers(0, 256, (E, 2 * I, H // 32, 16), dtype=np.uint8)
        t[q + "gate_up_proj_scales"] = init.rng.integers(122, 126, (E, 2 * I, H // 32), dtype=np.uint8)
        t[q + "gate_up_proj_bias"] = init.vector(E * 2 * I, 0.5).reshape(E, 2 * I)
        t[q + "down_proj_blocks"] = init.rng.integers(0, 256, (E, H, I // 32, 16), dtype=np.uint8)
        t[q + "down_proj_scales"] = init.rng.integers(119, 123, (E, H, I // 32), dtype=np.uint8)
        t[q + "down_proj_bias"] = init.vector(E * H, 0.2).reshape(E, H)
    t.update(outer_tensors(init, config))
    gen = {"bos_token_id": 508, "eos_token_id": [510, 511], "pad_token_id": 509, "do_sample": True}
    return Model("gpt_oss", config, gen, t, list(range(L)), init.prompts([5, 12, 20, 33], V),
                 f"GQA 4/2, explicit head_dim 24, sliding window {W} on even layers (prompts of 12..33 tokens "
                 "exceed it), attention sinks, YaRN (factor 32, orig 4096, truncate false), router "
                 "bias, attention biases, MXFP4 experts (U8 blocks/scales) with bf16/f32 biases, "
                 "interleaved gate/up rows, swiglu limit 7 reached by some units")


def make_phimoe(seed: int) -> Model:
    init = Init(seed)
    H, heads, kv, E, k, I, L, V, orig = 64, 4, 2, 8, 2, 16, 3, 512, 16
    hd = H // heads
    short_factor = [round(float(x), 4) for x in 1.0 + 0.5 * init.rng.random(hd // 2)]
    long_factor = [round(float(x), 4) for x in 2.0 + 8.0 * init.rng.random(hd // 2)]
    config = shared_config("PhiMoEForCausalLM", "phimoe", H, L, heads, kv, k, V) | {
        "attention_bias": True, "bos_token_id": 1, "eos_token_id": 500, "hidden_dropout": 0.0,
        "input_jitter_noise": 0.01, "intermediate_size": I, "lm_head_bias": True,
        "max_position_embeddings": 128, "num_local_experts": E,
        "original_max_position_embeddings": orig, "rms_norm_eps": 1e-05,
        "rope_scaling": {"long_factor": long_factor, "long_mscale": 1.3,
                         "original_max_position_embeddings": orig, "short_factor": short_factor,
                         "short_mscale": 1.1, "type": "longrope"},
        "rope_theta": 10000.0, "router_aux_loss_coef": 0.0, "router_jitter_noise": 0.01,
        "sliding_window": 128,
    }
    t = outer_tensors(init, config, embedding_only=True)
    for i in range(L):
        p, lt = layer_tensors(init, i, config, hd, bias=True, layer_norm=True)
        t.update(lt)
        # A component shared by all experts' router rows offsets the logits of a token together,
        # so the sparsemixer's relative threshold keeps several experts for many tokens (w < 1).
        t[p + "block_sparse_moe.gate.weight"] = init.linear(E, H, gain=1.0) + init.linear(1, H, gain=3.0)
        for e in range(E):
            t.update(swiglu_tensors(init, f"{p}block_sparse_moe.experts.{e}.", (
                "w1.weight", "w3.weight", "w2.weight"), H, I))
    t.update(outer_tensors(init, config, layer_norm=True, lm_head_bias=True))
    gen = {"bos_token_id": 1, "eos_token_id": [500, 507]}
    return Model("phimoe", config, gen, t, list(range(L)), init.prompts([3, 11, 16, 33], V),
                 f"GQA 4/2, LayerNorm with bias, attention and lm_head biases, sparsemixer top-2 "
                 f"(eps 0.01), LongRoPE with original_max_position_embeddings {orig} (prompts of 3, "
                 f"11, 16 and 33 tokens; greedy continuations cross {orig}), distinct short/long "
                 "factors and mscales (1.1 / 1.3)")


FAMILIES = {"qwen3_moe": make_qwen3_moe, "olmoe": make_olmoe, "gpt_oss": make_gpt_oss,
            "phimoe": make_phimoe}


# ---------------------------------------------------------------------------------------------
# Writing the checkpoint.

def torch_dtype(dtype: str):
    import torch
    return {"f32": torch.float32, "bf16": torch.bfloat16}[dtype]


def write_checkpoint(model: Model, case: Case, out: Path) -> dict:
    """Writes config.json, generation_config.json, model.safetensors; returns the float tensors as
    stored (float32 copies of the on-disk values)."""
    import torch
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    config = dict(model.config)
    config["torch_dtype"] = {"f32": "float32", "bf16": "bfloat16"}[case.dtype]
    config["transformers_version"] = _transformers_version()
    (out / "config.json").write_text(json.dumps(dict(sorted(config.items())), indent=2) + "\n")
    gen = dict(model.generation_config, transformers_version=_transformers_version())
    (out / "generation_config.json").write_text(json.dumps(gen, indent=2) + "\n")

    stored, on_disk = {}, {}
    for name, a in model.tensors.items():
        if a.dtype == np.uint8:
            stored[name] = a
            on_disk[name] = torch.from_numpy(np.ascontiguousarray(a))
            continue
        a = round_bf16(a)
        stored[name] = a
        on_disk[name] = torch.from_numpy(np.ascontiguousarray(a)).to(torch_dtype(case.dtype))
    save_file(on_disk, str(out / "model.safetensors"), metadata={"format": "pt"})
    return stored


def _transformers_version() -> str:
    import transformers
    return transformers.__version__


# ---------------------------------------------------------------------------------------------
# Loading with transformers and checking that it holds what the files say.

def mxfp4_dequantize(blocks: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Independent MXFP4 decoder (runtime/models/README.md section 3): blocks [E, R, G, 16] u8,
    scales [E, R, G] u8 -> W [E, R, G*32] f32 with W[e,r,c] = LUT[nibble(c)] * 2^(scale - 127),
    low nibble first."""
    lo = MXFP4_LUT[blocks & 0x0F]
    hi = MXFP4_LUT[blocks >> 4]
    vals = np.stack([lo, hi], axis=-1).reshape(*blocks.shape[:-1], 32)  # [E, R, G, 32]
    vals = vals * np.exp2(scales.astype(np.float64) - 127.0)[..., None]
    return vals.reshape(*blocks.shape[:-2], blocks.shape[-2] * 32).astype(np.float32)


def expected_parameters(model: Model, stored: dict) -> dict:
    """What transformers' (fused) parameters must equal, computed here from the published tensors."""
    E = model.config.get("num_experts", model.config.get("num_local_experts"))
    p = {}
    consumed = set()
    for i in range(model.config["num_hidden_layers"]):
        pre = f"model.layers.{i}."
        if model.family in ("qwen3_moe", "olmoe") and i in model.moe_layers:
            names = [(f"{pre}mlp.experts.{e}.gate_proj.weight", f"{pre}mlp.experts.{e}.up_proj.weight",
                      f"{pre}mlp.experts.{e}.down_proj.weight") for e in range(E)]
            target = pre + "mlp.experts."
        elif model.family == "phimoe":
            names = [(f"{pre}block_sparse_moe.experts.{e}.w1.weight",
                      f"{pre}block_sparse_moe.experts.{e}.w3.weight",
                      f"{pre}block_sparse_moe.experts.{e}.w2.weight") for e in range(E)]
            target = pre + "mlp.experts."
            p[pre + "mlp.router.weight"] = stored[pre + "block_sparse_moe.gate.weight"]
            consumed.add(pre + "block_sparse_moe.gate.weight")
        elif model.family == "gpt_oss":
            q = pre + "mlp.experts."
            gu = mxfp4_dequantize(stored[q + "gate_up_proj_blocks"], stored[q + "gate_up_proj_scales"])
            dn = mxfp4_dequantize(stored[q + "down_proj_blocks"], stored[q + "down_proj_scales"])
            p[q + "gate_up_proj"] = gu.transpose(0, 2, 1)  # transformers holds [E, H, 2I]
            p[q + "down_proj"] = dn.transpose(0, 2, 1)     # [E, I, H]
            consumed.update(q + s for s in ("gate_up_proj_blocks", "gate_up_proj_scales",
                                            "down_proj_blocks", "down_proj_scales"))
            continue
        else:
            continue
        p[target + "gate_up_proj"] = np.stack(
            [np.concatenate([stored[g], stored[u]], axis=0) for g, u, _ in names])
        p[target + "down_proj"] = np.stack([stored[d] for _, _, d in names])
        consumed.update(n for triple in names for n in triple)
    for name, a in stored.items():
        if name not in consumed:
            p[name] = a
    return p


def load_reference(case: Case, path: Path):
    """Loads the fixture directory with transformers, eager attention and eager experts, CPU."""
    import torch
    from transformers import AutoModelForCausalLM

    kwargs = dict(dtype=torch_dtype(case.dtype), attn_implementation="eager",
                  experts_implementation="eager", output_loading_info=True)
    if case.family == "gpt_oss":
        from transformers import Mxfp4Config
        kwargs["quantization_config"] = Mxfp4Config(dequantize=True)
    model, info = AutoModelForCausalLM.from_pretrained(str(path), **kwargs)
    bad = {k: v for k, v in info.items() if v and k != "error_msgs"} | (
        {"error_msgs": info["error_msgs"]} if info.get("error_msgs") else {})
    if bad:
        raise SystemExit(f"{path}: transformers did not load the published layout cleanly: {bad}")
    model.eval()
    return model


def check_parameters(model, expected: dict, path: Path) -> None:
    import torch
    held = dict(model.named_parameters())
    missing = sorted(set(expected) - set(held))
    extra = sorted(set(held) - set(expected))
    if missing or extra:
        raise SystemExit(f"{path}: parameter names differ from the published tensors: "
                         f"not loaded {missing[:8]}, not in the files {extra[:8]}")
    for name, want in expected.items():
        got = held[name].detach().to(torch.float32).numpy()
        if got.shape != want.shape or not np.array_equal(got, want.astype(np.float32)):
            diff = float(np.max(np.abs(got - want))) if got.shape == want.shape else None
            raise SystemExit(f"{path}: transformers' {name} {tuple(got.shape)} differs from the "
                             f"file's values {tuple(want.shape)} (max |diff| {diff}); for GPT-OSS "
                             "experts this means its MXFP4 dequantisation differs from the one in "
                             "runtime/models/README.md section 3")


# ---------------------------------------------------------------------------------------------
# Running the reference.

def router_modules(model, moe_layers: list) -> dict:
    """decoder layer index -> router module (the module whose forward returns
    (router_logits, routing_weights, selected_experts) in every family)."""
    out = {}
    for i in moe_layers:
        mlp = model.model.layers[i].mlp
        out[i] = mlp.router if hasattr(mlp, "router") else mlp.gate
    return out


def run_reference(model, moe_layers: list, prompts: list, greedy_steps: int) -> list:
    """Per prompt (batch 1, unpadded): router logits / experts / weights per MoE layer, logits [T, V],
    greedy continuation through the KV cache, the logits that chose each greedy token and, per MoE
    layer, the router logits of the position those logits came from."""
    import torch
    from transformers import DynamicCache

    routers = router_modules(model, moe_layers)
    seen = {}

    def hook(layer):
        def fn(_module, _inputs, output):
            logits, weights, experts = output
            seen[layer] = (logits.detach().to(torch.float32).clone(),
                           experts.detach().to(torch.int32).clone(),
                           weights.detach().to(torch.float32).clone())
        return fn

    handles = [m.register_forward_hook(hook(i)) for i, m in routers.items()]
    results = []
    try:
        with torch.no_grad():
            for ids in prompts:
                seen.clear()
                cache = DynamicCache(config=model.config)
                out = model(input_ids=torch.from_numpy(ids)[None], past_key_values=cache,
                            use_cache=True, output_router_logits=True)
                if len(out.router_logits) != len(moe_layers):
                    raise SystemExit(f"output_router_logits returned {len(out.router_logits)} "
                                     f"tensors for {len(moe_layers)} MoE layers")
                layers = {}
                for j, i in enumerate(moe_layers):
                    logits, experts, weights = seen[i]
                    if not torch.equal(out.router_logits[j].to(torch.float32).reshape(logits.shape), logits):
                        raise SystemExit(f"layer {i}: output_router_logits differs from the hooked "
                                         "router output")
                    layers[i] = (logits.numpy(), experts.numpy(), weights.numpy())
                prompt_logits = out.logits[0].to(torch.float32).numpy()
                greedy, greedy_logits = [], []
                greedy_router = {i: [layers[i][0].reshape(len(ids), -1)[-1]] for i in moe_layers}
                step_logits = out.logits[0, -1]
                cache = out.past_key_values
                for step_no in range(greedy_steps):
                    tok = int(torch.argmax(step_logits))
                    greedy.append(tok)
                    greedy_logits.append(step_logits.to(torch.float32).numpy())
                    if step_no == greedy_steps - 1:
                        break
                    seen.clear()
                    step = model(input_ids=torch.tensor([[tok]]), past_key_values=cache,
                                 use_cache=True)
                    for i in moe_layers:
                        greedy_router[i].append(seen[i][0].numpy().reshape(-1))
                    cache = step.past_key_values
                    step_logits = step.logits[0, -1]
                results.append({
                    "input_ids": ids, "layers": layers, "logits": prompt_logits,
                    "greedy_tokens": np.array(greedy, dtype=np.int32),
                    "greedy_logits": np.stack(greedy_logits),
                    "greedy_router_logits": {i: np.stack(v) for i, v in greedy_router.items()},
                })
    finally:
        for h in handles:
            h.remove()
    return results


def full_recompute_gap(model, results: list) -> float:
    """Largest |logit difference| between the cached greedy steps and one uncached forward pass over
    prompt + greedy tokens (a consistency figure for the README; not part of the fixture)."""
    import torch
    worst = 0.0
    with torch.no_grad():
        for r in results:
            seq = np.concatenate([r["input_ids"], r["greedy_tokens"][:-1]])
            logits = model(input_ids=torch.from_numpy(seq)[None], use_cache=False).logits[0]
            tail = logits[len(r["input_ids"]) - 1:].to(torch.float32).numpy()
            worst = max(worst, float(np.max(np.abs(tail - r["greedy_logits"]))))
    return worst


# ---------------------------------------------------------------------------------------------
# Routing re-derived from the recorded router logits with the definitions of
# runtime/models/README.md section 7 (numpy, f64): shows that what transformers selected and
# weighted is what they give, up to rounding.

def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def routing_from_logits(family: str, logits: np.ndarray, k: int, cfg: dict):
    """logits [T, E] -> (experts [T, k], weights [T, k]) per runtime/models/README.md section 7."""
    s = logits.astype(np.float64)
    if family in ("qwen3_moe", "olmoe"):
        p = softmax(s)
        idx = np.argsort(-p, axis=-1, kind="stable")[:, :k]
        w = np.take_along_axis(p, idx, axis=-1)
        if cfg["norm_topk_prob"]:
            w = w / w.sum(axis=-1, keepdims=True)
        return idx, w
    if family == "gpt_oss":
        idx = np.argsort(-s, axis=-1, kind="stable")[:, :k]
        return idx, softmax(np.take_along_axis(s, idx, axis=-1))
    # phimoe sparsemixer, inference branch
    eps = cfg["router_jitter_noise"]
    i1 = np.argmax(s, axis=-1)
    m1 = s.max(axis=-1, keepdims=True)
    mask = (m1 - s) / np.maximum(np.abs(s), m1) > 2 * eps
    w1 = np.take_along_axis(softmax(np.where(mask, -np.inf, s)), i1[:, None], axis=-1)
    s2 = s.copy()
    np.put_along_axis(s2, i1[:, None], -np.inf, axis=-1)
    i2 = np.argmax(s2, axis=-1)
    m2 = s2.max(axis=-1, keepdims=True)
    mask2 = (m2 - s) / np.maximum(np.abs(s), m2) > 2 * eps
    w2 = np.take_along_axis(softmax(np.where(mask2, -np.inf, s2)), i2[:, None], axis=-1)
    return np.stack([i1, i2], axis=-1), np.concatenate([w1, w2], axis=-1)


def check_routing(model: Model, case: Case, results: list) -> dict:
    """Compares transformers' experts/weights with routing_from_logits. Experts must agree wherever
    the decision is not a near-tie of the recorded logits; weights within the dtype's rounding."""
    k = model.config["num_experts_per_tok"]
    tol = {"f32": 1e-5, "bf16": 1.6e-2}[case.dtype]  # bf16: softmax/top-k done in bf16 by some families
    worst, ties, mixed = 0.0, 0, 0
    for n, r in enumerate(results):
        for layer, (logits, experts, weights) in r["layers"].items():
            idx, w = routing_from_logits(model.family, logits, k, model.config)
            srt = -np.sort(-logits.astype(np.float64), axis=-1)
            tie = np.any(np.abs(np.diff(srt[:, :k + 1], axis=-1)) < 1e-6, axis=-1)
            ties += int(tie.sum())
            bad = np.any(idx != experts, axis=-1) & ~tie
            if bad.any():
                t = int(np.nonzero(bad)[0][0])
                raise SystemExit(f"{case.name} prompt {n} layer {layer} token {t}: transformers chose "
                                 f"{experts[t].tolist()}, runtime/models/README.md section 7 gives "
                                 f"{idx[t].tolist()}")
            ok = ~tie
            if ok.any():
                worst = max(worst, float(np.max(np.abs(w[ok] - weights[ok]))))
            if model.family == "phimoe":
                mixed += int(np.sum(weights < 1.0))
    if worst > tol:
        raise SystemExit(f"{case.name}: routing weights differ from those of "
                         f"runtime/models/README.md section 7 by {worst} > {tol}")
    return {"routing_weight_max_diff": worst, "exact_logit_ties": ties,
            **({"sparsemixer_weights_below_1": mixed} if model.family == "phimoe" else {})}


# ---------------------------------------------------------------------------------------------
# expected.h5

def root_attributes(model: Model, case: Case) -> dict:
    import torch
    import transformers
    cfg = model.config
    return {
        "family": model.family,
        "num_layers": int(cfg["num_hidden_layers"]),
        "num_experts": int(cfg.get("num_experts", cfg.get("num_local_experts"))),
        "top_k": int(cfg["num_experts_per_tok"]),
        "source": (f"transformers {transformers.__version__} ({type_name(model)}), torch "
                   f"{torch.__version__}, CPU, dtype {case.dtype}, attn_implementation eager, "
                   "experts_implementation eager, batch 1 unpadded, tools/make_golden.py"),
        "case": case.name,
        "dtype": case.dtype,
        "seed": case.seed,
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "greedy_steps": GREEDY_STEPS,
        "notes": model.notes,
        "config_json": json.dumps(cfg, sort_keys=True),
    }


def type_name(model: Model) -> str:
    return {"qwen3_moe": "Qwen3MoeForCausalLM", "olmoe": "OlmoeForCausalLM",
            "gpt_oss": "GptOssForCausalLM", "phimoe": "PhimoeForCausalLM"}[model.family]


def write_expected(path: Path, attrs: dict, moe_layers: list, results: list) -> None:
    """HDF5 1.10 file format (Debian 12's libhdf5 reads it; smaller than the 1.8 one); every
    dataset gzip-compressed as one chunk."""
    import h5py

    def put(group, name, data):
        group.create_dataset(name, data=data, chunks=data.shape, compression="gzip",
                             compression_opts=9, shuffle=True)

    tmp = path.with_suffix(".h5.tmp")
    with h5py.File(tmp, "w", libver=("v110", "v110")) as f:
        for k, v in attrs.items():
            if isinstance(v, str):  # variable-length UTF-8, as results/h5.h reads strings
                f.attrs.create(k, v, dtype=h5py.string_dtype("utf-8"))
            elif isinstance(v, float):
                f.attrs[k] = np.float64(v)
            else:
                f.attrs[k] = np.int64(v)
        put(f, "moe_layers", np.array(moe_layers, dtype=np.int32))
        for n, r in enumerate(results):
            g = f.create_group(f"prompt_{n:04d}")
            put(g, "input_ids", r["input_ids"].astype(np.int32))
            for i, (logits, experts, weights) in r["layers"].items():
                lg = g.create_group(f"layer_{i:02d}")
                put(lg, "router_logits", logits.astype(np.float32))
                put(lg, "selected_experts", experts.astype(np.int32))
                put(lg, "routing_weights", weights.astype(np.float32))
                put(lg, "greedy_router_logits", r["greedy_router_logits"][i].astype(np.float32))
            put(g, "logits", r["logits"].astype(np.float32))
            put(g, "greedy_tokens", r["greedy_tokens"].astype(np.int32))
            put(g, "greedy_logits", r["greedy_logits"].astype(np.float32))
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# Statistics printed for the README (how discriminating each fixture is).

def routing_margins(model: Model, results: list) -> dict:
    """Smallest gap between the k-th and (k+1)-th router logit over all tokens and layers, and how
    many tokens have a gap below 1e-2 (near-ties whose order a different rounding may flip)."""
    k = model.config["num_experts_per_tok"]
    gaps = []
    for r in results:
        for logits, _, _ in r["layers"].values():
            s = -np.sort(-logits, axis=-1)
            gaps.append(s[:, k - 1] - s[:, k])
    g = np.concatenate(gaps)
    return {"min_gap": float(g.min()), "near_ties": int((g < 1e-2).sum()), "tokens": int(g.size)}


def greedy_margin(results: list) -> float:
    worst = math.inf
    for r in results:
        s = -np.sort(-r["greedy_logits"], axis=-1)
        worst = min(worst, float((s[:, 0] - s[:, 1]).min()))
    return worst


def make_case(case: Case, out_root: Path) -> dict:
    """Writes one fixture directory; returns the figures it also stores as root attributes."""
    import torch
    torch.set_num_threads(1)  # one thread: reductions in a fixed order
    model = FAMILIES[case.family](case.seed)
    out = out_root / case.name
    stored = write_checkpoint(model, case, out)
    ref = load_reference(case, out)
    check_parameters(ref, expected_parameters(model, stored), out)
    results = run_reference(ref, model.moe_layers, model.prompts, GREEDY_STEPS)
    margins = routing_margins(model, results)
    stats = {
        "router_min_gap": margins["min_gap"],              # k-th minus (k+1)-th router logit
        "router_near_ties": margins["near_ties"],          # token-layers with that gap < 1e-2
        "router_token_layers": margins["tokens"],
        **check_routing(model, case, results),
        "greedy_min_margin": greedy_margin(results),       # top-1 minus top-2 logit, greedy steps
        "decode_vs_full_recompute": full_recompute_gap(ref, results),
    }
    write_expected(out / "expected.h5", {**root_attributes(model, case), **stats},
                   model.moe_layers, results)
    return stats


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "tests" / "golden")
    ap.add_argument("--case", action="append", choices=[c.name for c in CASES],
                    help="make only these cases (default: all)")
    args = ap.parse_args(argv)
    for case in CASES:
        if args.case and case.name not in args.case:
            continue
        stats = make_case(case, args.out)
        size = sum(p.stat().st_size for p in (args.out / case.name).iterdir())
        print(json.dumps({"case": case.name, "bytes": size, **stats}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
