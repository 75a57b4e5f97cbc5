// GPT-OSS (GptOssForCausalLM, e.g. gpt-oss-20b): config keys, checkpoint layout (MXFP4 experts),
// presets. runtime/models/README.md section 3; transformers' configuration_gpt_oss.py for
// defaults.
#include <cmath>

#include "runtime/core/dtype.h"

#include "runtime/io/config_fields.h"
#include "runtime/io/family_spec.h"

namespace moe::io {
namespace {

void parse(const JsonObject& j, ModelConfig& c) {
  c.moe_intermediate_size = int(req_dim(j, "intermediate_size", kMaxIntermediate));

  // sliding_window: 128 when absent (the class default), none when explicitly null.
  const bool window_null = j.json().contains("sliding_window") && j.json()["sliding_window"].is_null();
  const int window = window_null ? 0 : int(opt_dim(j, "sliding_window", kMaxPositions).value_or(128));
  const auto types = j.opt_string_list("layer_types");
  if (types && types->size() != size_t(c.num_layers)) {
    throw input_error(j.where("layer_types"), "expected {} entries (num_hidden_layers), found {}",
                      c.num_layers, types->size());
  }
  for (int i = 0; i < c.num_layers; ++i) {
    // Default (transformers' __post_init__): even layers slide, odd layers attend fully.
    const std::string t = types ? (*types)[size_t(i)]
                                : (i % 2 == 0 ? "sliding_attention" : "full_attention");
    if (t != "sliding_attention" && t != "full_attention") {
      throw input_error(j.where("layer_types[" + std::to_string(i) + "]"),
                        "expected \"sliding_attention\" or \"full_attention\", found \"{}\"", t);
    }
    c.sliding_window[size_t(i)] = t == "sliding_attention" ? window : 0;
  }

  c.swiglu_limit = j.opt_number("swiglu_limit").value_or(7.0);
  c.swiglu_alpha = j.opt_number("swiglu_alpha").value_or(1.702);
  if (!(c.swiglu_limit > 0)) j.fail("swiglu_limit", "a positive number");
  c.routing = RoutingKind::kTopKSoftmax;
  c.norm_topk_prob = false;
  c.norm = NormKind::kRms;
  c.attention_sinks = true;
  c.router_bias = true;
  c.expert_bias = true;

  // Without rope parameters the class default is YaRN (factor 32 over 4096 positions).
  if (!j.has("rope_parameters") && !j.has("rope_scaling")) {
    RopeConfig& r = c.rope;
    r.kind = RopeConfig::Kind::kYarn;
    r.factor = 32.0;
    r.beta_fast = 32.0;
    r.beta_slow = 1.0;
    r.truncate = false;
    r.original_max_position_embeddings = 4096;
    r.attention_factor = 0.1 * std::log(r.factor) + 1.0;
  }

  if (auto q = j.opt_object("quantization_config")) {
    const std::string method = q->req_string("quant_method");
    if (method != "mxfp4") q->fail("quant_method", "\"mxfp4\" (the only quantisation supported)");
    c.quantization = "mxfp4";
    for (const auto& [key, v] : {std::pair<const char*, int>{"hidden_size", c.hidden_size},
                                 {"intermediate_size", c.moe_intermediate_size}}) {
      if (v % kMxfp4Block != 0) {
        throw input_error(j.where(key), "expected a multiple of {} (MXFP4 block), found {}",
                          kMxfp4Block, v);
      }
    }
  }
}

std::vector<TensorSpec> layout(const ModelConfig& c, DType dt) {
  std::vector<TensorSpec> out;
  add_embedding(out, c, dt);
  const int64_t h = c.hidden_size, e = c.num_experts, in = c.moe_intermediate_size;
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    add_tensor(out, p + "input_layernorm.weight", dt, {h}, TensorRole::kNormWeight);
    add_attention_projections(out, p + "self_attn.", c, dt);
    add_tensor(out, p + "self_attn.sinks", dt, {c.num_heads}, TensorRole::kSinks);
    add_tensor(out, p + "post_attention_layernorm.weight", dt, {h}, TensorRole::kNormWeight);
    add_tensor(out, p + "mlp.router.weight", dt, {e, h}, TensorRole::kRouter);
    add_tensor(out, p + "mlp.router.bias", dt, {e}, TensorRole::kRouterBias);
    const std::string x = p + "mlp.experts.";
    if (c.quantization == "mxfp4") {
      // Rows are output units; gate and up rows interleave (gate unit u = row 2u, up = 2u+1).
      const int64_t b = kMxfp4Block;
      add_tensor(out, x + "gate_up_proj_blocks", DType::U8, {e, 2 * in, h / b, b / 2},
                 TensorRole::kExpertBlocks);
      add_tensor(out, x + "gate_up_proj_scales", DType::U8, {e, 2 * in, h / b},
                 TensorRole::kExpertScales);
      add_tensor(out, x + "gate_up_proj_bias", dt, {e, 2 * in}, TensorRole::kExpertBias);
      add_tensor(out, x + "down_proj_blocks", DType::U8, {e, h, in / b, b / 2},
                 TensorRole::kExpertBlocks);
      add_tensor(out, x + "down_proj_scales", DType::U8, {e, h, in / b},
                 TensorRole::kExpertScales);
      add_tensor(out, x + "down_proj_bias", dt, {e, h}, TensorRole::kExpertBias);
    } else {
      // Dequantised checkpoints keep transformers' parameter layout ([in, out] per expert).
      add_tensor(out, x + "gate_up_proj", dt, {e, h, 2 * in}, TensorRole::kExpertWeight);
      add_tensor(out, x + "gate_up_proj_bias", dt, {e, 2 * in}, TensorRole::kExpertBias);
      add_tensor(out, x + "down_proj", dt, {e, in, h}, TensorRole::kExpertWeight);
      add_tensor(out, x + "down_proj_bias", dt, {e, h}, TensorRole::kExpertBias);
    }
  }
  add_final_norm_and_head(out, c, dt);
  return out;
}

Json layer_types(int64_t n) {
  Json t = Json::array();
  for (int64_t i = 0; i < n; ++i) t.push_back(i % 2 == 0 ? "sliding_attention" : "full_attention");
  return t;
}

// gpt-oss-20b's config.json (transformers 4.55 spelling).
Json published() {
  return Json{
      {"architectures", {"GptOssForCausalLM"}},
      {"attention_bias", true},
      {"attention_dropout", 0.0},
      {"eos_token_id", 200002},
      {"experts_per_token", 4},
      {"head_dim", 64},
      {"hidden_act", "silu"},
      {"hidden_size", 2880},
      {"initial_context_length", 4096},
      {"initializer_range", 0.02},
      {"intermediate_size", 2880},
      {"layer_types", layer_types(24)},
      {"max_position_embeddings", 131072},
      {"model_type", "gpt_oss"},
      {"num_attention_heads", 64},
      {"num_experts_per_tok", 4},
      {"num_hidden_layers", 24},
      {"num_key_value_heads", 8},
      {"num_local_experts", 32},
      {"output_router_logits", false},
      {"pad_token_id", 199999},
      {"quantization_config",
       {{"modules_to_not_convert",
         {"model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens",
          "lm_head"}},
        {"quant_method", "mxfp4"}}},
      {"rms_norm_eps", 1e-05},
      {"rope_scaling",
       {{"beta_fast", 32.0},
        {"beta_slow", 1.0},
        {"factor", 32.0},
        {"original_max_position_embeddings", 4096},
        {"rope_type", "yarn"},
        {"truncate", false}}},
      {"rope_theta", 150000},
      {"router_aux_loss_coef", 0.9},
      {"sliding_window", 128},
      {"swiglu_limit", 7.0},
      {"tie_word_embeddings", false},
      {"transformers_version", "4.55.0.dev0"},
      {"use_cache", true},
      {"vocab_size", 201088}};
}

Json preset(std::string_view name) {
  Json c = published();
  if (name == "gpt-oss-20b") return c;
  if (name != "tiny") return nullptr;
  c["num_hidden_layers"] = 2;
  c["hidden_size"] = 64;
  c["num_attention_heads"] = 4;
  c["num_key_value_heads"] = 2;
  c["head_dim"] = 16;
  c["num_local_experts"] = 4;
  c["num_experts_per_tok"] = 2;
  c["intermediate_size"] = 64;
  c["sliding_window"] = 8;
  c["vocab_size"] = 1024;
  c["layer_types"] = layer_types(2);
  c["experts_per_token"] = 2;
  return c;
}

void adjust(Json& c) {
  c["layer_types"] = layer_types(c["num_hidden_layers"].get<int64_t>());
  c["experts_per_token"] = c["num_experts_per_tok"];
}

void special_token_files(const std::map<std::string, int32_t>& ids, Json& config, Json& gen,
                         Json& tok) {
  config["eos_token_id"] = token_id(ids, "<|return|>");
  config["pad_token_id"] = token_id(ids, "<|endoftext|>");
  gen = Json{{"bos_token_id", token_id(ids, "<|startoftext|>")},
             {"do_sample", true},
             {"eos_token_id", token_ids(ids, {"<|return|>", "<|endoftext|>", "<|call|>"})},
             {"pad_token_id", token_id(ids, "<|endoftext|>")},
             {"transformers_version", "4.55.0.dev0"}};
  tok = Json{{"bos_token", "<|startoftext|>"},
             {"clean_up_tokenization_spaces", false},
             {"eos_token", "<|return|>"},
             {"model_input_names", {"input_ids", "attention_mask"}},
             {"model_max_length", 131072},
             {"pad_token", "<|endoftext|>"},
             {"tokenizer_class", "PreTrainedTokenizerFast"}};
}

}  // namespace

const FamilySpec kGptOssSpec{
    .family = Family::kGptOss,
    .model_type = "gpt_oss",
    .architectures = {"GptOssForCausalLM"},
    .default_rope_theta = 150000.0,
    .default_norm_eps = 1e-5,
    .default_max_positions = 131072,
    .default_attention_bias = true,
    .default_kv_heads = 8,
    .default_head_dim = 64,
    .parse = parse,
    .layout = layout,
    .preset_config = preset,
    .full_preset = "gpt-oss-20b",
    .experts_key = "num_local_experts",
    .expert_intermediate_key = "intermediate_size",
    .adjust_config = adjust,
    .special_token_files = special_token_files,
};

}  // namespace moe::io
