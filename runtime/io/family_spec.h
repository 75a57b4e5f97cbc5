// FamilySpec: everything runtime/io knows about one model family, in one table entry per
// family (family_<name>.cpp): its model_type and architecture names, how its config.json differs
// from the shared keys, the published checkpoint's tensor layout, and make-model's presets.
// Adding a family = one new family_<name>.cpp plus a line in all_family_specs().
//
// Internal to runtime/io (pulls in nlohmann/json through json_util.h): include from .cpp only.
// Thread-safety: the specs are immutable statics.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/io/json_util.h"
#include "runtime/io/layout.h"
#include "runtime/io/model_config.h"

namespace moe::io {

struct FamilySpec {
  Family family;
  std::string_view model_type;
  std::vector<std::string_view> architectures;  // [0] is transformers' class name
  // Defaults of the transformers configuration class for keys the shared parser reads.
  double default_rope_theta;
  double default_norm_eps;
  int64_t default_max_positions;
  bool default_attention_bias;
  int default_kv_heads;  // 0: num_attention_heads
  int default_head_dim;  // 0: hidden_size / num_attention_heads
  // Reads the family's own keys into `cfg` (the shared keys are already read and checked).
  void (*parse)(const JsonObject& j, ModelConfig& cfg);
  // The tensors of the published checkpoint layout for `cfg`, float tensors in `float_dtype`.
  std::vector<TensorSpec> (*layout)(const ModelConfig& cfg, DType float_dtype);
  // make-model: the config.json of a preset (`tiny` or the published model's name, e.g.
  // "qwen3-30b-a3b"), with the keys of the published config.json. Null if there is no such
  // preset. The published model's preset name is full_preset.
  Json (*preset_config)(std::string_view preset);
  std::string_view full_preset;
  // make-model: config.json keys its size flags set, and a hook that brings keys derived from
  // the dimensions back in step after they changed (layer_types, LongRoPE factor lists, ...).
  std::string_view experts_key, expert_intermediate_key;
  void (*adjust_config)(Json& config);
  // make-model: fills the special-token keys of config.json (ids), generation_config.json and
  // tokenizer_config.json as the published files have them, with the ids of the made
  // tokenizer's special tokens (`ids`: token text -> id; a token it lacks is left out).
  void (*special_token_files)(const std::map<std::string, int32_t>& ids, Json& config,
                              Json& generation_config, Json& tokenizer_config);
};

const std::vector<const FamilySpec*>& all_family_specs();
const FamilySpec& family_spec(Family f);

// Shared pieces of the family files.
// Throws unless hidden_act is absent or "silu".
void require_silu(const JsonObject& j);
// Appends a tensor to a layout.
void add_tensor(std::vector<TensorSpec>& out, std::string name, DType dtype, Shape shape,
                TensorRole role);
// Appends the attention projections of one layer: {q,k,v,o}_proj.weight (+ .bias when
// cfg.attention_bias). `prefix` is "model.layers.{i}.self_attn.".
void add_attention_projections(std::vector<TensorSpec>& out, const std::string& prefix,
                               const ModelConfig& cfg, DType dt);
// model.embed_tokens.weight first; model.norm.weight (+ bias for LayerNorm) and lm_head.weight
// (unless tied; + bias when cfg.lm_head_bias) last.
void add_embedding(std::vector<TensorSpec>& out, const ModelConfig& cfg, DType dt);
void add_final_norm_and_head(std::vector<TensorSpec>& out, const ModelConfig& cfg, DType dt);
// The id of special token `text` as JSON (null when the made tokenizer lacks it), and a list of
// the ids of those of `texts` it has.
Json token_id(const std::map<std::string, int32_t>& ids, std::string_view text);
Json token_ids(const std::map<std::string, int32_t>& ids, std::vector<std::string_view> texts);

extern const FamilySpec kQwen3MoeSpec, kOlmoeSpec, kGptOssSpec, kPhimoeSpec;

}  // namespace moe::io
