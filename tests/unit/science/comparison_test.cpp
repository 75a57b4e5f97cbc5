// Point-vs-baseline comparison: pairing by sample index, unscorable and unpaired samples, the
// choice of McNemar for 0/1 scores, and the across-language tests on the per-language deltas.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "results/comparison.h"

namespace moe::results {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(Comparison, PairsSamplesByIndexWhateverTheirOrder) {
  // Baseline 1,0,1,1,0 at indices 0..4; the point lists the same indices in another order with
  // scores 1,1,1,0,1 (by index). Differences by index: 0, +1, 0, -1, +1 -> mean 0.2.
  const ScoredSamples base{{0, 1, 2, 3, 4}, {1, 0, 1, 1, 0}};
  const ScoredSamples point{{4, 3, 2, 1, 0}, {1, 0, 1, 1, 1}};
  const LanguageComparison c = compare_language("de", base, point);
  EXPECT_EQ(c.difference.n, 5);
  EXPECT_NEAR(c.difference.baseline_mean, 0.6, 1e-12);
  EXPECT_NEAR(c.difference.treatment_mean, 0.8, 1e-12);
  EXPECT_NEAR(c.difference.difference, 0.2, 1e-12);
  EXPECT_LE(c.difference.ci_low, 0.2);
  EXPECT_GE(c.difference.ci_high, 0.2);
  ASSERT_TRUE(c.mcnemar.has_value());
  EXPECT_EQ(c.mcnemar->baseline_only, 1);   // index 3
  EXPECT_EQ(c.mcnemar->treatment_only, 2);  // indices 1 and 4
  EXPECT_EQ(c.mcnemar->both_correct, 2);
  // p = min(1, 2 P(X <= 1)), X ~ Bin(3, 1/2) = 2 * 4/8 = 1.
  EXPECT_DOUBLE_EQ(c.mcnemar->p_value, 1.0);
  EXPECT_EQ(c.unpaired, 0);
  EXPECT_EQ(c.unscored, 0);
}

TEST(Comparison, UnscorableAndOneSidedSamplesAreLeftOutAndCounted) {
  const ScoredSamples base{{0, 1, 2, 3}, {1, kNaN, 0, 1}};
  const ScoredSamples point{{0, 1, 2, 9}, {0, 1, kNaN, 1}};
  const LanguageComparison c = compare_language("ja", base, point);
  EXPECT_EQ(c.difference.n, 1);  // only index 0
  EXPECT_EQ(c.unscored, 2);      // indices 1, 2
  EXPECT_EQ(c.unpaired, 2);      // 3 (baseline only) and 9 (point only)
  EXPECT_DOUBLE_EQ(c.difference.difference, -1.0);
}

TEST(Comparison, GradedScoresGetTheBootstrapButNoMcNemar) {
  const ScoredSamples base{{0, 1, 2}, {0.5, 0.25, 1.0}};
  const ScoredSamples point{{0, 1, 2}, {0.75, 0.25, 1.0}};
  const LanguageComparison c = compare_language("fr", base, point);
  EXPECT_FALSE(c.mcnemar.has_value());
  EXPECT_NEAR(c.difference.difference, 0.25 / 3, 1e-12);
}

TEST(Comparison, AcrossLanguagesTestsThePerLanguageDeltas) {
  // Deltas: de +0.5, fr +0.25, sw -0.25; zh has no pair and is left out.
  const ScoredSamples b1{{0, 1}, {0, 0}}, p1{{0, 1}, {1, 0}};
  const ScoredSamples b2{{0, 1, 2, 3}, {0, 0, 1, 1}}, p2{{0, 1, 2, 3}, {1, 0, 1, 1}};
  const ScoredSamples b3{{0, 1, 2, 3}, {1, 1, 0, 0}}, p3{{0, 1, 2, 3}, {1, 0, 0, 0}};
  const ScoredSamples b4{{0}, {kNaN}}, p4{{0}, {1}};
  const LanguagePair langs[] = {
      {"de", &b1, &p1}, {"fr", &b2, &p2}, {"sw", &b3, &p3}, {"zh", &b4, &p4}};
  const PointComparison p = compare_point(langs);
  ASSERT_EQ(p.languages.size(), 4u);
  EXPECT_EQ(p.delta_languages, (std::vector<std::string>{"de", "fr", "sw"}));
  ASSERT_EQ(p.deltas.size(), 3u);
  EXPECT_DOUBLE_EQ(p.deltas[0], 0.5);
  EXPECT_DOUBLE_EQ(p.deltas[1], 0.25);
  EXPECT_DOUBLE_EQ(p.deltas[2], -0.25);
  EXPECT_EQ(p.sign.positive, 2);
  EXPECT_EQ(p.sign.negative, 1);
  // t = mean / (sd / sqrt 3): mean 1/6, deviations 1/3, 1/12, -5/12 -> sd^2 = (1/9 + 1/144 +
  // 25/144) / 2 = 42/288.
  const double sd = std::sqrt(42.0 / 288.0);
  EXPECT_NEAR(p.t_test.mean, 1.0 / 6.0, 1e-12);
  EXPECT_NEAR(p.t_test.t, (1.0 / 6.0) / (sd / std::sqrt(3.0)), 1e-9);
  EXPECT_DOUBLE_EQ(p.t_test.df, 2.0);
}

}  // namespace
}  // namespace moe::results
