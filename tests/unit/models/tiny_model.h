// Test support: tiny random qwen3_moe / olmoe models built in memory (config + MapWeights),
// with the real tensor names, so model, engine and backend tests need no files.
#pragma once

#include <random>
#include <string>

#include <fmt/format.h>

#include "runtime/core/dtype.h"
#include "runtime/io/model_config.h"
#include "runtime/models/model.h"
#include "runtime/models/weights.h"

namespace moe::testing {

struct TinySpec {
  io::Family family = io::Family::kQwen3Moe;
  DType dtype = DType::F32;
  int layers = 2;
  int hidden = 32;
  int heads = 4;
  int kv_heads = 2;
  int head_dim = 16;  // heads * head_dim != hidden, as in Qwen3
  int vocab = 96;
  int experts = 8;
  int top_k = 3;
  int moe_inter = 16;
  int dense_inter = 24;
  bool dense_first_layer = true;  // qwen3 only: layer 0 dense (decoder_sparse_step-style)
  uint64_t seed = 1;
};

inline io::ModelConfig tiny_config(const TinySpec& s) {
  io::ModelConfig c;
  c.family = s.family;
  c.architecture = s.family == io::Family::kOlmoe ? "OlmoeForCausalLM" : "Qwen3MoeForCausalLM";
  c.num_layers = s.layers;
  c.hidden_size = s.hidden;
  c.num_heads = s.heads;
  c.num_kv_heads = s.family == io::Family::kOlmoe ? s.heads : s.kv_heads;
  c.head_dim = s.head_dim;
  c.vocab_size = s.vocab;
  c.num_experts = s.experts;
  c.top_k = s.top_k;
  c.moe_intermediate_size = s.moe_inter;
  c.dense_intermediate_size = s.dense_inter;
  c.moe_layer.assign(size_t(s.layers), true);
  if (s.family == io::Family::kQwen3Moe && s.dense_first_layer) c.moe_layer[0] = false;
  c.sliding_window.assign(size_t(s.layers), 0);
  c.routing = io::RoutingKind::kSoftmaxTopK;
  c.norm_topk_prob = s.family == io::Family::kQwen3Moe;
  c.norm_eps = s.family == io::Family::kQwen3Moe ? 1e-6 : 1e-5;
  c.qk_norm = true;
  c.qk_norm_per_head = s.family == io::Family::kQwen3Moe;
  c.rope.theta = s.family == io::Family::kQwen3Moe ? 1e6 : 1e4;
  c.max_position_embeddings = 256;
  c.torch_dtype = s.dtype;
  c.source = "tiny.json";
  return c;
}

inline Tensor tiny_tensor(std::mt19937_64& rng, DType dtype, Shape shape, float mean, float std) {
  std::normal_distribution<float> nd(mean, std);
  Tensor t = Tensor::empty(dtype, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) {
    const float v = nd(rng);
    if (dtype == DType::BF16)
      t.data<uint16_t>()[i] = f32_to_bf16(v);
    else
      t.data<float>()[i] = v;
  }
  return t;
}

inline MapWeights tiny_weights(const TinySpec& s) {
  const io::ModelConfig c = tiny_config(s);
  std::mt19937_64 rng(s.seed);
  MapWeights w;
  const int64_t H = c.hidden_size, hd = c.head_dim, qd = int64_t(c.num_heads) * hd,
                kvd = int64_t(c.num_kv_heads) * hd, V = c.vocab_size, I = c.moe_intermediate_size;
  auto lin = [&](const std::string& n, Shape sh) {
    w.put(n, tiny_tensor(rng, s.dtype, sh, 0.0f, 1.0f / std::sqrt(float(sh[1]))));
  };
  auto norm = [&](const std::string& n, int64_t d) {
    w.put(n, tiny_tensor(rng, s.dtype, {d}, 1.0f, 0.1f));
  };
  w.put("model.embed_tokens.weight", tiny_tensor(rng, s.dtype, {V, H}, 0.0f, 1.0f));
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    norm(p + "input_layernorm.weight", H);
    norm(p + "post_attention_layernorm.weight", H);
    lin(p + "self_attn.q_proj.weight", {qd, H});
    lin(p + "self_attn.k_proj.weight", {kvd, H});
    lin(p + "self_attn.v_proj.weight", {kvd, H});
    lin(p + "self_attn.o_proj.weight", {H, qd});
    const bool per_head = c.qk_norm_per_head;
    norm(p + "self_attn.q_norm.weight", per_head ? hd : qd);
    norm(p + "self_attn.k_norm.weight", per_head ? hd : kvd);
    if (c.moe_layer[size_t(l)]) {
      lin(p + "mlp.gate.weight", {c.num_experts, H});
      for (int e = 0; e < c.num_experts; ++e) {
        const std::string q = p + fmt::format("mlp.experts.{}.", e);
        lin(q + "gate_proj.weight", {I, H});
        lin(q + "up_proj.weight", {I, H});
        lin(q + "down_proj.weight", {H, I});
      }
    } else {
      const int64_t D = c.dense_intermediate_size;
      lin(p + "mlp.gate_proj.weight", {D, H});
      lin(p + "mlp.up_proj.weight", {D, H});
      lin(p + "mlp.down_proj.weight", {H, D});
    }
  }
  norm("model.norm.weight", H);
  lin("lm_head.weight", {V, H});
  return w;
}

// A tiny model of spec `s` on `backend` (bf16 emulation automatic for bf16 weights).
inline std::shared_ptr<Model> tiny_model(const TinySpec& s, const std::string& backend = "cpu-ref") {
  ModelLoadOptions o;
  o.backend.name = backend;
  return build_model(tiny_config(s), tiny_weights(s), o);
}

// A deterministic token sequence of length n.
inline std::vector<int32_t> tiny_prompt(int n, int seed, int vocab = 96) {
  std::vector<int32_t> p;
  for (int i = 0; i < n; ++i) p.push_back(int32_t((seed * 37 + i * 11 + i * i) % vocab));
  return p;
}

// Next-token logits [T, V] for every token of `ids`, by one forward over a fresh cache.
inline Tensor all_logits(Model& m, const std::vector<int32_t>& ids) {
  auto cache = m.make_cache(1, int64_t(ids.size()) + 16);
  ForwardBatch b;
  b.add(0, ids, 0, true, ForwardBatch::Logits::kAll);
  Tensor logits;
  m.forward(b, *cache, {}, &logits);
  return logits;
}

}  // namespace moe::testing
