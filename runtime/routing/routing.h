// Routing functions: how each family turns router logits into selected experts and weights
// (runtime/models/README.md section 7). Plain functions over host arrays, used by the MoE block
// and reusable by interventions and analyses that need to know "what would have been selected".
//
// All functions take logits [T, E] row-major f32 and write experts [T, k] (i32, the family's
// top-k order: descending score, ties broken by the lower expert id) and weights [T, k] (f32).
// Softmax statistics are computed in f32 (as the reference computes them in fp32).
// Thread-safety: pure functions (rows are independent; callers may split T across threads).
#pragma once

#include <cstdint>

#include "runtime/io/model_config.h"

namespace moe::routing {

struct RoutingSpec {
  io::RoutingKind kind = io::RoutingKind::kSoftmaxTopK;
  int num_experts = 0;            // E
  int top_k = 0;                  // k (sparsemixer: 2)
  bool renormalize = true;        // kSoftmaxTopK: divide the k probabilities by their sum
  double sparsemixer_eps = 0.01;  // kSparseMixer: router_jitter_noise
  // Compute in bf16 where the reference does so in the activation dtype for a bf16 checkpoint
  // (the sparsemixer's mask: see sparsemixer()). Set by a backend emulating bf16.
  bool bf16_activations = false;
};

// softmax over all E (f32) -> top-k of the probabilities -> optional renormalisation.
// qwen3_moe (renormalize = norm_topk_prob = true), olmoe (renormalize = false).
void softmax_topk(const float* logits, int64_t T, int E, int k, bool renormalize,
                  int32_t* experts, float* weights);

// top-k of the raw logits -> softmax over those k values. gpt_oss.
void topk_softmax(const float* logits, int64_t T, int E, int k, int32_t* experts, float* weights);

// Phi-3.5-MoE sparsemixer, inference branch (k = 2; weights are not renormalised):
//   i1 = argmax s; w1 = softmax(s masked where (s_max - s_j) / max(|s_j|, s_max) > 2 eps)[i1];
//   i2 = argmax of s without i1; w2 likewise with the second maximum (mask uses the original s).
// argmax takes the lowest index among equal maxima (torch.max). A 0/0 gap (s_j = s_max = 0) is
// NaN and does not mask, as in the reference. With `bf16`, the gap, the quotient and the
// threshold 2 eps are rounded to bf16 (the reference computes the mask in the activation dtype).
void sparsemixer(const float* logits, int64_t T, int E, double eps, int32_t* experts,
                 float* weights, bool bf16 = false);

// Dispatches on spec.kind.
void route(const RoutingSpec& spec, const float* logits, int64_t T, int32_t* experts,
           float* weights);

// Indices of the k largest values of row[0..E) in descending order, ties to the lower index.
void topk_indices(const float* row, int E, int k, int32_t* out);

// In-place numerically stable softmax of n values in f32.
void softmax_inplace(float* v, int n);

}  // namespace moe::routing
