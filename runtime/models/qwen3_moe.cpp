// Qwen3-MoE (Qwen3MoeForCausalLM, e.g. Qwen3-30B-A3B), runtime/models/README.md section 1.
// What differs from the shared decoder (decoder.h):
//  - attention: q_norm / k_norm are RMSNorms over head_dim applied to EACH head after the
//    projection and before RoPE; no biases;
//  - routing: softmax over all experts -> top-k -> renormalised iff norm_topk_prob;
//  - a layer is MoE iff config.moe_layer[i] (mlp_only_layers, decoder_sparse_step); the others
//    run a dense gated MLP of intermediate_size.
#include <fmt/format.h>

#include "runtime/models/decoder.h"
#include "runtime/models/weights.h"

namespace moe {

std::shared_ptr<Model> build_qwen3_moe(const io::ModelConfig& c, const WeightSource& w,
                                       std::shared_ptr<Backend> be, const ModelLoadOptions& o) {
  auto m = std::make_shared<DecoderModel>(c, std::move(be));
  const int64_t H = c.hidden_size;
  const NormSpec rms{NormSpec::Kind::kRmsCastThenScale, float(c.norm_eps)};
  int moe_index = 0;
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    DecoderLayer L = load_common_layer(w, c, i, rms, /*attention_bias=*/false);
    L.attn.qk_norm = AttentionBlock::QkNorm::kPerHead;
    L.attn.q_norm = load_norm(w, p + "self_attn.q_norm", c.head_dim, rms);
    L.attn.k_norm = load_norm(w, p + "self_attn.k_norm", c.head_dim, rms);

    L.is_moe = c.moe_layer[size_t(i)];
    if (L.is_moe) {
      MoeBlock& b = L.moe;
      b.router = w.get(p + "mlp.gate.weight", {c.num_experts, H});
      b.routing = {io::RoutingKind::kSoftmaxTopK, c.num_experts, c.top_k, c.norm_topk_prob, 0.0};
      b.experts = load_experts(w, p + "mlp.experts.", c, moe_index++, "gate_proj", "up_proj",
                               "down_proj", o.hold_expert);
    } else {
      const int64_t I = c.dense_intermediate_size;
      L.dense.gate = w.get(p + "mlp.gate_proj.weight", {I, H});
      L.dense.up = w.get(p + "mlp.up_proj.weight", {I, H});
      L.dense.down = w.get(p + "mlp.down_proj.weight", {H, I});
    }
    m->layers.push_back(std::move(L));
  }
  load_common_ends(*m, w, rms);
  return m;
}

}  // namespace moe
