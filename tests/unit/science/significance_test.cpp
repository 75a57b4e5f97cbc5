// Significance tests (results/significance.h) against hand-computed values and closed forms.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "runtime/core/random.h"

#include "results/significance.h"

namespace moe::significance {
namespace {

using V = std::vector<double>;

// baseline/treatment 0/1 vectors with the given cell counts.
void cells(int both, int base_only, int treat_only, int neither, V& b, V& t) {
  b.clear();
  t.clear();
  auto add = [&](int n, double x, double y) {
    for (int i = 0; i < n; ++i) b.push_back(x), t.push_back(y);
  };
  add(both, 1, 1);
  add(base_only, 1, 0);
  add(treat_only, 0, 1);
  add(neither, 0, 0);
}

TEST(Quantile, LinearInterpolationBetweenOrderStatistics) {
  // numpy.percentile([1, 2, 3, 4], 25) = 1.75; of 0..9 at 97.5%: h = 8.775.
  EXPECT_DOUBLE_EQ(quantile_sorted(V{1, 2, 3, 4}, 0.25), 1.75);
  EXPECT_DOUBLE_EQ(quantile_sorted(V{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 0.975), 8.775);
  EXPECT_DOUBLE_EQ(quantile_sorted(V{3}, 0.5), 3.0);
  EXPECT_DOUBLE_EQ(quantile_sorted(V{1, 2}, 1.0), 2.0);
}

TEST(Bootstrap, ConstantDifferencesGiveADegenerateInterval) {
  const auto r = paired_bootstrap(V{0, 0, 1, 0}, V{1, 1, 2, 1});
  EXPECT_EQ(r.n, 4);
  EXPECT_DOUBLE_EQ(r.difference, 1.0);
  EXPECT_DOUBLE_EQ(r.ci_low, 1.0);
  EXPECT_DOUBLE_EQ(r.ci_high, 1.0);
  EXPECT_EQ(r.resamples, 10000);
  EXPECT_EQ(r.confidence, 0.95);
}

TEST(Bootstrap, TwoSamplesMatchTheExactResamplingDistribution) {
  // d = (0, 1): a resample's mean is 0, 0.5 or 1 with probability 1/4, 1/2, 1/4, so the 2.5% and
  // 97.5% points of 10000 resamples are 0 and 1 (each end holds about 2500 draws, far above 250).
  const auto r = paired_bootstrap(V{1, 0}, V{1, 1});
  EXPECT_DOUBLE_EQ(r.difference, 0.5);
  EXPECT_DOUBLE_EQ(r.baseline_mean, 0.5);
  EXPECT_DOUBLE_EQ(r.treatment_mean, 1.0);
  EXPECT_EQ(r.ci_low, 0.0);
  EXPECT_EQ(r.ci_high, 1.0);
}

TEST(Bootstrap, IntervalMatchesTheNormalApproximationForLargeN) {
  // 400 pairs: 60 improved, 40 worsened, 300 unchanged. mean d = 0.05, var(d) = 0.25 - 0.0025,
  // SE = sqrt(0.2475 / 400) = 0.024875; normal 95% interval 0.05 -+ 1.96 SE = [0.00124, 0.09876].
  V b, t;
  cells(150, 40, 60, 150, b, t);
  const auto r = paired_bootstrap(b, t);
  EXPECT_NEAR(r.difference, 0.05, 1e-15);
  EXPECT_NEAR(r.ci_low, 0.00124, 0.004);
  EXPECT_NEAR(r.ci_high, 0.09876, 0.004);
}

TEST(Bootstrap, SameSeedSameIntervalOtherSeedOtherInterval) {
  V b, t;
  cells(30, 7, 11, 12, b, t);
  const auto r1 = paired_bootstrap(b, t, {2000, 5, 0.95});
  const auto r2 = paired_bootstrap(b, t, {2000, 5, 0.95});
  const auto r3 = paired_bootstrap(b, t, {2000, 6, 0.95});
  EXPECT_EQ(r1.ci_low, r2.ci_low);
  EXPECT_EQ(r1.ci_high, r2.ci_high);
  EXPECT_EQ(r1.seed, 5u);
  EXPECT_TRUE(r1.ci_low != r3.ci_low || r1.ci_high != r3.ci_high);
}

TEST(Bootstrap, NoSamplesGiveNaN) {
  const auto r = paired_bootstrap(V{}, V{});
  EXPECT_EQ(r.n, 0);
  EXPECT_TRUE(std::isnan(r.difference));
  EXPECT_TRUE(std::isnan(r.ci_low));
}

// A ratio metric of two statistics per sample (like a precision): sums[0] / sums[1].
CorpusMetric ratio_metric() {
  return {2, [](std::span<const double> sums) { return sums[0] / sums[1]; }};
}

// [n, 2] rows: (hits, total) per sample.
const V kBaseRows = {1, 4, 3, 5, 0, 2, 2, 2, 1, 6, 4, 7, 0, 3, 5, 5};
const V kPointRows = {2, 4, 3, 5, 1, 2, 2, 2, 3, 6, 4, 7, 2, 3, 5, 5};

TEST(CorpusBootstrap, IdenticalSidesGiveAZeroInterval) {
  const auto r = paired_bootstrap_corpus(kBaseRows, kBaseRows, ratio_metric());
  EXPECT_EQ(r.n, 8);
  EXPECT_EQ(r.difference, 0.0);
  EXPECT_EQ(r.ci_low, 0.0);
  EXPECT_EQ(r.ci_high, 0.0);
}

TEST(CorpusBootstrap, DifferenceIsOfCorpusScoresNotOfSampleMeans) {
  const auto r = paired_bootstrap_corpus(kBaseRows, kPointRows, ratio_metric());
  // Hand-summed: baseline 16 / 34, point 22 / 34.
  EXPECT_DOUBLE_EQ(r.baseline_mean, 16.0 / 34.0);
  EXPECT_DOUBLE_EQ(r.treatment_mean, 22.0 / 34.0);
  EXPECT_DOUBLE_EQ(r.difference, 6.0 / 34.0);
  EXPECT_LE(r.ci_low, r.difference);
  EXPECT_GE(r.ci_high, r.difference);
  // Every sample's hits are >= the baseline's with the same totals, so no resample is negative;
  // half the samples improve, so a resample is zero only when it draws none of them
  // (probability 2^-8, far below the 2.5% quantile).
  EXPECT_GT(r.ci_low, 0.0);
}

TEST(CorpusBootstrap, EqualsAStraightforwardLoopOverTheSameSeededDraws) {
  const BootstrapOptions o{2000, 77, 0.9};
  const auto r = paired_bootstrap_corpus(kBaseRows, kPointRows, ratio_metric(), o);
  // The contract: per resample, n draws Rng(seed).below(n), the same rows for both sides.
  Rng rng(o.seed);
  const size_t n = kBaseRows.size() / 2;
  V diffs;
  for (int b = 0; b < o.resamples; ++b) {
    double bh = 0, bt = 0, ph = 0, pt = 0;
    for (size_t j = 0; j < n; ++j) {
      const size_t i = size_t(rng.below(n));
      bh += kBaseRows[2 * i];
      bt += kBaseRows[2 * i + 1];
      ph += kPointRows[2 * i];
      pt += kPointRows[2 * i + 1];
    }
    diffs.push_back(ph / pt - bh / bt);
  }
  std::sort(diffs.begin(), diffs.end());
  // Integer sums: the differences are bitwise equal, so the interval is too.
  const double alpha = 1 - o.confidence;
  EXPECT_EQ(r.ci_low, quantile_sorted(diffs, alpha / 2));
  EXPECT_EQ(r.ci_high, quantile_sorted(diffs, 1 - alpha / 2));
  EXPECT_EQ(r.resamples, 2000);
  EXPECT_EQ(r.seed, 77u);
}

TEST(CorpusBootstrap, AMeanAsCorpusMetricReproducesThePerSampleBootstrap) {
  // Statistics (score, 1): the corpus score is the mean score, so both bootstraps agree up to
  // the order of floating-point sums (tolerance 1e-12).
  const V base = {0.2, 0.9, 0.4, 0.0, 0.7, 0.3}, point = {0.5, 0.8, 0.6, 0.1, 0.7, 0.9};
  V base_rows, point_rows;
  for (size_t i = 0; i < base.size(); ++i) {
    base_rows.insert(base_rows.end(), {base[i], 1.0});
    point_rows.insert(point_rows.end(), {point[i], 1.0});
  }
  const CorpusMetric mean_metric{2, [](std::span<const double> s) { return s[0] / s[1]; }};
  const auto c = paired_bootstrap_corpus(base_rows, point_rows, mean_metric);
  const auto p = paired_bootstrap(base, point);
  EXPECT_NEAR(c.difference, p.difference, 1e-12);
  EXPECT_NEAR(c.ci_low, p.ci_low, 1e-12);
  EXPECT_NEAR(c.ci_high, p.ci_high, 1e-12);
}

TEST(CorpusBootstrap, NoSamplesGiveNaN) {
  const auto r = paired_bootstrap_corpus(V{}, V{}, ratio_metric());
  EXPECT_EQ(r.n, 0);
  EXPECT_TRUE(std::isnan(r.difference));
  EXPECT_TRUE(std::isnan(r.ci_low));
}

TEST(McNemar, ExactTwoSidedBinomialOnDiscordantPairs) {
  V b, t;
  // b = 8, c = 2: p = 2 * (C(10,0) + C(10,1) + C(10,2)) / 2^10 = 112 / 1024.
  cells(5, 8, 2, 3, b, t);
  auto m = mcnemar_exact(b, t);
  EXPECT_EQ(m.both_correct, 5);
  EXPECT_EQ(m.baseline_only, 8);
  EXPECT_EQ(m.treatment_only, 2);
  EXPECT_EQ(m.both_wrong, 3);
  EXPECT_NEAR(m.p_value, 112.0 / 1024.0, 1e-14);
  // b = 0, c = 5: p = 2 / 32.
  cells(1, 0, 5, 1, b, t);
  EXPECT_NEAR(mcnemar_exact(b, t).p_value, 0.0625, 1e-14);
  // b = c = 1: 2 * P(X <= 1 | n = 2) = 1.5, capped at 1.
  cells(0, 1, 1, 0, b, t);
  EXPECT_EQ(mcnemar_exact(b, t).p_value, 1.0);
}

TEST(McNemar, NoDiscordantPairsGivesPOne) {
  V b, t;
  cells(4, 0, 0, 3, b, t);
  const auto m = mcnemar_exact(b, t);
  EXPECT_EQ(m.baseline_only + m.treatment_only, 0);
  EXPECT_EQ(m.p_value, 1.0);
}

TEST(SignTest, DropsZerosAndUsesExactBinomial) {
  // 4 positive, 1 negative, 1 zero (dropped): p = 2 * (1 + 5) / 32 = 0.375.
  const auto s = sign_test(V{0.1, 0.2, -0.1, 0, 0.3, 0.05});
  EXPECT_EQ(s.positive, 4);
  EXPECT_EQ(s.negative, 1);
  EXPECT_EQ(s.zeros, 1);
  EXPECT_NEAR(s.p_value, 0.375, 1e-14);
  // 10 of 10 positive: 2 / 1024.
  EXPECT_NEAR(sign_test(V(10, 0.01)).p_value, 2.0 / 1024.0, 1e-15);
  EXPECT_EQ(sign_test(V{0, 0, 0}).p_value, 1.0);
}

TEST(TTest, MatchesClosedFormStudentTDistributions) {
  // df = 1 (Cauchy): p = 1 - (2/pi) atan|t|. d = (1, 3): t = 2.
  auto t1 = paired_t_test(V{1, 3});
  EXPECT_DOUBLE_EQ(t1.t, 2.0);
  EXPECT_EQ(t1.df, 1);
  EXPECT_NEAR(t1.p_value, 0.2951672353008665, 1e-12);
  // df = 2: p = 1 - |t| / sqrt(2 + t^2). d = (1, 2, 6): t = 3 / sqrt(7/3).
  auto t2 = paired_t_test(V{1, 2, 6});
  EXPECT_NEAR(t2.t, 1.9639610121239313, 1e-13);
  EXPECT_NEAR(t2.p_value, 0.18849732879931091, 1e-12);
  // df = 3: F(t) = 1/2 + (x / (1 + x^2) + atan x) / pi with x = t / sqrt 3. d = (1,2,3,4):
  // mean 2.5, sd sqrt(5/3), t = sqrt(15).
  auto t3 = paired_t_test(V{1, 2, 3, 4});
  EXPECT_NEAR(t3.mean, 2.5, 1e-15);
  EXPECT_NEAR(t3.sd, std::sqrt(5.0 / 3.0), 1e-15);
  EXPECT_NEAR(t3.t, std::sqrt(15.0), 1e-13);
  EXPECT_NEAR(t3.p_value, 0.030466291662170963, 1e-12);
  // Sign does not change the two-sided p.
  EXPECT_NEAR(paired_t_test(V{-1, -2, -3, -4}).p_value, t3.p_value, 1e-15);
}

TEST(TTest, DegenerateCases) {
  EXPECT_TRUE(std::isnan(paired_t_test(V{0.3}).p_value));
  EXPECT_TRUE(std::isnan(paired_t_test(V{}).p_value));
  const auto zero = paired_t_test(V{0, 0, 0});
  EXPECT_EQ(zero.t, 0.0);
  EXPECT_EQ(zero.p_value, 1.0);
  const auto constant = paired_t_test(V{0.02, 0.02, 0.02});
  EXPECT_EQ(constant.t, std::numeric_limits<double>::infinity());
  EXPECT_EQ(constant.p_value, 0.0);
}

}  // namespace
}  // namespace moe::significance
