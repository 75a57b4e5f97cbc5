// Phi-3.5-MoE (PhimoeForCausalLM; published as PhiMoEForCausalLM): config keys, checkpoint
// layout, presets. runtime/models/README.md section 4; transformers' configuration_phimoe.py
// for defaults.
#include <algorithm>
#include <cmath>

#include "runtime/io/config_fields.h"
#include "runtime/io/family_spec.h"

namespace moe::io {
namespace {

void parse(const JsonObject& j, ModelConfig& c) {
  require_silu(j);
  c.moe_intermediate_size = int(req_dim(j, "intermediate_size", kMaxIntermediate));
  c.router_jitter_noise = j.opt_number("router_jitter_noise").value_or(0.01);
  if (c.router_jitter_noise < 0) j.fail("router_jitter_noise", "a number >= 0");
  // The sparsemixer router (inference branch) always picks exactly two experts.
  if (c.top_k != 2) {
    throw input_error(j.where("num_experts_per_tok"),
                      "expected 2 (the sparsemixer router picks two experts), found {}", c.top_k);
  }
  c.lm_head_bias = j.opt_bool("lm_head_bias", false);
  if (auto w = opt_dim(j, "sliding_window", kMaxPositions))
    std::fill(c.sliding_window.begin(), c.sliding_window.end(), int(std::min<int64_t>(*w, INT32_MAX)));
  c.routing = RoutingKind::kSparseMixer;
  c.norm_topk_prob = false;
  c.norm = NormKind::kLayerNorm;
  // transformers requires numeric short/long mscale with any scaled RoPE.
  if (c.rope.kind == RopeConfig::Kind::kLongRope) {
    const JsonObject r(*j.find(j.has("rope_parameters") ? "rope_parameters" : "rope_scaling"),
                       j.label(), j.has("rope_parameters") ? "rope_parameters" : "rope_scaling");
    r.req_number("short_mscale");
    r.req_number("long_mscale");
  }
}

std::vector<TensorSpec> layout(const ModelConfig& c, DType dt) {
  std::vector<TensorSpec> out;
  add_embedding(out, c, dt);
  const int64_t h = c.hidden_size, e = c.num_experts, in = c.moe_intermediate_size;
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    add_tensor(out, p + "input_layernorm.weight", dt, {h}, TensorRole::kNormWeight);
    add_tensor(out, p + "input_layernorm.bias", dt, {h}, TensorRole::kBias);
    add_attention_projections(out, p + "self_attn.", c, dt);
    add_tensor(out, p + "post_attention_layernorm.weight", dt, {h}, TensorRole::kNormWeight);
    add_tensor(out, p + "post_attention_layernorm.bias", dt, {h}, TensorRole::kBias);
    add_tensor(out, p + "block_sparse_moe.gate.weight", dt, {e, h}, TensorRole::kRouter);
    for (int64_t x = 0; x < e; ++x) {
      const std::string q = p + "block_sparse_moe.experts." + std::to_string(x) + ".";
      add_tensor(out, q + "w1.weight", dt, {in, h}, TensorRole::kExpertWeight);  // gate
      add_tensor(out, q + "w2.weight", dt, {h, in}, TensorRole::kExpertWeight);  // down
      add_tensor(out, q + "w3.weight", dt, {in, h}, TensorRole::kExpertWeight);  // up
    }
  }
  add_final_norm_and_head(out, c, dt);
  return out;
}

// LongRoPE factor lists of head_dim/2 entries. The published model's 64 values are not
// reproduced here: these rise smoothly from 1 (short) and from 1 to about 30 (long), with the
// published mscales.
Json longrope(int64_t head_dim) {
  const int64_t n = std::max<int64_t>(head_dim / 2, 1);
  Json s = Json::array(), l = Json::array();
  for (int64_t i = 0; i < n; ++i) {
    const double t = n > 1 ? double(i) / double(n - 1) : 0.0;
    s.push_back(std::round((1.0 + 0.1 * t * t) * 1e4) / 1e4);
    l.push_back(std::round((1.0 + 29.0 * t * t * t) * 1e4) / 1e4);
  }
  return Json{{"long_factor", l},
              {"long_mscale", 1.243163121016122},
              {"original_max_position_embeddings", 4096},
              {"short_factor", s},
              {"short_mscale", 1.243163121016122},
              {"type", "longrope"}};
}

// Phi-3.5-MoE-instruct's config.json (transformers 4.43 spelling, without the remote-code
// auto_map).
Json published() {
  return Json{{"architectures", {"PhiMoEForCausalLM"}},
              {"attention_bias", true},
              {"attention_dropout", 0.0},
              {"bos_token_id", 1},
              {"eos_token_id", 32000},
              {"hidden_act", "silu"},
              {"hidden_dropout", 0.0},
              {"hidden_size", 4096},
              {"initializer_range", 0.02},
              {"input_jitter_noise", 0.01},
              {"intermediate_size", 6400},
              {"lm_head_bias", true},
              {"max_position_embeddings", 131072},
              {"model_type", "phimoe"},
              {"num_attention_heads", 32},
              {"num_experts_per_tok", 2},
              {"num_hidden_layers", 32},
              {"num_key_value_heads", 8},
              {"num_local_experts", 16},
              {"original_max_position_embeddings", 4096},
              {"output_router_logits", false},
              {"rms_norm_eps", 1e-05},
              {"rope_scaling", longrope(128)},
              {"rope_theta", 10000.0},
              {"router_aux_loss_coef", 0.0},
              {"router_jitter_noise", 0.01},
              {"sliding_window", 131072},
              {"tie_word_embeddings", false},
              {"torch_dtype", "bfloat16"},
              {"transformers_version", "4.43.3"},
              {"use_cache", true},
              {"vocab_size", 32064}};
}

void adjust(Json& c) {
  const int64_t head_dim = c.contains("head_dim") && c["head_dim"].is_number_integer()
                               ? c["head_dim"].get<int64_t>()
                               : c["hidden_size"].get<int64_t>() /
                                     std::max<int64_t>(c["num_attention_heads"].get<int64_t>(), 1);
  c["rope_scaling"] = longrope(head_dim);
}

Json preset(std::string_view name) {
  Json c = published();
  if (name == "phi-3.5-moe") return c;
  if (name != "tiny") return nullptr;
  c["num_hidden_layers"] = 2;
  c["hidden_size"] = 64;
  c["num_attention_heads"] = 4;
  c["num_key_value_heads"] = 2;
  c["num_local_experts"] = 4;
  c["intermediate_size"] = 32;
  c["vocab_size"] = 1024;
  adjust(c);
  return c;
}

void special_token_files(const std::map<std::string, int32_t>& ids, Json& config, Json& gen,
                         Json& tok) {
  config["bos_token_id"] = token_id(ids, "<s>");
  config["eos_token_id"] = token_id(ids, "<|endoftext|>");
  gen = Json{{"bos_token_id", token_id(ids, "<s>")},
             {"eos_token_id", token_ids(ids, {"<|end|>", "<|assistant|>", "<|endoftext|>"})},
             {"transformers_version", "4.43.3"}};
  tok = Json{{"add_bos_token", false},
             {"add_eos_token", false},
             {"bos_token", "<s>"},
             {"clean_up_tokenization_spaces", false},
             {"eos_token", "<|endoftext|>"},
             {"legacy", false},
             {"model_max_length", 131072},
             {"pad_token", "<|endoftext|>"},
             {"padding_side", "left"},
             {"sp_model_kwargs", Json::object()},
             {"tokenizer_class", "LlamaTokenizer"},
             {"unk_token", "<unk>"},
             {"use_default_system_prompt", false}};
}

}  // namespace

const FamilySpec kPhimoeSpec{
    .family = Family::kPhimoe,
    .model_type = "phimoe",
    .architectures = {"PhimoeForCausalLM", "PhiMoEForCausalLM"},
    .default_rope_theta = 1000000.0,
    .default_norm_eps = 1e-5,
    .default_max_positions = 131072,
    .default_attention_bias = false,
    .default_kv_heads = 8,
    .default_head_dim = 0,
    .parse = parse,
    .layout = layout,
    .preset_config = preset,
    .full_preset = "phi-3.5-moe",
    .experts_key = "num_local_experts",
    .expert_intermediate_key = "intermediate_size",
    .adjust_config = adjust,
    .special_token_files = special_token_files,
};

}  // namespace moe::io
