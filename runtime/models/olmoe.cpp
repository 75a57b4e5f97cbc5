// OLMoE (OlmoeForCausalLM, e.g. OLMoE-1B-7B-0125-Instruct), runtime/models/README.md section 2.
// What differs from the shared decoder (decoder.h):
//  - attention: q_norm / k_norm are RMSNorms over the WHOLE projected q (k) vector, all heads
//    together, before the head split and RoPE; v is not normalised; with clip_qkv set, q, k and
//    v are clamped to [-clip, clip] after the norms;
//  - routing: softmax over all experts -> top-k, weights NOT renormalised (norm_topk_prob false
//    in the published checkpoints; the config's value is honoured);
//  - every layer is MoE.
#include <fmt/format.h>

#include "runtime/models/decoder.h"
#include "runtime/models/weights.h"

namespace moe {

std::shared_ptr<Model> build_olmoe(const io::ModelConfig& c, const WeightSource& w,
                                   std::shared_ptr<Backend> be, const ModelLoadOptions& o) {
  auto m = std::make_shared<DecoderModel>(c, std::move(be));
  const int64_t H = c.hidden_size;
  const NormSpec rms{NormSpec::Kind::kRmsCastThenScale, float(c.norm_eps)};
  const int64_t qd = int64_t(c.num_heads) * c.head_dim, kvd = int64_t(c.num_kv_heads) * c.head_dim;
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    DecoderLayer L = load_common_layer(w, c, i, rms, /*attention_bias=*/false);
    L.attn.qk_norm = AttentionBlock::QkNorm::kWhole;
    L.attn.q_norm = load_norm(w, p + "self_attn.q_norm", qd, rms);
    L.attn.k_norm = load_norm(w, p + "self_attn.k_norm", kvd, rms);
    if (c.clip_qkv) L.attn.clip_qkv = float(*c.clip_qkv);

    L.is_moe = true;
    MoeBlock& b = L.moe;
    b.router = w.get(p + "mlp.gate.weight", {c.num_experts, H});
    b.routing = {io::RoutingKind::kSoftmaxTopK, c.num_experts, c.top_k, c.norm_topk_prob, 0.0};
    b.experts = load_experts(w, p + "mlp.experts.", c, i, "gate_proj", "up_proj", "down_proj",
                             o.hold_expert);
    m->layers.push_back(std::move(L));
  }
  load_common_ends(*m, w, rms);
  return m;
}

}  // namespace moe
