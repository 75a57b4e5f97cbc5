// Building blocks shared by the family files: normalisation, rotary tables, the attention block,
// the dense gated MLP and the MoE block. A family file fills the weights (by its tensor names)
// and the options (its semantics); the blocks run them on a Backend.
//
// Blocks own nothing but their weight views (Tensor handles into the checkpoint) and options.
// Thread-safety: forward() calls of one block must not overlap.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "runtime/backend/backend.h"
#include "runtime/io/model_config.h"
#include "runtime/routing/router_hook.h"

namespace moe {

class ExpertRunner;

// ---- normalisation -----------------------------------------------------------------------
struct NormWeights {
  Tensor weight;  // [D]
  Tensor bias;    // [D] (LayerNorm) or undefined
  NormSpec spec;
  void apply(Backend& be, const Tensor& x, Tensor& out) const;  // x, out: [N, D]
};

// ---- rotary embeddings ------------------------------------------------------------------
// inv_freq for head_dim d, in f32 as transformers computes it: default theta^(-2i/d); YaRN
// (gpt_oss, see yarn_correction_range); LongRoPE (phimoe): 1 / (ext_i theta^(2i/d)) with ext the
// short or long factors (`long_factors`) and cos/sin scaled by the short or long mscale
// (`long_mscale`).
RopeTable make_rope_table(const io::RopeConfig& rope, int head_dim, bool long_factors = false,
                          bool long_mscale = false);
// YaRN's ramp bounds (low, high) in dimension pairs: d ln(orig / (beta 2 pi)) / (2 ln theta) for
// beta_fast and beta_slow, floored/ceiled only when rope.truncate, clamped to [0, d - 1].
// gpt-oss-20b: about (8.093, 17.398).
std::pair<double, double> yarn_correction_range(const io::RopeConfig& rope, int head_dim);

// ---- one forward step, as the blocks see it --------------------------------------------
struct StepInfo {
  std::span<const int32_t> token_pos;     // [T] position of each token in its sequence
  std::span<const AttentionSeq> seqs;     // [S] attention view of the step's sequences
  RouterContext router;                   // hook context (layer fields filled per layer)
};

// ---- attention ----------------------------------------------------------------------------
struct AttentionBlock {
  enum class QkNorm {
    kNone,
    kPerHead,  // RMSNorm over head_dim for each head (qwen3)
    kWhole,    // RMSNorm over the whole projected q (and k) vector before the head split (olmoe)
  };
  int num_heads = 0, num_kv_heads = 0, head_dim = 0;
  Tensor wq, wk, wv, wo;  // [nh*hd, H], [nkv*hd, H], [nkv*hd, H], [H, nh*hd]
  Tensor bq, bk, bv, bo;  // [nh*hd], [nkv*hd], [nkv*hd], [H] or undefined
  QkNorm qk_norm = QkNorm::kNone;
  NormWeights q_norm, k_norm;  // [hd] (kPerHead) or [nh*hd] / [nkv*hd] (kWhole)
  std::optional<float> clip_qkv;
  RopeTable rope;
  // LongRoPE: a sequence longer than long_rope_after tokens (counting this step's) rotates this
  // step's q and k with rope_long instead of rope; keys already cached keep their rotation.
  // 0 = `rope` for every sequence.
  RopeTable rope_long;
  int64_t long_rope_after = 0;
  AttentionArgs args;  // scale, sliding window, sinks
  Tensor sinks;        // [nh] (gpt_oss) or undefined; args.sinks points here

  // x: [T, H] normalised input; out: [T, H]
  void forward(Backend& be, const Tensor& x, const StepInfo& step, KvLayer& kv, Tensor& out) const;
};

// ---- dense gated MLP (qwen3 layers without experts) ---------------------------------------
struct DenseMlp {
  Tensor gate, up, down;  // [I, H], [I, H], [H, I]
  GluSpec glu;
  void forward(Backend& be, const Tensor& x, Tensor& out) const;  // x, out: [T, H]
};

// ---- MoE block ----------------------------------------------------------------------------
// router logits -> hooks.on_logits -> routing -> hooks.on_routed -> experts (runner or local).
struct MoeBlock {
  int moe_layer = 0;
  Tensor router;       // [E, H]
  Tensor router_bias;  // [E] (gpt_oss) or undefined
  routing::RoutingSpec routing;
  ExpertWeights experts;

  // x: [T, H] normalised input; out: [T, H]. `runner` null = local experts.
  void forward(Backend& be, const Tensor& x, StepInfo& step, HookList hooks,
               ExpertRunner* runner, Tensor& out) const;
};

}  // namespace moe
