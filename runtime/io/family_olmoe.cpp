// OLMoE (OlmoeForCausalLM, e.g. OLMoE-1B-7B-0125-Instruct): config keys, checkpoint layout,
// presets. runtime/models/README.md section 2; transformers' configuration_olmoe.py for
// defaults.
#include "runtime/io/config_fields.h"
#include "runtime/io/family_spec.h"

namespace moe::io {
namespace {

void parse(const JsonObject& j, ModelConfig& c) {
  require_silu(j);
  c.moe_intermediate_size = int(req_dim(j, "intermediate_size", kMaxIntermediate));
  c.norm_topk_prob = j.opt_bool("norm_topk_prob", false);
  if (auto clip = j.opt_number("clip_qkv")) {
    if (!(*clip > 0)) j.fail("clip_qkv", "null or a positive number");
    c.clip_qkv = *clip;
  }
  // q_norm is an RMSNorm over hidden_size values (all heads together): the heads must tile it.
  if (int64_t(c.num_heads) * c.head_dim != c.hidden_size) {
    throw input_error(j.where("head_dim"), "expected num_attention_heads x head_dim = hidden_size "
                      "({}) for OLMoE's whole-vector q_norm, found {} x {}", c.hidden_size,
                      c.num_heads, c.head_dim);
  }
  c.routing = RoutingKind::kSoftmaxTopK;
  c.norm = NormKind::kRms;
  c.qk_norm = true;
  c.qk_norm_per_head = false;
}

std::vector<TensorSpec> layout(const ModelConfig& c, DType dt) {
  std::vector<TensorSpec> out;
  add_embedding(out, c, dt);
  const int64_t h = c.hidden_size, e = c.num_experts, in = c.moe_intermediate_size;
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    add_tensor(out, p + "input_layernorm.weight", dt, {h}, TensorRole::kNormWeight);
    add_attention_projections(out, p + "self_attn.", c, dt);
    add_tensor(out, p + "self_attn.q_norm.weight", dt, {int64_t(c.num_heads) * c.head_dim},
               TensorRole::kNormWeight);
    add_tensor(out, p + "self_attn.k_norm.weight", dt, {int64_t(c.num_kv_heads) * c.head_dim},
               TensorRole::kNormWeight);
    add_tensor(out, p + "post_attention_layernorm.weight", dt, {h}, TensorRole::kNormWeight);
    add_tensor(out, p + "mlp.gate.weight", dt, {e, h}, TensorRole::kRouter);
    for (int64_t x = 0; x < e; ++x) {
      const std::string q = p + "mlp.experts." + std::to_string(x) + ".";
      add_tensor(out, q + "gate_proj.weight", dt, {in, h}, TensorRole::kExpertWeight);
      add_tensor(out, q + "up_proj.weight", dt, {in, h}, TensorRole::kExpertWeight);
      add_tensor(out, q + "down_proj.weight", dt, {h, in}, TensorRole::kExpertWeight);
    }
  }
  add_final_norm_and_head(out, c, dt);
  return out;
}

// OLMoE-1B-7B-0125-Instruct's config.json (transformers 4.47 spelling).
Json published() {
  return Json{{"architectures", {"OlmoeForCausalLM"}},
              {"attention_bias", false},
              {"attention_dropout", 0.0},
              {"clip_qkv", nullptr},
              {"eos_token_id", 50279},
              {"hidden_act", "silu"},
              {"hidden_size", 2048},
              {"initializer_range", 0.02},
              {"intermediate_size", 1024},
              {"max_position_embeddings", 4096},
              {"model_type", "olmoe"},
              {"norm_topk_prob", false},
              {"num_attention_heads", 16},
              {"num_experts", 64},
              {"num_experts_per_tok", 8},
              {"num_hidden_layers", 16},
              {"num_key_value_heads", 16},
              {"output_router_logits", false},
              {"pad_token_id", 1},
              {"rms_norm_eps", 1e-05},
              {"rope_scaling", nullptr},
              {"rope_theta", 10000.0},
              {"router_aux_loss_coef", 0.01},
              {"tie_word_embeddings", false},
              {"torch_dtype", "bfloat16"},
              {"transformers_version", "4.47.0"},
              {"use_cache", true},
              {"vocab_size", 50304}};
}

Json preset(std::string_view name) {
  Json c = published();
  if (name == "olmoe-1b-7b") return c;
  if (name != "tiny") return nullptr;
  c["num_hidden_layers"] = 2;
  c["hidden_size"] = 64;
  c["num_attention_heads"] = 4;
  c["num_key_value_heads"] = 4;
  c["num_experts"] = 8;
  c["num_experts_per_tok"] = 2;
  c["intermediate_size"] = 32;
  c["vocab_size"] = 1024;
  return c;
}

void adjust(Json&) {}

void special_token_files(const std::map<std::string, int32_t>& ids, Json& config, Json& gen,
                         Json& tok) {
  config["eos_token_id"] = token_id(ids, "<|endoftext|>");
  config["pad_token_id"] = token_id(ids, "<|padding|>");
  gen = Json{{"eos_token_id", token_id(ids, "<|endoftext|>")},
             {"pad_token_id", token_id(ids, "<|padding|>")},
             {"transformers_version", "4.47.0"}};
  tok = Json{{"add_bos_token", false},
             {"add_eos_token", false},
             {"bos_token", "<|endoftext|>"},
             {"clean_up_tokenization_spaces", true},
             {"eos_token", "<|endoftext|>"},
             {"model_max_length", 4096},
             {"pad_token", ids.count("<|padding|>") ? Json("<|padding|>") : Json(nullptr)},
             {"tokenizer_class", "GPTNeoXTokenizer"},
             {"unk_token", "<|endoftext|>"}};
}

}  // namespace

const FamilySpec kOlmoeSpec{
    .family = Family::kOlmoe,
    .model_type = "olmoe",
    .architectures = {"OlmoeForCausalLM"},
    .default_rope_theta = 10000.0,
    .default_norm_eps = 1e-5,
    .default_max_positions = 4096,
    .default_attention_bias = false,
    .default_kv_heads = 0,
    .default_head_dim = 0,
    .parse = parse,
    .layout = layout,
    .preset_config = preset,
    .full_preset = "olmoe-1b-7b",
    .experts_key = "num_experts",
    .expert_intermediate_key = "intermediate_size",
    .adjust_config = adjust,
    .special_token_files = special_token_files,
};

}  // namespace moe::io
