#include "results/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "runtime/core/error.h"

namespace moe::metrics {

LayerDistributions::LayerDistributions(int layers, int experts, std::vector<double> values)
    : num_layers(layers), num_experts(experts), data(std::move(values)) {
  MOE_ASSERT(layers >= 0 && experts >= 0 && data.size() == size_t(layers) * experts,
             "LayerDistributions [{}, {}] given {} values", layers, experts, data.size());
}

std::span<const double> LayerDistributions::layer(int l) const {
  MOE_ASSERT(l >= 0 && l < num_layers, "layer {} of {}", l, num_layers);
  return {data.data() + size_t(l) * num_experts, size_t(num_experts)};
}

SequenceDistributions::SequenceDistributions(int seqs, int layers, int experts,
                                             std::vector<double> values)
    : num_seqs(seqs), num_layers(layers), num_experts(experts), data(std::move(values)) {
  MOE_ASSERT(
      seqs >= 0 && layers >= 0 && experts >= 0 && data.size() == size_t(seqs) * layers * experts,
      "SequenceDistributions [{}, {}, {}] given {} values", seqs, layers, experts, data.size());
}

std::span<const double> SequenceDistributions::at(int seq, int layer) const {
  MOE_ASSERT(seq >= 0 && seq < num_seqs && layer >= 0 && layer < num_layers,
             "sequence {} layer {} of [{}, {}]", seq, layer, num_seqs, num_layers);
  return {data.data() + (size_t(seq) * num_layers + layer) * num_experts, size_t(num_experts)};
}

LayerDistributions SequenceDistributions::mean() const {
  MOE_ASSERT(num_seqs > 0, "mean of an empty corpus");
  const size_t row = size_t(num_layers) * num_experts;
  std::vector<double> m(row, 0.0);
  for (int n = 0; n < num_seqs; ++n)
    for (size_t j = 0; j < row; ++j) m[j] += data[n * row + j];
  for (double& v : m) v /= num_seqs;
  return LayerDistributions(num_layers, num_experts, std::move(m));
}

double entropy(std::span<const double> q) {
  double h = 0.0;
  for (double v : q) h -= v * std::log(v + kEntropyEps);
  return h;
}

double jsd(std::span<const double> p, std::span<const double> q) {
  MOE_ASSERT(p.size() == q.size(), "JSD of distributions over {} and {} experts", p.size(),
             q.size());
  double kl_p = 0.0, kl_q = 0.0;
  for (size_t e = 0; e < p.size(); ++e) {
    const double log_m = std::log(std::max(0.5 * (p[e] + q[e]), kMixtureFloor));
    if (p[e] > 0) kl_p += p[e] * (std::log(p[e]) - log_m);
    if (q[e] > 0) kl_q += q[e] * (std::log(q[e]) - log_m);
  }
  return 0.5 * kl_p + 0.5 * kl_q;
}

double normalized_jsd(std::span<const double> p, std::span<const double> q) {
  const double denom = std::log(double(p.size())) - 0.5 * (entropy(p) + entropy(q));
  return jsd(p, q) / std::max(denom, kNormalizerFloor);
}

namespace {

void check_same_shape(const SequenceDistributions& a, const SequenceDistributions& b,
                      const std::string& what) {
  if (a.num_layers != b.num_layers || a.num_experts != b.num_experts)
    throw input_error(what,
                      "expected routing statistics of the same shape [L, E], found [{}, {}] "
                      "and [{}, {}]",
                      a.num_layers, a.num_experts, b.num_layers, b.num_experts);
  if (a.num_seqs == 0 || b.num_seqs == 0)
    throw input_error(what, "expected at least one sequence per corpus, found {} and {}",
                      a.num_seqs, b.num_seqs);
}

}  // namespace

DivergenceCurve paired_divergence(const SequenceDistributions& reference,
                                  const SequenceDistributions& language, const std::string& what) {
  check_same_shape(reference, language, what);
  if (reference.num_seqs != language.num_seqs)
    throw input_error(what,
                      "paired divergence needs index-aligned parallel corpora: expected the "
                      "same number of sequences, found {} (reference) and {} (language)",
                      reference.num_seqs, language.num_seqs);
  DivergenceCurve c;
  c.method = "paired";
  c.paired = true;
  c.num_pairs = reference.num_seqs;
  c.reference_seqs = reference.num_seqs;
  c.language_seqs = language.num_seqs;
  c.per_layer.assign(reference.num_layers, 0.0);
  for (int l = 0; l < reference.num_layers; ++l) {
    double sum = 0.0;
    for (int i = 0; i < reference.num_seqs; ++i)
      sum += normalized_jsd(reference.at(i, l), language.at(i, l));
    c.per_layer[l] = sum / reference.num_seqs;
  }
  return c;
}

DivergenceCurve unpaired_divergence(const SequenceDistributions& reference,
                                    const SequenceDistributions& language,
                                    const std::string& what) {
  check_same_shape(reference, language, what);
  const LayerDistributions a = reference.mean(), b = language.mean();
  DivergenceCurve c;
  c.method = "unpaired_corpus_mean";
  c.paired = false;
  c.reference_seqs = reference.num_seqs;
  c.language_seqs = language.num_seqs;
  c.per_layer.resize(a.num_layers);
  for (int l = 0; l < a.num_layers; ++l) c.per_layer[l] = normalized_jsd(a.layer(l), b.layer(l));
  return c;
}

double mean_in_layers(const DivergenceCurve& curve, int first, int last) {
  MOE_ASSERT(first >= 0 && first <= last && last < int(curve.per_layer.size()),
             "layers [{}, {}] of a curve over {}", first, last, curve.per_layer.size());
  double s = 0;
  for (int l = first; l <= last; ++l) s += curve.per_layer[l];
  return s / (last - first + 1);
}

std::vector<double> similarity_matrices(std::span<const LayerDistributions> languages) {
  const size_t A = languages.size();
  if (A == 0) return {};
  const int L = languages[0].num_layers;
  for (const auto& d : languages)
    MOE_ASSERT(d.num_layers == L && d.num_experts == languages[0].num_experts,
               "similarity of distributions of different shapes");
  std::vector<double> s(size_t(L) * A * A);
  for (int l = 0; l < L; ++l)
    for (size_t a = 0; a < A; ++a)
      for (size_t b = a; b < A; ++b) {
        const double v = a == b ? 1.0 : 1.0 - jsd(languages[a].layer(l), languages[b].layer(l));
        s[(l * A + a) * A + b] = v;
        s[(l * A + b) * A + a] = v;
      }
  return s;
}

double pearson(std::span<const double> x, std::span<const double> y) {
  MOE_ASSERT(x.size() == y.size(), "correlation of {} and {} values", x.size(), y.size());
  const size_t n = x.size();
  if (n < 2) return std::numeric_limits<double>::quiet_NaN();
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < n; ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx == 0 || syy == 0) return std::numeric_limits<double>::quiet_NaN();
  return sxy / std::sqrt(sxx * syy);
}

std::vector<double> average_ranks(std::span<const double> x) {
  std::vector<size_t> order(x.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  std::vector<double> rank(x.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && x[order[j + 1]] == x[order[i]]) ++j;
    const double avg = 0.5 * double(i + j) + 1.0;  // ranks i+1 .. j+1
    for (size_t t = i; t <= j; ++t) rank[order[t]] = avg;
    i = j + 1;
  }
  return rank;
}

double spearman(std::span<const double> x, std::span<const double> y) {
  MOE_ASSERT(x.size() == y.size(), "correlation of {} and {} values", x.size(), y.size());
  const std::vector<double> rx = average_ranks(x), ry = average_ranks(y);
  return pearson(rx, ry);
}

std::vector<LayerCorrelation> correlate_per_layer(std::span<const DivergenceCurve> divergence,
                                                  std::span<const double> score) {
  MOE_ASSERT(divergence.size() == score.size(), "{} curves for {} scores", divergence.size(),
             score.size());
  if (divergence.empty()) return {};
  const size_t L = divergence[0].per_layer.size();
  std::vector<LayerCorrelation> out;
  std::vector<double> x(divergence.size());
  for (size_t l = 0; l < L; ++l) {
    for (size_t a = 0; a < divergence.size(); ++a) {
      MOE_ASSERT(divergence[a].per_layer.size() == L, "curves of different lengths");
      x[a] = divergence[a].per_layer[l];
    }
    out.push_back({int(l), int(x.size()), pearson(x, score), spearman(x, score)});
  }
  return out;
}

}  // namespace moe::metrics
