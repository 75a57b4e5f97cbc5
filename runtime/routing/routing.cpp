#include "runtime/routing/routing.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "runtime/core/dtype.h"
#include "runtime/core/error.h"

namespace moe::routing {

void topk_indices(const float* row, int E, int k, int32_t* out) {
  MOE_ASSERT(k >= 1 && k <= E, "top-{} of {} experts", k, E);
  float val[64];
  MOE_ASSERT(k <= 64, "top-k above 64 is not supported");
  for (int i = 0; i < k; ++i) out[i] = -1;
  for (int j = 0; j < E; ++j) {
    const float v = row[j];
    if (out[k - 1] >= 0 && !(v > val[k - 1])) continue;
    int p = k - 1;
    while (p > 0 && (out[p - 1] < 0 || v > val[p - 1])) {
      val[p] = val[p - 1];
      out[p] = out[p - 1];
      --p;
    }
    val[p] = v;
    out[p] = j;
  }
}

void softmax_inplace(float* v, int n) {
  float m = -std::numeric_limits<float>::infinity();
  for (int i = 0; i < n; ++i) m = std::max(m, v[i]);
  if (m == -std::numeric_limits<float>::infinity()) m = 0.0f;  // all masked: exp(-inf) = 0
  float s = 0.0f;
  for (int i = 0; i < n; ++i) {
    v[i] = std::exp(v[i] - m);
    s += v[i];
  }
  const float inv = 1.0f / s;
  for (int i = 0; i < n; ++i) v[i] *= inv;
}

void softmax_topk(const float* logits, int64_t T, int E, int k, bool renormalize,
                  int32_t* experts, float* weights) {
  std::vector<float> p(static_cast<size_t>(E));
  for (int64_t t = 0; t < T; ++t) {
    std::copy(logits + t * E, logits + (t + 1) * E, p.begin());
    softmax_inplace(p.data(), E);
    int32_t* ex = experts + t * k;
    float* w = weights + t * k;
    topk_indices(p.data(), E, k, ex);
    float sum = 0.0f;
    for (int j = 0; j < k; ++j) {
      w[j] = p[size_t(ex[j])];
      sum += w[j];
    }
    if (renormalize)
      for (int j = 0; j < k; ++j) w[j] /= sum;
  }
}

void topk_softmax(const float* logits, int64_t T, int E, int k, int32_t* experts, float* weights) {
  for (int64_t t = 0; t < T; ++t) {
    const float* row = logits + t * E;
    int32_t* ex = experts + t * k;
    float* w = weights + t * k;
    topk_indices(row, E, k, ex);
    for (int j = 0; j < k; ++j) w[j] = row[ex[j]];
    softmax_inplace(w, k);
  }
}

namespace {

// One sparsemixer stage: among the candidates (row with `excluded` removed), the argmax i and
// the softmax weight of i over the candidates that pass the relative-gap mask against the
// ORIGINAL scores.
void sparsemixer_stage(const float* s, int E, double eps, int excluded, bool bf16, int32_t* idx,
                       float* w) {
  const auto rnd = [bf16](float v) { return bf16 ? round_bf16(v) : v; };
  const float ninf = -std::numeric_limits<float>::infinity();
  int best = -1;
  float m = ninf;
  for (int j = 0; j < E; ++j) {
    if (j == excluded) continue;
    if (best < 0 || s[j] > m) {
      m = s[j];
      best = j;
    }
  }
  const float thr = rnd(float(2.0 * eps));
  float denom = 0.0f;
  for (int j = 0; j < E; ++j) {
    if (j == excluded) continue;
    const float factor = std::max(std::fabs(s[j]), m);
    const bool masked = rnd(rnd(m - s[j]) / factor) > thr;
    if (!masked) denom += std::exp(s[j] - m);
  }
  *idx = best;
  *w = 1.0f / denom;  // exp(s_best - m) = 1
}

}  // namespace

void sparsemixer(const float* logits, int64_t T, int E, double eps, int32_t* experts,
                 float* weights, bool bf16) {
  MOE_ASSERT(E >= 2, "sparsemixer needs at least 2 experts");
  for (int64_t t = 0; t < T; ++t) {
    const float* s = logits + t * E;
    sparsemixer_stage(s, E, eps, -1, bf16, &experts[t * 2], &weights[t * 2]);
    sparsemixer_stage(s, E, eps, experts[t * 2], bf16, &experts[t * 2 + 1], &weights[t * 2 + 1]);
  }
}

void route(const RoutingSpec& spec, const float* logits, int64_t T, int32_t* experts,
           float* weights) {
  switch (spec.kind) {
    case io::RoutingKind::kSoftmaxTopK:
      softmax_topk(logits, T, spec.num_experts, spec.top_k, spec.renormalize, experts, weights);
      return;
    case io::RoutingKind::kTopKSoftmax:
      topk_softmax(logits, T, spec.num_experts, spec.top_k, experts, weights);
      return;
    case io::RoutingKind::kSparseMixer:
      MOE_ASSERT(spec.top_k == 2, "sparsemixer selects 2 experts, not {}", spec.top_k);
      sparsemixer(logits, T, spec.num_experts, spec.sparsemixer_eps, experts, weights,
                  spec.bf16_activations);
      return;
  }
  MOE_ASSERT(false, "unknown routing kind");
}

}  // namespace moe::routing
