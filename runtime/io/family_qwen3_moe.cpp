// Qwen3-MoE (Qwen3MoeForCausalLM, e.g. Qwen3-30B-A3B): config keys, checkpoint layout, presets.
// runtime/models/README.md section 1; transformers' configuration_qwen3_moe.py for defaults.
#include <algorithm>

#include "runtime/io/config_fields.h"
#include "runtime/io/family_spec.h"

namespace moe::io {
namespace {

void parse(const JsonObject& j, ModelConfig& c) {
  require_silu(j);
  c.moe_intermediate_size = int(req_dim(j, "moe_intermediate_size", kMaxIntermediate));
  c.dense_intermediate_size = int(opt_dim(j, "intermediate_size", kMaxIntermediate).value_or(6144));
  // A layer is MoE iff it is not in mlp_only_layers and (i + 1) % decoder_sparse_step == 0.
  const int64_t step = opt_dim(j, "decoder_sparse_step", kMaxLayers).value_or(1);
  const auto mlp_only = j.opt_int_list("mlp_only_layers").value_or(std::vector<int64_t>{});
  for (size_t k = 0; k < mlp_only.size(); ++k) {
    if (mlp_only[k] < 0 || mlp_only[k] >= c.num_layers) {
      throw input_error(j.where("mlp_only_layers[" + std::to_string(k) + "]"),
                        "expected a layer index in [0, {}) (num_hidden_layers), found {}",
                        c.num_layers, mlp_only[k]);
    }
  }
  for (int i = 0; i < c.num_layers; ++i) {
    const bool dense = std::find(mlp_only.begin(), mlp_only.end(), i) != mlp_only.end();
    c.moe_layer[size_t(i)] = !dense && (i + 1) % step == 0;
  }
  c.norm_topk_prob = j.opt_bool("norm_topk_prob", false);
  c.routing = RoutingKind::kSoftmaxTopK;
  c.norm = NormKind::kRms;
  c.qk_norm = true;
  c.qk_norm_per_head = true;
  // transformers keeps sliding_window only with use_sliding_window (then on every layer).
  if (j.opt_bool("use_sliding_window", false)) {
    const int w = int(opt_dim(j, "sliding_window", kMaxPositions).value_or(4096));
    std::fill(c.sliding_window.begin(), c.sliding_window.end(), w);
  }
}

std::vector<TensorSpec> layout(const ModelConfig& c, DType dt) {
  std::vector<TensorSpec> out;
  add_embedding(out, c, dt);
  const int64_t h = c.hidden_size, e = c.num_experts;
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    add_tensor(out, p + "input_layernorm.weight", dt, {h}, TensorRole::kNormWeight);
    add_attention_projections(out, p + "self_attn.", c, dt);
    add_tensor(out, p + "self_attn.q_norm.weight", dt, {c.head_dim}, TensorRole::kNormWeight);
    add_tensor(out, p + "self_attn.k_norm.weight", dt, {c.head_dim}, TensorRole::kNormWeight);
    add_tensor(out, p + "post_attention_layernorm.weight", dt, {h}, TensorRole::kNormWeight);
    if (c.moe_layer[size_t(i)]) {
      const int64_t in = c.moe_intermediate_size;
      add_tensor(out, p + "mlp.gate.weight", dt, {e, h}, TensorRole::kRouter);
      for (int64_t x = 0; x < e; ++x) {
        const std::string q = p + "mlp.experts." + std::to_string(x) + ".";
        add_tensor(out, q + "gate_proj.weight", dt, {in, h}, TensorRole::kExpertWeight);
        add_tensor(out, q + "up_proj.weight", dt, {in, h}, TensorRole::kExpertWeight);
        add_tensor(out, q + "down_proj.weight", dt, {h, in}, TensorRole::kExpertWeight);
      }
    } else {
      const int64_t in = c.dense_intermediate_size;
      add_tensor(out, p + "mlp.gate_proj.weight", dt, {in, h}, TensorRole::kLinear);
      add_tensor(out, p + "mlp.up_proj.weight", dt, {in, h}, TensorRole::kLinear);
      add_tensor(out, p + "mlp.down_proj.weight", dt, {h, in}, TensorRole::kLinear);
    }
  }
  add_final_norm_and_head(out, c, dt);
  return out;
}

// Qwen3-30B-A3B's config.json (transformers 4.51 spelling).
Json published() {
  return Json{{"architectures", {"Qwen3MoeForCausalLM"}},
              {"attention_bias", false},
              {"attention_dropout", 0.0},
              {"bos_token_id", 151643},
              {"decoder_sparse_step", 1},
              {"eos_token_id", 151645},
              {"head_dim", 128},
              {"hidden_act", "silu"},
              {"hidden_size", 2048},
              {"initializer_range", 0.02},
              {"intermediate_size", 6144},
              {"max_position_embeddings", 40960},
              {"max_window_layers", 48},
              {"mlp_only_layers", Json::array()},
              {"model_type", "qwen3_moe"},
              {"moe_intermediate_size", 768},
              {"norm_topk_prob", true},
              {"num_attention_heads", 32},
              {"num_experts", 128},
              {"num_experts_per_tok", 8},
              {"num_hidden_layers", 48},
              {"num_key_value_heads", 4},
              {"output_router_logits", false},
              {"rms_norm_eps", 1e-06},
              {"rope_scaling", nullptr},
              {"rope_theta", 1000000.0},
              {"router_aux_loss_coef", 0.001},
              {"sliding_window", nullptr},
              {"tie_word_embeddings", false},
              {"torch_dtype", "bfloat16"},
              {"transformers_version", "4.51.0"},
              {"use_cache", true},
              {"use_sliding_window", false},
              {"vocab_size", 151936}};
}

Json preset(std::string_view name) {
  Json c = published();
  if (name == "qwen3-30b-a3b") return c;
  if (name != "tiny") return nullptr;
  // head_dim * heads != hidden on purpose, as in the published model.
  c["num_hidden_layers"] = 2;
  c["max_window_layers"] = 2;
  c["hidden_size"] = 64;
  c["num_attention_heads"] = 4;
  c["num_key_value_heads"] = 2;
  c["head_dim"] = 32;
  c["num_experts"] = 8;
  c["num_experts_per_tok"] = 2;
  c["moe_intermediate_size"] = 32;
  c["intermediate_size"] = 128;
  c["vocab_size"] = 1024;
  return c;
}

void adjust(Json& c) { c["max_window_layers"] = c["num_hidden_layers"]; }

void special_token_files(const std::map<std::string, int32_t>& ids, Json& config, Json& gen,
                         Json& tok) {
  config["bos_token_id"] = token_id(ids, "<|endoftext|>");
  config["eos_token_id"] = token_id(ids, "<|im_end|>");
  gen = Json{{"bos_token_id", token_id(ids, "<|endoftext|>")},
             {"do_sample", true},
             {"eos_token_id", token_ids(ids, {"<|im_end|>", "<|endoftext|>"})},
             {"pad_token_id", token_id(ids, "<|endoftext|>")},
             {"temperature", 0.6},
             {"top_k", 20},
             {"top_p", 0.95},
             {"transformers_version", "4.51.0"}};
  tok = Json{{"add_bos_token", false},
             {"add_prefix_space", false},
             {"bos_token", nullptr},
             {"clean_up_tokenization_spaces", false},
             {"eos_token", "<|im_end|>"},
             {"errors", "replace"},
             {"model_max_length", 131072},
             {"pad_token", "<|endoftext|>"},
             {"split_special_tokens", false},
             {"tokenizer_class", "Qwen2Tokenizer"},
             {"unk_token", nullptr}};
}

}  // namespace

const FamilySpec kQwen3MoeSpec{
    .family = Family::kQwen3Moe,
    .model_type = "qwen3_moe",
    .architectures = {"Qwen3MoeForCausalLM"},
    .default_rope_theta = 10000.0,
    .default_norm_eps = 1e-6,
    .default_max_positions = 32768,
    .default_attention_bias = false,
    .default_kv_heads = 4,
    .default_head_dim = 0,
    .parse = parse,
    .layout = layout,
    .preset_config = preset,
    .full_preset = "qwen3-30b-a3b",
    .experts_key = "num_experts",
    .expert_intermediate_key = "moe_intermediate_size",
    .adjust_config = adjust,
    .special_token_files = special_token_files,
};

}  // namespace moe::io
