// Test support: tiny random gpt_oss and phimoe models built in memory (config + MapWeights) with
// the published tensor names and formats (MXFP4 U8 experts, sinks, LayerNorm biases, ...), so
// model and backend tests of these families need no files.
#pragma once

#include <cmath>
#include <random>
#include <string>

#include <fmt/format.h>

#include "runtime/models/model.h"
#include "tests/unit/models/tiny_model.h"

namespace moe::testing {

struct TinyFamilySpec {
  DType dtype = DType::F32;
  int layers = 2;
  int hidden = 64;     // a multiple of 32 (MXFP4 blocks)
  int heads = 4;
  int kv_heads = 2;
  int head_dim = 16;
  int vocab = 96;
  int experts = 8;
  int top_k = 3;       // gpt_oss; phimoe always 2
  int moe_inter = 32;  // a multiple of 32 for gpt_oss
  int window = 4;      // gpt_oss sliding window of the even layers
  int orig_positions = 8;  // phimoe LongRoPE original_max_position_embeddings
  uint64_t seed = 7;
};

inline io::ModelConfig tiny_gpt_oss_config(const TinyFamilySpec& s) {
  io::ModelConfig c;
  c.family = io::Family::kGptOss;
  c.architecture = "GptOssForCausalLM";
  c.num_layers = s.layers;
  c.hidden_size = s.hidden;
  c.num_heads = s.heads;
  c.num_kv_heads = s.kv_heads;
  c.head_dim = s.head_dim;
  c.vocab_size = s.vocab;
  c.num_experts = s.experts;
  c.top_k = s.top_k;
  c.moe_intermediate_size = s.moe_inter;
  c.moe_layer.assign(size_t(s.layers), true);
  c.sliding_window.assign(size_t(s.layers), 0);
  for (int l = 0; l < s.layers; l += 2) c.sliding_window[size_t(l)] = s.window;
  c.routing = io::RoutingKind::kTopKSoftmax;
  c.norm_topk_prob = false;
  c.norm_eps = 1e-5;
  c.attention_bias = c.attention_sinks = c.router_bias = c.expert_bias = true;
  c.swiglu_limit = 7.0;
  c.swiglu_alpha = 1.702;
  c.rope.kind = io::RopeConfig::Kind::kYarn;
  c.rope.theta = 150000;
  c.rope.factor = 32;
  c.rope.beta_fast = 32;
  c.rope.beta_slow = 1;
  c.rope.truncate = false;
  c.rope.original_max_position_embeddings = 4096;
  c.rope.attention_factor = 0.1 * std::log(32.0) + 1.0;
  c.max_position_embeddings = 131072;
  c.torch_dtype = s.dtype;
  c.source = "tiny-gpt-oss/config.json";
  return c;
}

inline io::ModelConfig tiny_phimoe_config(const TinyFamilySpec& s) {
  io::ModelConfig c = tiny_gpt_oss_config(s);
  c.family = io::Family::kPhimoe;
  c.architecture = "PhimoeForCausalLM";
  c.top_k = 2;
  c.sliding_window.assign(size_t(s.layers), 0);
  c.routing = io::RoutingKind::kSparseMixer;
  c.norm = io::NormKind::kLayerNorm;
  c.attention_sinks = c.router_bias = c.expert_bias = false;
  c.lm_head_bias = true;
  c.router_jitter_noise = 0.01;
  c.swiglu_limit = 0;
  c.rope = {};
  c.rope.kind = io::RopeConfig::Kind::kLongRope;
  c.rope.theta = 10000;
  c.rope.original_max_position_embeddings = s.orig_positions;
  for (int i = 0; i < s.head_dim / 2; ++i) {
    c.rope.short_factor.push_back(1.0 + 0.05 * i);
    c.rope.long_factor.push_back(2.0 + 1.5 * i);
  }
  c.rope.short_mscale = 1.1;
  c.rope.long_mscale = 1.3;
  c.source = "tiny-phimoe/config.json";
  return c;
}

// Random MXFP4 blocks [rows, cols/32, 16] and scales [rows, cols/32] with scale bytes in
// [lo, hi] (values about fp4 * 2^(s-127)).
inline void tiny_mxfp4(std::mt19937_64& rng, MapWeights& w, const std::string& name, int64_t E,
                       int64_t rows, int64_t cols, int lo, int hi) {
  Tensor b = Tensor::empty(DType::U8, {E, rows, cols / 32, 16});
  Tensor sc = Tensor::empty(DType::U8, {E, rows, cols / 32});
  std::uniform_int_distribution<int> byte(0, 255), scale(lo, hi);
  for (int64_t i = 0; i < b.numel(); ++i) b.data<uint8_t>()[i] = uint8_t(byte(rng));
  for (int64_t i = 0; i < sc.numel(); ++i) sc.data<uint8_t>()[i] = uint8_t(scale(rng));
  w.put(name + "_blocks", b);
  w.put(name + "_scales", sc);
}

// Weights shared by both families: embeddings, attention with biases, norms, lm_head.
inline void tiny_common_weights(std::mt19937_64& rng, const io::ModelConfig& c, DType dt,
                                bool norm_bias, MapWeights& w) {
  const int64_t H = c.hidden_size, hd = c.head_dim, qd = int64_t(c.num_heads) * hd,
                kvd = int64_t(c.num_kv_heads) * hd, V = c.vocab_size;
  auto lin = [&](const std::string& n, Shape sh, bool bias) {
    w.put(n + ".weight", tiny_tensor(rng, dt, sh, 0.0f, 1.0f / std::sqrt(float(sh[1]))));
    if (bias) w.put(n + ".bias", tiny_tensor(rng, dt, {sh[0]}, 0.0f, 0.1f));
  };
  auto norm = [&](const std::string& n) {
    w.put(n + ".weight", tiny_tensor(rng, dt, {H}, 1.0f, 0.1f));
    if (norm_bias) w.put(n + ".bias", tiny_tensor(rng, dt, {H}, 0.0f, 0.1f));
  };
  w.put("model.embed_tokens.weight", tiny_tensor(rng, dt, {V, H}, 0.0f, 1.0f));
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    norm(p + "input_layernorm");
    norm(p + "post_attention_layernorm");
    lin(p + "self_attn.q_proj", {qd, H}, true);
    lin(p + "self_attn.k_proj", {kvd, H}, true);
    lin(p + "self_attn.v_proj", {kvd, H}, true);
    lin(p + "self_attn.o_proj", {H, qd}, true);
  }
  norm("model.norm");
  lin("lm_head", {V, H}, c.lm_head_bias);
}

inline MapWeights tiny_gpt_oss_weights(const TinyFamilySpec& s) {
  const io::ModelConfig c = tiny_gpt_oss_config(s);
  std::mt19937_64 rng(s.seed);
  MapWeights w;
  tiny_common_weights(rng, c, s.dtype, false, w);
  const int64_t H = c.hidden_size, E = c.num_experts, I = c.moe_intermediate_size;
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    w.put(p + "self_attn.sinks", tiny_tensor(rng, s.dtype, {c.num_heads}, 0.0f, 1.0f));
    w.put(p + "mlp.router.weight", tiny_tensor(rng, s.dtype, {E, H}, 0.0f, 0.5f));
    w.put(p + "mlp.router.bias", tiny_tensor(rng, s.dtype, {E}, 0.0f, 0.5f));
    // Scales 2^-4..2^-2 for gate/up (so some units pass the swiglu limit), 2^-6..2^-4 for down.
    tiny_mxfp4(rng, w, p + "mlp.experts.gate_up_proj", E, 2 * I, H, 123, 125);
    w.put(p + "mlp.experts.gate_up_proj_bias", tiny_tensor(rng, s.dtype, {E, 2 * I}, 0.0f, 0.5f));
    tiny_mxfp4(rng, w, p + "mlp.experts.down_proj", E, H, I, 121, 123);
    w.put(p + "mlp.experts.down_proj_bias", tiny_tensor(rng, s.dtype, {E, H}, 0.0f, 0.1f));
  }
  return w;
}

inline MapWeights tiny_phimoe_weights(const TinyFamilySpec& s) {
  const io::ModelConfig c = tiny_phimoe_config(s);
  std::mt19937_64 rng(s.seed);
  MapWeights w;
  tiny_common_weights(rng, c, s.dtype, true, w);
  const int64_t H = c.hidden_size, I = c.moe_intermediate_size;
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.block_sparse_moe.", l);
    w.put(p + "gate.weight", tiny_tensor(rng, s.dtype, {c.num_experts, H}, 0.0f, 0.3f));
    for (int e = 0; e < c.num_experts; ++e) {
      const std::string q = p + fmt::format("experts.{}.", e);
      w.put(q + "w1.weight", tiny_tensor(rng, s.dtype, {I, H}, 0.0f, 1.0f / std::sqrt(float(H))));
      w.put(q + "w3.weight", tiny_tensor(rng, s.dtype, {I, H}, 0.0f, 1.0f / std::sqrt(float(H))));
      w.put(q + "w2.weight", tiny_tensor(rng, s.dtype, {H, I}, 0.0f, 1.0f / std::sqrt(float(I))));
    }
  }
  return w;
}

}  // namespace moe::testing
