#include "runtime/engine/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "runtime/core/error.h"

namespace moe {

int32_t argmax(std::span<const float> logits) {
  MOE_ASSERT(!logits.empty(), "argmax of no logits");
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[size_t(best)]) best = int32_t(i);
  return best;
}

int32_t sample_token(std::span<const float> logits, const SamplingOptions& o, SamplerRng& rng) {
  if (o.greedy || o.temperature <= 0.0f) return argmax(logits);
  const size_t V = logits.size();
  // Candidates sorted by descending logit (ties: lower id first), truncated by top-k.
  std::vector<int32_t> idx(V);
  std::iota(idx.begin(), idx.end(), 0);
  size_t keep = V;
  if (o.top_k > 0 && size_t(o.top_k) < V) keep = size_t(o.top_k);
  auto by_logit = [&](int32_t a, int32_t b) {
    return logits[size_t(a)] > logits[size_t(b)] || (logits[size_t(a)] == logits[size_t(b)] && a < b);
  };
  std::partial_sort(idx.begin(), idx.begin() + std::ptrdiff_t(keep), idx.end(), by_logit);
  idx.resize(keep);
  // Softmax of logits / temperature over the candidates, in double.
  std::vector<double> p(keep);
  const double m = double(logits[size_t(idx[0])]) / o.temperature;
  double sum = 0;
  for (size_t i = 0; i < keep; ++i) sum += (p[i] = std::exp(double(logits[size_t(idx[i])]) / o.temperature - m));
  for (double& v : p) v /= sum;
  // Top-p: the smallest prefix whose mass reaches top_p (at least one token).
  if (o.top_p < 1.0f) {
    double c = 0;
    size_t n = 0;
    while (n < keep) {
      c += p[n++];
      if (c >= double(o.top_p)) break;
    }
    keep = n;
    sum = std::accumulate(p.begin(), p.begin() + std::ptrdiff_t(keep), 0.0);
  } else {
    sum = 1.0;
  }
  const double u = rng.uniform() * sum;
  double c = 0;
  for (size_t i = 0; i < keep; ++i) {
    c += p[i];
    if (u < c) return idx[i];
  }
  return idx[keep - 1];
}

double log_prob(std::span<const float> logits, int32_t token) {
  MOE_ASSERT(token >= 0 && size_t(token) < logits.size(), "token {} outside [0, {})", token,
             logits.size());
  double m = -INFINITY;
  for (float v : logits) m = std::max(m, double(v));
  double s = 0;
  for (float v : logits) s += std::exp(double(v) - m);
  return double(logits[size_t(token)]) - m - std::log(s);
}

}  // namespace moe
