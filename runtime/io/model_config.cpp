// config.json -> ModelConfig: the keys every family shares, then the family's own keys
// (FamilySpec::parse in family_<name>.cpp), then the derived per-layer fields.
#include "runtime/io/model_config.h"

#include <cmath>

#include "runtime/core/error.h"
#include "runtime/io/config_fields.h"
#include "runtime/io/family_spec.h"
#include "runtime/io/files.h"

namespace moe::io {

std::string_view family_name(Family f) { return family_spec(f).model_type; }

std::optional<Family> parse_family(std::string_view model_type) {
  for (const FamilySpec* s : all_family_specs())
    if (s->model_type == model_type) return s->family;
  return std::nullopt;
}

std::string_view routing_name(RoutingKind k) {
  switch (k) {
    case RoutingKind::kSoftmaxTopK: return "softmax_topk";
    case RoutingKind::kTopKSoftmax: return "topk_softmax";
    case RoutingKind::kSparseMixer: return "sparsemixer";
  }
  return "?";
}

std::string_view rope_kind_name(RopeConfig::Kind k) {
  switch (k) {
    case RopeConfig::Kind::kDefault: return "default";
    case RopeConfig::Kind::kYarn: return "yarn";
    case RopeConfig::Kind::kLongRope: return "longrope";
  }
  return "?";
}

int ModelConfig::num_moe_layers() const {
  int n = 0;
  for (bool b : moe_layer) n += b;
  return n;
}

std::string supported_families() {
  std::string s;
  for (const FamilySpec* f : all_family_specs()) {
    if (!s.empty()) s += ", ";
    s += std::string(f->model_type) + " (";
    for (size_t i = 0; i < f->architectures.size(); ++i)
      s += (i ? " or " : "") + std::string(f->architectures[i]);
    s += ")";
  }
  return s;
}

namespace {

const FamilySpec* spec_for_architecture(std::string_view arch) {
  for (const FamilySpec* f : all_family_specs())
    for (std::string_view a : f->architectures)
      if (a == arch) return f;
  return nullptr;
}

// model_type decides the family; architectures[0], when given, must be one of its classes.
const FamilySpec& detect_family(const JsonObject& j, std::string* architecture) {
  const auto model_type = j.opt_string("model_type");
  const auto archs = j.opt_string_list("architectures");
  if (archs && archs->empty()) j.fail("architectures", "a list with the model class name");
  const FamilySpec* by_type = nullptr;
  if (model_type) {
    auto fam = parse_family(*model_type);
    if (!fam) j.fail("model_type", "one of the supported model types: " + supported_families());
    by_type = &family_spec(*fam);
  }
  const FamilySpec* by_arch = nullptr;
  if (archs) {
    by_arch = spec_for_architecture(archs->front());
    if (!by_arch) {
      throw input_error(j.where("architectures[0]"),
                        "expected one of the supported architectures: {}, found \"{}\"",
                        supported_families(), archs->front());
    }
  }
  if (!by_type && !by_arch) {
    throw input_error(j.where("model_type"), "expected one of {}, found nothing (neither "
                      "model_type nor architectures is given)", supported_families());
  }
  if (by_type && by_arch && by_type != by_arch) {
    throw input_error(j.where("architectures[0]"),
                      "expected an architecture of model_type {} ({}), found \"{}\"",
                      by_type->model_type, by_type->architectures[0], archs->front());
  }
  const FamilySpec& f = by_type ? *by_type : *by_arch;
  *architecture = archs ? archs->front() : std::string(f.architectures[0]);
  return f;
}

DType parse_torch_dtype(const JsonObject& j) {
  // transformers 5 writes "dtype", transformers 4 "torch_dtype".
  const char* key = j.has("dtype") ? "dtype" : "torch_dtype";
  const auto s = j.opt_string(key);
  if (!s) return DType::BF16;
  if (*s == "bfloat16") return DType::BF16;
  if (*s == "float16") return DType::F16;
  if (*s == "float32") return DType::F32;
  j.fail(key, "one of \"bfloat16\", \"float16\", \"float32\"");
}

// YaRN's cos/sin scale, as transformers' _compute_yarn_parameters.
double yarn_attention_factor(double factor, std::optional<double> mscale,
                             std::optional<double> mscale_all_dim) {
  auto get_mscale = [](double scale, double m) {
    return scale <= 1 ? 1.0 : 0.1 * m * std::log(scale) + 1.0;
  };
  if (mscale && mscale_all_dim && *mscale != 0 && *mscale_all_dim != 0)
    return get_mscale(factor, *mscale) / get_mscale(factor, *mscale_all_dim);
  return get_mscale(factor, 1.0);
}

// rope_parameters (transformers 5) or rope_scaling (transformers 4) plus rope_theta.
void parse_rope(const JsonObject& j, const FamilySpec& f, ModelConfig& c) {
  const char* key = j.has("rope_parameters") ? "rope_parameters" : "rope_scaling";
  std::optional<JsonObject> r = j.opt_object(key);
  RopeConfig& rope = c.rope;
  rope.theta = j.opt_number("rope_theta").value_or(f.default_rope_theta);
  if (!r) return;  // default RoPE with rope_theta (gpt_oss's parse supplies its YaRN default)
  if (auto t = r->opt_number("rope_theta")) rope.theta = *t;
  const char* type_key = r->has("rope_type") ? "rope_type" : "type";
  const std::string type = r->opt_string(type_key).value_or("default");
  if (type == "default") {
    rope.kind = RopeConfig::Kind::kDefault;
  } else if (type == "yarn") {
    rope.kind = RopeConfig::Kind::kYarn;
    rope.factor = r->req_number("factor");
    if (rope.factor < 1.0) r->fail("factor", "a number >= 1");
    rope.beta_fast = r->opt_number("beta_fast").value_or(32.0);
    rope.beta_slow = r->opt_number("beta_slow").value_or(1.0);
    rope.truncate = r->opt_bool("truncate", true);
    rope.original_max_position_embeddings =
        r->opt_int("original_max_position_embeddings").value_or(c.max_position_embeddings);
    if (auto af = r->opt_number("attention_factor")) {
      if (*af < 0) r->fail("attention_factor", "a number >= 0");
      rope.attention_factor = *af;
    } else {
      rope.attention_factor = yarn_attention_factor(rope.factor, r->opt_number("mscale"),
                                                    r->opt_number("mscale_all_dim"));
    }
  } else if (type == "longrope") {
    rope.kind = RopeConfig::Kind::kLongRope;
    const size_t half = size_t(c.head_dim / 2);
    for (const char* k : {"short_factor", "long_factor"}) {
      auto v = r->opt_number_list(k);
      if (!v) r->fail(k, "a list of head_dim/2 = " + std::to_string(half) + " numbers");
      if (v->size() != half) {
        throw input_error(r->where(k), "expected head_dim/2 = {} numbers (head_dim {}), found {}",
                          half, c.head_dim, v->size());
      }
      (std::string_view(k) == "short_factor" ? rope.short_factor : rope.long_factor) = *v;
    }
    // Phi-3 style configs keep the pretraining length at the top level too; it wins there.
    rope.original_max_position_embeddings =
        j.opt_int("original_max_position_embeddings")
            .value_or(r->opt_int("original_max_position_embeddings")
                          .value_or(c.max_position_embeddings));
    rope.factor = r->opt_number("factor").value_or(
        double(c.max_position_embeddings) / double(rope.original_max_position_embeddings));
    // The family's parse decides whether short/long_mscale are required (phimoe).
    rope.short_mscale = r->opt_number("short_mscale").value_or(1.0);
    rope.long_mscale = r->opt_number("long_mscale").value_or(1.0);
  } else {
    r->fail(type_key, "one of the supported RoPE types \"default\", \"yarn\", \"longrope\"");
  }
  if (rope.kind != RopeConfig::Kind::kDefault && rope.original_max_position_embeddings <= 0) {
    r->fail("original_max_position_embeddings", "a positive integer");
  }
}

}  // namespace

ModelConfig parse_model_config(const std::string& json_text, const std::string& label) {
  const Json root = parse_json(json_text, label);
  const JsonObject j(root, label);
  ModelConfig c;
  c.source = label;
  const FamilySpec& f = detect_family(j, &c.architecture);
  c.family = f.family;

  c.hidden_size = int(req_dim(j, "hidden_size", kMaxHidden));
  c.num_layers = int(req_dim(j, "num_hidden_layers", kMaxLayers));
  c.num_heads = int(req_dim(j, "num_attention_heads", kMaxHeads));
  c.vocab_size = req_dim(j, "vocab_size", kMaxVocab);
  c.num_kv_heads = int(opt_dim(j, "num_key_value_heads", kMaxHeads)
                           .value_or(f.default_kv_heads ? f.default_kv_heads : c.num_heads));
  if (c.num_heads % c.num_kv_heads != 0) {
    throw input_error(j.where("num_key_value_heads"),
                      "expected a divisor of num_attention_heads ({}), found {}", c.num_heads,
                      c.num_kv_heads);
  }
  if (auto hd = opt_dim(j, "head_dim", kMaxHeadDim)) {
    c.head_dim = int(*hd);
  } else if (f.default_head_dim) {
    c.head_dim = f.default_head_dim;
  } else {
    if (c.hidden_size % c.num_heads != 0) {
      throw input_error(j.where("head_dim"), "expected head_dim, or a hidden_size ({}) divisible "
                        "by num_attention_heads ({}), found neither", c.hidden_size, c.num_heads);
    }
    c.head_dim = c.hidden_size / c.num_heads;
  }
  if (c.head_dim % 2 != 0) {
    throw input_error(j.where("head_dim"), "expected an even head_dim (RoPE rotates pairs), "
                      "found {}", c.head_dim);
  }

  // Experts: "num_experts" (qwen3, olmoe as published) or "num_local_experts" (gpt_oss,
  // phimoe, and transformers 5's spelling for qwen3).
  const auto e1 = opt_dim(j, "num_experts", kMaxExperts);
  const auto e2 = opt_dim(j, "num_local_experts", kMaxExperts);
  if (!e1 && !e2) {
    throw input_error(j.where("num_experts"), "expected the number of experts (num_experts or "
                      "num_local_experts), found neither");
  }
  if (e1 && e2 && *e1 != *e2) {
    throw input_error(j.where("num_local_experts"), "expected the same value as num_experts "
                      "({}), found {}", *e1, *e2);
  }
  c.num_experts = int(e1 ? *e1 : *e2);
  c.top_k = int(req_dim(j, "num_experts_per_tok", kMaxExperts));
  if (c.top_k > c.num_experts) {
    throw input_error(j.where("num_experts_per_tok"), "expected at most the number of experts "
                      "({}), found {}", c.num_experts, c.top_k);
  }

  c.norm_eps = j.opt_number("rms_norm_eps").value_or(f.default_norm_eps);
  if (!(c.norm_eps > 0)) j.fail("rms_norm_eps", "a positive number");
  c.max_position_embeddings =
      opt_dim(j, "max_position_embeddings", kMaxPositions).value_or(f.default_max_positions);
  c.attention_bias = j.opt_bool("attention_bias", f.default_attention_bias);
  c.tie_word_embeddings = j.opt_bool("tie_word_embeddings", false);
  c.torch_dtype = parse_torch_dtype(j);
  c.moe_layer.assign(size_t(c.num_layers), true);
  c.sliding_window.assign(size_t(c.num_layers), 0);
  parse_rope(j, f, c);
  if (!(c.rope.theta > 0)) j.fail("rope_theta", "a positive number");

  f.parse(j, c);
  return c;
}

ModelConfig load_model_config(const std::filesystem::path& dir) {
  const auto path = dir / "config.json";
  return parse_model_config(read_text_file(path), path.string());
}

}  // namespace moe::io
