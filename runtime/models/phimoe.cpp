// Phi-3.5-MoE (PhimoeForCausalLM; published as PhiMoEForCausalLM), runtime/models/README.md
// section 4.
// What differs from the shared decoder (decoder.h):
//  - norms: LayerNorm with bias (eps = rms_norm_eps) for input, post-attention and final norm;
//  - attention: q/k/v/o biases; LongRoPE: short factors and short mscale while a sequence is at
//    most original_max_position_embeddings long; beyond it, per ModelLoadOptions::longrope,
//    long factors and long mscale (kReference: the original Phi-3.5 code and vLLM)
//    or short factors and long mscale (kTransformers: transformers 5.23). The choice is made per
//    sequence and step from its length after the step; cached keys keep their rotation.
//    Model::description() says "longrope=reference" or "longrope=transformers";
//  - router: raw gate logits (no bias; the hooks see them), sparsemixer top-2 (inference
//    branch, routing.h), weights not renormalised;
//  - experts: block_sparse_moe.experts.{e}.w1 (gate), w3 (up), w2 (down), SiLU;
//  - lm_head has a bias; every layer is MoE.
#include <fmt/format.h>

#include "runtime/models/decoder.h"
#include "runtime/models/weights.h"

namespace moe {

std::shared_ptr<Model> build_phimoe(const io::ModelConfig& c, const WeightSource& w,
                                    std::shared_ptr<Backend> be, const ModelLoadOptions& o) {
  auto m = std::make_shared<DecoderModel>(c, std::move(be));
  const int64_t H = c.hidden_size;
  const NormSpec ln{NormSpec::Kind::kLayerNorm, float(c.norm_eps)};
  const bool longrope = c.rope.kind == io::RopeConfig::Kind::kLongRope;
  const bool reference = o.longrope == ModelLoadOptions::LongRope::kReference;
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    DecoderLayer L = load_common_layer(w, c, i, ln, c.attention_bias);
    if (longrope) {
      L.attn.rope = make_rope_table(c.rope, c.head_dim, /*long_factors=*/false,
                                    /*long_mscale=*/false);
      L.attn.rope_long = make_rope_table(c.rope, c.head_dim, /*long_factors=*/reference,
                                         /*long_mscale=*/true);
      L.attn.long_rope_after = c.rope.original_max_position_embeddings;
    }

    L.is_moe = true;
    MoeBlock& b = L.moe;
    b.router = w.get(p + "block_sparse_moe.gate.weight", {c.num_experts, H});
    b.routing = {io::RoutingKind::kSparseMixer, c.num_experts, 2, false, c.router_jitter_noise};
    b.experts = load_experts(w, p + "block_sparse_moe.experts.", c, i, "w1", "w3", "w2",
                             o.hold_expert);
    m->layers.push_back(std::move(L));
  }
  if (longrope) m->describe(reference ? "longrope=reference" : "longrope=transformers");
  load_common_ends(*m, w, ln);
  return m;
}

}  // namespace moe
