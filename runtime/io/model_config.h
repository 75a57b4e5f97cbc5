// Typed model configuration for the four supported families, parsed from a Hugging Face
// config.json (+ generation_config.json, tokenizer_config.json for special tokens).
//
// One struct covers all families; family-specific fields are documented with the family that
// uses them. Both spellings of published configs are accepted: transformers 4 (rope_scaling +
// rope_theta, torch_dtype, num_experts) and transformers 5 (rope_parameters, dtype,
// num_local_experts). Keys a published config may leave out take the transformers
// configuration class's default; the dimensions are required. Validation names the file and key
// of anything missing, mistyped or inconsistent; an unknown model_type or architecture is an
// error listing the supported ones. Thread-safety: plain value types, pure functions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/dtype.h"

namespace moe::io {

enum class Family { kQwen3Moe, kOlmoe, kGptOss, kPhimoe };
std::string_view family_name(Family f);  // "qwen3_moe", "olmoe", "gpt_oss", "phimoe"
std::optional<Family> parse_family(std::string_view model_type);

// How the router's logits become experts and weights (runtime/models/README.md section 7).
enum class RoutingKind {
  kSoftmaxTopK,  // softmax over all E -> top-k -> renormalise iff norm_topk_prob (qwen3, olmoe)
  kTopKSoftmax,  // top-k of raw logits -> softmax over the k (gpt_oss)
  kSparseMixer,  // Phi-3.5 sparsemixer, inference branch
};

std::string_view routing_name(RoutingKind k);  // "softmax_topk", "topk_softmax", "sparsemixer"

enum class NormKind { kRms, kLayerNorm };

struct RopeConfig {
  enum class Kind { kDefault, kYarn, kLongRope } kind = Kind::kDefault;
  double theta = 10000.0;
  // YaRN (gpt_oss)
  double factor = 1.0;
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  bool truncate = true;
  // YaRN: cos and sin are multiplied by this (attention_factor if given, else
  // 0.1 * ln(factor) + 1 for factor > 1, else 1; mscale/mscale_all_dim as in transformers).
  double attention_factor = 1.0;
  // YaRN and LongRoPE
  int64_t original_max_position_embeddings = 0;
  // LongRoPE (phimoe): [head_dim / 2] each
  std::vector<double> short_factor, long_factor;
  double short_mscale = 1.0, long_mscale = 1.0;
};
std::string_view rope_kind_name(RopeConfig::Kind k);  // "default", "yarn", "longrope"

struct ModelConfig {
  Family family = Family::kQwen3Moe;
  std::string architecture;  // "Qwen3MoeForCausalLM", ...
  int num_layers = 0;
  int hidden_size = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  int64_t vocab_size = 0;
  int num_experts = 0;
  int top_k = 0;
  int moe_intermediate_size = 0;    // per expert
  int dense_intermediate_size = 0;  // qwen3 dense (non-MoE) layers
  std::vector<bool> moe_layer;      // [num_layers]: layer i has an MoE block
  std::vector<int> sliding_window;  // [num_layers]: 0 = full attention
  RoutingKind routing = RoutingKind::kSoftmaxTopK;
  bool norm_topk_prob = true;       // qwen3 true, olmoe false
  NormKind norm = NormKind::kRms;
  double norm_eps = 1e-6;
  bool qk_norm = false;             // qwen3 (per head), olmoe (whole vector)
  bool qk_norm_per_head = false;
  std::optional<double> clip_qkv;   // olmoe
  bool attention_bias = false;      // gpt_oss, phimoe
  bool attention_sinks = false;     // gpt_oss
  bool router_bias = false;         // gpt_oss
  bool expert_bias = false;         // gpt_oss
  bool lm_head_bias = false;        // phimoe
  bool tie_word_embeddings = false;
  double swiglu_limit = 0.0;        // gpt_oss (7.0)
  double swiglu_alpha = 0.0;        // gpt_oss (1.702)
  std::string quantization;         // "" or "mxfp4" (gpt_oss quantization_config.quant_method)
  double router_jitter_noise = 0.0; // phimoe sparsemixer eps (0.01)
  RopeConfig rope;
  int64_t max_position_embeddings = 0;
  DType torch_dtype = DType::BF16;
  std::filesystem::path source;     // the config.json this came from

  int num_moe_layers() const;
};

// Special tokens and stop tokens, from config.json, generation_config.json, tokenizer_config.json
// (ids given by the JSON configs win; token strings are resolved through tokenizer.json's
// added_tokens / vocabulary and tokenizer_config.json's added_tokens_decoder when ids are absent).
struct SpecialTokens {
  std::optional<int64_t> bos;
  std::vector<int64_t> eos;  // every id that ends generation: generation_config.json's, then
                             // config.json's, then tokenizer_config.json's eos_token (no repeats)
  std::optional<int64_t> pad;
  bool add_bos = false;      // encode adds BOS: as transformers 5, tokenizer.json's
                             // post_processor puts a special token first; only without a
                             // tokenizer.json, tokenizer_config.json's add_bos_token
  // The token strings tokenizer_config.json names ("" when it names none): chat templates use them.
  std::string bos_token, eos_token, pad_token;
};

// Parses `dir`/config.json. Throws InputError("<dir>/config.json: key 'x'", "expected ..., found ...").
ModelConfig load_model_config(const std::filesystem::path& dir);
// Every supported model_type and architecture, for messages: "qwen3_moe (Qwen3MoeForCausalLM), ...".
std::string supported_families();
// Parses the JSON text of a config.json (used by the fuzzer and tests); `label` names the source.
ModelConfig parse_model_config(const std::string& json_text, const std::string& label);
SpecialTokens load_special_tokens(const std::filesystem::path& dir);

}  // namespace moe::io
