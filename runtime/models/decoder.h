// DecoderModel: the pre-norm MoE decoder all four families share (runtime/models/README.md
// section 0):
//   x = embed(tokens); per layer: h = x + Attn(Norm1(x)); x = h + Mlp(Norm2(h)) where Mlp is the
//   MoE block on MoE layers and a dense gated MLP elsewhere; logits = lm_head(Norm(x)).
// A family file (qwen3_moe.cpp, olmoe.cpp, ...) fills a DecoderModel's weights and block options
// from its tensor names and config, so each family's differences are visible in its own file.
// Thread-safety: see Model.
#pragma once

#include <memory>
#include <vector>

#include "runtime/models/blocks.h"
#include "runtime/models/model.h"

namespace moe {

class WeightSource;

struct DecoderLayer {
  NormWeights input_norm;  // input_layernorm
  NormWeights post_norm;   // post_attention_layernorm
  AttentionBlock attn;
  bool is_moe = false;
  MoeBlock moe;    // is_moe
  DenseMlp dense;  // !is_moe
};

class DecoderModel : public Model {
 public:
  DecoderModel(io::ModelConfig config, std::shared_ptr<Backend> backend)
      : Model(std::move(config), std::move(backend)) {}

  Tensor embed;         // [V, H]
  std::vector<DecoderLayer> layers;
  NormWeights final_norm;
  Tensor lm_head;       // [V, H] (the embedding when tied)
  Tensor lm_head_bias;  // [V] (phimoe) or undefined

  void forward(const ForwardBatch& batch, KvCache& cache, HookList hooks, Tensor* logits) override;
  KvCacheSpec kv_spec() const override;
  int num_moe_layers() const override { return int(moe_layers_.size()); }
  const ExpertWeights& experts(int moe_layer) const override;

  // Called by the family builder once layers are filled: indexes the MoE layers and hands
  // every weight to the backend (prepare_weight).
  void finalize();
  // Family builders append the options that change the numbers (see Model::description()).
  void describe(const std::string& option) {
    description_ += (description_.empty() ? "" : " ") + option;
  }

 private:
  std::vector<int> moe_layers_;  // decoder layer index of each MoE layer
};

// Helpers for family builders.
// What every family names the Llama way: "model.layers.<i>.{input,post_attention}_layernorm",
// "self_attn.{q,k,v,o}_proj" (+ biases when `attention_bias`), the default RoPE table of the
// config and the layer's sliding window. The family adds q/k norms, sinks and the MLP.
DecoderLayer load_common_layer(const WeightSource& w, const io::ModelConfig& c, int layer,
                               const NormSpec& norm, bool attention_bias);
// "model.embed_tokens", "model.norm", "lm_head" (the embedding when tie_word_embeddings; with
// ".bias" when lm_head_bias). Call after the layers are filled: it finalizes the model.
void load_common_ends(DecoderModel& m, const WeightSource& w, const NormSpec& norm);
// The checkpoint's norm (weight, optional bias) with the family's NormSpec.
NormWeights load_norm(const WeightSource& w, const std::string& prefix, int64_t dim,
                      const NormSpec& spec, bool with_bias = false);
// Standard attention tensors "<prefix>{q,k,v,o}_proj.weight" (+ ".bias" when `bias`).
void load_attention_projections(const WeightSource& w, const std::string& prefix,
                                const io::ModelConfig& c, bool bias, AttentionBlock& a);
// Per-expert gate/up/down tensors "<prefix>{e}.<gate>.weight" ... (qwen3, olmoe: gate_proj,
// up_proj, down_proj; phimoe: w1, w3, w2), or the stacked layout "<prefix>gate_up_proj" [E, 2I, H]
// and "<prefix>down_proj" [E, H, I] when the per-expert names are absent.
ExpertWeights load_experts(const WeightSource& w, const std::string& prefix,
                           const io::ModelConfig& c, int moe_layer, const std::string& gate,
                           const std::string& up, const std::string& down,
                           const std::function<bool(int, int)>& hold_expert);

// Family builders (one file each) and the table that maps a family to its builder.
using FamilyBuilder = std::shared_ptr<Model> (*)(const io::ModelConfig&, const WeightSource&,
                                                 std::shared_ptr<Backend>,
                                                 const ModelLoadOptions&);
std::shared_ptr<Model> build_qwen3_moe(const io::ModelConfig& c, const WeightSource& w,
                                       std::shared_ptr<Backend> be, const ModelLoadOptions& o);
std::shared_ptr<Model> build_olmoe(const io::ModelConfig& c, const WeightSource& w,
                                   std::shared_ptr<Backend> be, const ModelLoadOptions& o);
std::shared_ptr<Model> build_gpt_oss(const io::ModelConfig& c, const WeightSource& w,
                                     std::shared_ptr<Backend> be, const ModelLoadOptions& o);
std::shared_ptr<Model> build_phimoe(const io::ModelConfig& c, const WeightSource& w,
                                    std::shared_ptr<Backend> be, const ModelLoadOptions& o);

}  // namespace moe
