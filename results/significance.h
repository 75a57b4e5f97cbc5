// Significance of a grid point against its baseline (sweeps/METHODS.md D, "Significance").
//
// Per (grid point, language), on the SAME samples evaluated with and without the intervention:
//   - paired_bootstrap: the difference of mean scores (treatment - baseline) and its bootstrap
//     confidence interval. Each of B resamples draws n sample indices with replacement (seeded
//     moe::Rng, so a seed reproduces the interval on any platform) and takes the mean of the
//     per-sample differences; the interval is the percentile interval [q(a/2), q(1 - a/2)] of the
//     B resampled differences, a = 1 - confidence, with quantiles by linear interpolation between
//     order statistics (Hyndman-Fan type 7, numpy's default). Defaults: B = 10000, 95%.
//     Scores may be 0/1 (accuracy) or graded (F1, chrF).
//   - paired_bootstrap_corpus: the same for a corpus-level score (FLORES: corpus chrF), which is
//     not a mean of per-sample scores but a function of per-sample sufficient statistics summed
//     over the samples. The resamples are the same index draws as paired_bootstrap's (same seed,
//     same n draws per resample, the same for both sides); each resample's statistic is
//     score(sums of the treatment's drawn rows) - score(sums of the baseline's drawn rows), and
//     the interval is the same percentile interval (sacreBLEU's paired bootstrap resamples the
//     same way).
//   - mcnemar_exact: exact McNemar test on 0/1 scores: with b = baseline-only correct and
//     c = treatment-only correct, p = min(1, 2 P(X <= min(b, c))), X ~ Binomial(b + c, 1/2).
//     No discordant pairs (b + c = 0) gives p = 1 (no evidence of a difference).
// Across languages, on the per-language deltas (treatment - baseline accuracy):
//   - sign_test: exact two-sided binomial test on the signs; zero deltas are DROPPED (counted and
//     reported as `zeros`); no non-zero delta gives p = 1.
//   - paired_t_test: t = mean / (sd / sqrt(n)), sd with n - 1, df = n - 1, two-sided p from the
//     Student t distribution (Boost.Math). n < 2: t and p are NaN (undefined). sd = 0: t = 0 and
//     p = 1 when the mean is 0, else t = +-inf and p = 0.
// Thread-safety: pure functions and value types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

namespace moe::significance {

struct BootstrapOptions {
  int resamples = 10000;     // B
  uint64_t seed = 20250101;  // recorded with the result
  double confidence = 0.95;
};

struct PairedDifference {
  int n = 0;  // paired samples
  double baseline_mean = 0;
  double treatment_mean = 0;
  double difference = 0;  // treatment_mean - baseline_mean
  double ci_low = 0;      // NaN when n = 0
  double ci_high = 0;
  double confidence = 0;
  int resamples = 0;
  uint64_t seed = 0;
  static constexpr const char* kMethod = "paired bootstrap, percentile interval (type 7)";
};

// REQUIRES: baseline.size() == treatment.size(); options.resamples >= 1.
PairedDifference paired_bootstrap(std::span<const double> baseline,
                                  std::span<const double> treatment,
                                  const BootstrapOptions& options = {});

// A corpus-level score: `width` sufficient statistics per sample, summed over the samples, then
// one score from the sums (FLORES: the 18 chrF n-gram counts, then chrF; Global-MMLU: each
// subject's sample count and correct count, then the mean over subjects of their accuracy).
struct CorpusMetric {
  size_t width = 0;                                      // S
  std::function<double(std::span<const double>)> score;  // sums [S] -> score
  // The per-sample scores are 0/1 verdicts (Global-MMLU), so the exact McNemar test applies to
  // the pairs as it does for tasks scored by the mean; false for graded scores (sentence chrF).
  bool verdicts = false;
  explicit operator bool() const { return bool(score); }
};

// difference = score(all treatment rows) - score(all baseline rows); baseline_mean and
// treatment_mean hold the two corpus scores. REQUIRES: baseline.size() == treatment.size(), a
// multiple of metric.width > 0; metric.score set; options.resamples >= 1.
PairedDifference paired_bootstrap_corpus(std::span<const double> baseline,   // [n, S] row-major
                                         std::span<const double> treatment,  // [n, S] row-major
                                         const CorpusMetric& metric,
                                         const BootstrapOptions& options = {});

struct McNemar {
  int both_correct = 0;
  int baseline_only = 0;   // b: baseline correct, treatment wrong
  int treatment_only = 0;  // c: baseline wrong, treatment correct
  int both_wrong = 0;
  double p_value = 1;
};

// REQUIRES: equal sizes; every score is exactly 0 or 1.
McNemar mcnemar_exact(std::span<const double> baseline, std::span<const double> treatment);

struct SignTest {
  int positive = 0;
  int negative = 0;
  int zeros = 0;  // dropped from the test
  double p_value = 1;
};
SignTest sign_test(std::span<const double> deltas);

struct TTest {
  int n = 0;
  double mean = 0;
  double sd = 0;  // sample standard deviation (n - 1)
  double t = 0;
  double df = 0;
  double p_value = 1;
};
TTest paired_t_test(std::span<const double> deltas);

// Exact two-sided binomial p-value at success probability 1/2:
// min(1, 2 P(X <= min(k, n - k))), X ~ Binomial(n, 1/2); 1 when n = 0. REQUIRES: 0 <= k <= n.
double binomial_two_sided_half(int k, int n);

// Quantile of sorted values by linear interpolation between order statistics (type 7).
// REQUIRES: sorted non-empty, 0 <= q <= 1.
double quantile_sorted(std::span<const double> sorted, double q);

}  // namespace moe::significance
