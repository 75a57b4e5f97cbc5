// The family table and the pieces the family files share.
#include "runtime/io/family_spec.h"

#include "runtime/core/error.h"

namespace moe::io {

const std::vector<const FamilySpec*>& all_family_specs() {
  static const std::vector<const FamilySpec*> specs{&kQwen3MoeSpec, &kOlmoeSpec, &kGptOssSpec,
                                                    &kPhimoeSpec};
  return specs;
}

const FamilySpec& family_spec(Family f) {
  for (const FamilySpec* s : all_family_specs())
    if (s->family == f) return *s;
  MOE_ASSERT(false, "no FamilySpec for family {}", int(f));
  __builtin_unreachable();
}

void require_silu(const JsonObject& j) {
  const auto act = j.opt_string("hidden_act");
  if (act && *act != "silu") j.fail("hidden_act", "\"silu\" (the only activation this family uses)");
}

void add_tensor(std::vector<TensorSpec>& out, std::string name, DType dtype, Shape shape,
                TensorRole role) {
  out.push_back(TensorSpec{std::move(name), dtype, std::move(shape), role});
}

void add_attention_projections(std::vector<TensorSpec>& out, const std::string& p,
                               const ModelConfig& c, DType dt) {
  const int64_t q = int64_t(c.num_heads) * c.head_dim, kv = int64_t(c.num_kv_heads) * c.head_dim;
  const int64_t h = c.hidden_size;
  const std::pair<const char*, Shape> proj[] = {
      {"q_proj", {q, h}}, {"k_proj", {kv, h}}, {"v_proj", {kv, h}}, {"o_proj", {h, q}}};
  for (const auto& [name, shape] : proj) {
    add_tensor(out, p + name + ".weight", dt, shape, TensorRole::kLinear);
    if (c.attention_bias) add_tensor(out, p + name + ".bias", dt, {shape[0]}, TensorRole::kBias);
  }
}

void add_embedding(std::vector<TensorSpec>& out, const ModelConfig& c, DType dt) {
  add_tensor(out, "model.embed_tokens.weight", dt, {c.vocab_size, c.hidden_size},
             TensorRole::kEmbedding);
}

void add_final_norm_and_head(std::vector<TensorSpec>& out, const ModelConfig& c, DType dt) {
  add_tensor(out, "model.norm.weight", dt, {c.hidden_size}, TensorRole::kNormWeight);
  if (c.norm == NormKind::kLayerNorm)
    add_tensor(out, "model.norm.bias", dt, {c.hidden_size}, TensorRole::kBias);
  if (!c.tie_word_embeddings)
    add_tensor(out, "lm_head.weight", dt, {c.vocab_size, c.hidden_size}, TensorRole::kLmHead);
  if (c.lm_head_bias) add_tensor(out, "lm_head.bias", dt, {c.vocab_size}, TensorRole::kBias);
}

Json token_id(const std::map<std::string, int32_t>& ids, std::string_view text) {
  auto it = ids.find(std::string(text));
  return it == ids.end() ? Json(nullptr) : Json(it->second);
}

Json token_ids(const std::map<std::string, int32_t>& ids, std::vector<std::string_view> texts) {
  Json out = Json::array();
  for (std::string_view t : texts)
    if (auto it = ids.find(std::string(t)); it != ids.end()) out.push_back(it->second);
  return out;
}

}  // namespace moe::io
