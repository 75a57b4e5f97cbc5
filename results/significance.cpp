#include "results/significance.h"

#include <algorithm>
#include <boost/math/distributions/binomial.hpp>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <limits>
#include <vector>

#include "runtime/core/error.h"
#include "runtime/core/random.h"

namespace moe::significance {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double mean(std::span<const double> v) {
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}
}  // namespace

double quantile_sorted(std::span<const double> sorted, double q) {
  MOE_ASSERT(!sorted.empty() && q >= 0 && q <= 1, "quantile {} of {} values", q, sorted.size());
  const double h = (double(sorted.size()) - 1.0) * q;
  const size_t lo = size_t(std::floor(h));
  if (lo + 1 >= sorted.size()) return sorted.back();
  return sorted[lo] + (h - double(lo)) * (sorted[lo + 1] - sorted[lo]);
}

namespace {

// Checks the options and fills the fields every paired difference has; n = 0 gives NaNs.
PairedDifference start_difference(size_t n, const BootstrapOptions& options) {
  MOE_ASSERT(options.resamples >= 1 && options.confidence > 0 && options.confidence < 1,
             "bootstrap with {} resamples at confidence {}", options.resamples, options.confidence);
  PairedDifference r;
  r.n = int(n);
  r.confidence = options.confidence;
  r.resamples = options.resamples;
  r.seed = options.seed;
  if (n == 0) r.baseline_mean = r.treatment_mean = r.difference = r.ci_low = r.ci_high = kNaN;
  return r;
}

// The percentile interval of `statistic` over the resamples: each resample is r.n indices of
// [0, r.n) drawn with replacement from one Rng seeded with options.seed, in order. REQUIRES: r.n > 0.
template <class Statistic>
void percentile_interval(PairedDifference& r, const BootstrapOptions& options,
                         Statistic&& statistic) {
  const size_t n = size_t(r.n);
  Rng rng(options.seed);
  std::vector<size_t> drawn(n);
  std::vector<double> stats(options.resamples);
  for (double& s : stats) {
    for (size_t& i : drawn) i = size_t(rng.below(n));
    s = statistic(std::span<const size_t>(drawn));
  }
  std::sort(stats.begin(), stats.end());
  const double alpha = 1.0 - options.confidence;
  r.ci_low = quantile_sorted(stats, alpha / 2);
  r.ci_high = quantile_sorted(stats, 1 - alpha / 2);
}

}  // namespace

PairedDifference paired_bootstrap(std::span<const double> baseline,
                                  std::span<const double> treatment,
                                  const BootstrapOptions& options) {
  MOE_ASSERT(baseline.size() == treatment.size(), "paired bootstrap of {} and {} samples",
             baseline.size(), treatment.size());
  PairedDifference r = start_difference(baseline.size(), options);
  if (r.n == 0) return r;
  std::vector<double> d(baseline.size());
  for (size_t i = 0; i < d.size(); ++i) d[i] = treatment[i] - baseline[i];
  r.baseline_mean = mean(baseline);
  r.treatment_mean = mean(treatment);
  r.difference = mean(d);
  percentile_interval(r, options, [&](std::span<const size_t> drawn) {
    double sum = 0;
    for (size_t i : drawn) sum += d[i];
    return sum / double(d.size());
  });
  return r;
}

PairedDifference paired_bootstrap_corpus(std::span<const double> baseline,
                                         std::span<const double> treatment,
                                         const CorpusMetric& metric,
                                         const BootstrapOptions& options) {
  const size_t w = metric.width;
  MOE_ASSERT(metric && w > 0 && baseline.size() == treatment.size() && baseline.size() % w == 0,
             "corpus bootstrap of {} and {} statistics, {} per sample", baseline.size(),
             treatment.size(), w);
  PairedDifference r = start_difference(baseline.size() / w, options);
  if (r.n == 0) return r;
  std::vector<double> sums(w);
  // The corpus score of the rows `drawn` of one side.
  auto score = [&](std::span<const double> rows, std::span<const size_t> drawn) {
    std::fill(sums.begin(), sums.end(), 0.0);
    for (size_t i : drawn)
      for (size_t k = 0; k < w; ++k) sums[k] += rows[i * w + k];
    return metric.score(sums);
  };
  std::vector<size_t> all(size_t(r.n));
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  r.baseline_mean = score(baseline, all);
  r.treatment_mean = score(treatment, all);
  r.difference = r.treatment_mean - r.baseline_mean;
  percentile_interval(r, options, [&](std::span<const size_t> drawn) {
    return score(treatment, drawn) - score(baseline, drawn);
  });
  return r;
}

double binomial_two_sided_half(int k, int n) {
  MOE_ASSERT(n >= 0 && k >= 0 && k <= n, "binomial test with k = {}, n = {}", k, n);
  if (n == 0) return 1.0;
  const boost::math::binomial_distribution<double> dist(n, 0.5);
  return std::min(1.0, 2.0 * boost::math::cdf(dist, std::min(k, n - k)));
}

McNemar mcnemar_exact(std::span<const double> baseline, std::span<const double> treatment) {
  MOE_ASSERT(baseline.size() == treatment.size(), "McNemar of {} and {} samples", baseline.size(),
             treatment.size());
  McNemar m;
  for (size_t i = 0; i < baseline.size(); ++i) {
    const double a = baseline[i], b = treatment[i];
    MOE_ASSERT((a == 0 || a == 1) && (b == 0 || b == 1),
               "McNemar needs 0/1 scores, sample {} has {} and {}", i, a, b);
    if (a == 1 && b == 1)
      ++m.both_correct;
    else if (a == 1)
      ++m.baseline_only;
    else if (b == 1)
      ++m.treatment_only;
    else
      ++m.both_wrong;
  }
  m.p_value = binomial_two_sided_half(m.treatment_only, m.baseline_only + m.treatment_only);
  return m;
}

SignTest sign_test(std::span<const double> deltas) {
  SignTest s;
  for (double d : deltas) {
    if (d > 0)
      ++s.positive;
    else if (d < 0)
      ++s.negative;
    else
      ++s.zeros;
  }
  s.p_value = binomial_two_sided_half(s.positive, s.positive + s.negative);
  return s;
}

TTest paired_t_test(std::span<const double> deltas) {
  TTest t;
  t.n = int(deltas.size());
  if (t.n == 0) {
    t.mean = t.sd = t.t = t.df = t.p_value = kNaN;
    return t;
  }
  t.mean = mean(deltas);
  if (t.n < 2) {
    t.sd = t.t = t.df = t.p_value = kNaN;
    return t;
  }
  double ss = 0;
  for (double d : deltas) ss += (d - t.mean) * (d - t.mean);
  t.sd = std::sqrt(ss / (t.n - 1));
  t.df = t.n - 1;
  if (t.sd == 0) {
    t.t = t.mean == 0 ? 0.0 : std::copysign(std::numeric_limits<double>::infinity(), t.mean);
    t.p_value = t.mean == 0 ? 1.0 : 0.0;
    return t;
  }
  t.t = t.mean / (t.sd / std::sqrt(double(t.n)));
  const boost::math::students_t_distribution<double> dist(t.df);
  t.p_value = 2.0 * boost::math::cdf(boost::math::complement(dist, std::fabs(t.t)));
  return t;
}

}  // namespace moe::significance
