// Routing metrics (results/metrics.h) against hand-computed values and invariants.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "results/metrics.h"
#include "runtime/core/error.h"
#include "runtime/core/random.h"

namespace moe::metrics {
namespace {

using V = std::vector<double>;
constexpr double kLn2 = std::numbers::ln2;

TEST(Entropy, UniformOverTwoIsLn2LessTheEpsilonTerm) {
  // -2 * 0.5 ln(0.5 + 1e-10) = ln 2 - ln(1 + 2e-10) = ln 2 - 2e-10 (to 1e-20).
  EXPECT_NEAR(entropy(V{0.5, 0.5}), kLn2 - 2e-10, 1e-15);
}

TEST(Entropy, OneHotIsMinusEpsilonAndZerosContributeNothing) {
  // -1 ln(1 + 1e-10) - 0 - 0 = -1e-10 (1 + 1e-10 is not exact in binary: 1e-16 tolerance).
  EXPECT_NEAR(entropy(V{1, 0, 0}), -1e-10, 1e-16);
}

TEST(Jsd, IdenticalInputsGiveZero) {
  EXPECT_EQ(jsd(V{0.2, 0.3, 0.5}, V{0.2, 0.3, 0.5}), 0.0);
  EXPECT_EQ(jsd(V{1, 0}, V{1, 0}), 0.0);
}

TEST(Jsd, DisjointSupportsGiveLn2) {
  EXPECT_DOUBLE_EQ(jsd(V{1, 0}, V{0, 1}), kLn2);
  EXPECT_DOUBLE_EQ(jsd(V{0.5, 0.5, 0, 0}, V{0, 0, 0.25, 0.75}), kLn2);
}

TEST(Jsd, HandComputedTwoExpertValue) {
  // m = (0.75, 0.25); KL(p||m) = ln(4/3); KL(q||m) = 0.5 ln(2/3) + 0.5 ln 2 = 0.5 ln(4/3);
  // JSD = 0.75 ln(4/3).
  EXPECT_NEAR(jsd(V{1, 0}, V{0.5, 0.5}), 0.21576155433883565, 1e-15);
}

TEST(Jsd, SymmetricNonNegativeAndAtMostLn2OnRandomInputs) {
  Rng rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const int E = 2 + int(rng.below(30));
    V p(E), q(E);
    double sp = 0, sq = 0;
    for (int e = 0; e < E; ++e) {
      // Some exact zeros to exercise 0 ln 0 = 0.
      p[e] = rng.below(4) == 0 ? 0 : rng.uniform();
      q[e] = rng.below(4) == 0 ? 0 : rng.uniform();
      sp += p[e];
      sq += q[e];
    }
    if (sp == 0 || sq == 0) continue;
    for (int e = 0; e < E; ++e) p[e] /= sp, q[e] /= sq;
    const double a = jsd(p, q), b = jsd(q, p);
    EXPECT_EQ(a, b);
    EXPECT_GE(a, -1e-15);
    EXPECT_LE(a, kLn2 + 1e-12);
  }
}

TEST(NormalizedJsd, HandComputedTwoExpertValue) {
  // ln 2 - 0.5 (H(p) + H(q)) = 0.5 ln 2 (+1.5e-10): D = 0.75 ln(4/3) / (0.5 ln 2).
  EXPECT_NEAR(normalized_jsd(V{1, 0}, V{0.5, 0.5}), 0.6225562489182657, 1e-9);
}

TEST(NormalizedJsd, DenominatorIsFlooredAt1e6) {
  // Near-uniform inputs: ln 2 - mean entropy is about 2e-8 < 1e-6, so D = JSD / 1e-6.
  // JSD = 0.5001 ln(1.0002) + 0.4999 ln(0.9998) = 2.0000000133e-8 (closed form). The
  // implementation's p ln p - p ln m cancels to about 1e-16 absolute, i.e. 1e-10 after / 1e-6.
  EXPECT_NEAR(normalized_jsd(V{0.5001, 0.4999}, V{0.4999, 0.5001}), 0.02000000013333296, 2e-10);
  EXPECT_EQ(normalized_jsd(V{0.5, 0.5}, V{0.5, 0.5}), 0.0);
}

SequenceDistributions seqs(int n, int l, int e, V v) {
  return {n, l, e, std::move(v)};
}

TEST(Divergence, PairedIsTheMeanOverAlignedPairs) {
  // Layer 0: pair 0 identical (0), pair 1 = the hand-computed 0.62255...; layer 1: disjoint
  // one-hots give ln 2 / max(ln 2 + 1e-10, 1e-6) for both pairs.
  const auto eng = seqs(2, 2, 2, {1, 0, 1, 0, /**/ 1, 0, 1, 0});
  const auto zho = seqs(2, 2, 2, {1, 0, 0, 1, /**/ 0.5, 0.5, 0, 1});
  const DivergenceCurve c = paired_divergence(eng, zho, "test");
  EXPECT_TRUE(c.paired);
  EXPECT_EQ(c.method, "paired");
  EXPECT_EQ(c.num_pairs, 2);
  ASSERT_EQ(c.per_layer.size(), 2u);
  EXPECT_NEAR(c.per_layer[0], 0.5 * 0.6225562489182657, 1e-9);
  EXPECT_NEAR(c.per_layer[1], 1.0, 1e-9);
}

TEST(Divergence, PairedRefusesCorporaOfDifferentLengths) {
  const auto eng = seqs(2, 1, 2, {1, 0, 1, 0});
  const auto zho = seqs(1, 1, 2, {1, 0});
  try {
    paired_divergence(eng, zho, "FLORES dev zho_Hans vs eng_Latn");
    FAIL();
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("FLORES dev zho_Hans vs eng_Latn"), std::string::npos);
    EXPECT_NE(m.find("found 2 (reference) and 1 (language)"), std::string::npos);
  }
}

TEST(Divergence, UnpairedComparesCorpusMeansAndSaysSo) {
  // Means: eng (1, 0); other (0.5, 0.5) -> the hand-computed 0.62255...
  const auto eng = seqs(2, 1, 2, {1, 0, 1, 0});
  const auto other = seqs(3, 1, 2, {1, 0, 0.25, 0.75, 0.25, 0.75});
  const DivergenceCurve c = unpaired_divergence(eng, other, "medical");
  EXPECT_FALSE(c.paired);
  EXPECT_EQ(c.method, "unpaired_corpus_mean");
  EXPECT_EQ(c.num_pairs, 0);
  EXPECT_EQ(c.reference_seqs, 2);
  EXPECT_EQ(c.language_seqs, 3);
  EXPECT_NEAR(c.per_layer[0], 0.6225562489182657, 1e-9);
}

TEST(Divergence, MeanOverALayerRange) {
  DivergenceCurve c;
  c.per_layer = {0.5, 0.1, 0.2, 0.6, 0.9};
  EXPECT_DOUBLE_EQ(mean_in_layers(c, 1, 3), 0.3);
  EXPECT_DOUBLE_EQ(mean_in_layers(c, 4, 4), 0.9);
  EXPECT_THROW(mean_in_layers(c, 2, 5), InternalError);
}

TEST(Similarity, OneMinusJsdOfMeansSymmetricWithUnitDiagonal) {
  std::vector<LayerDistributions> langs = {{1, 2, {1, 0}}, {1, 2, {0, 1}}, {1, 2, {0.5, 0.5}}};
  const V s = similarity_matrices(langs);
  ASSERT_EQ(s.size(), 9u);
  EXPECT_EQ(s[0], 1.0);
  EXPECT_EQ(s[4], 1.0);
  EXPECT_EQ(s[8], 1.0);
  EXPECT_DOUBLE_EQ(s[1], 1 - kLn2);
  EXPECT_EQ(s[1], s[3]);
  EXPECT_NEAR(s[2], 1 - 0.21576155433883565, 1e-15);
  EXPECT_EQ(s[2], s[6]);
  EXPECT_EQ(s[5], s[7]);
}

TEST(Correlation, PearsonHandComputed) {
  // dx = (-1, 0, 1), dy = (-7/3, -1/3, 8/3): r = 5 / sqrt(2 * 114/9) = 15 / sqrt(228).
  EXPECT_NEAR(pearson(V{1, 2, 3}, V{2, 4, 7}), 0.9933992677987828, 1e-15);
  EXPECT_NEAR(pearson(V{1, 2, 3}, V{3, 2, 1}), -1.0, 1e-15);
}

TEST(Correlation, AverageRanksForTies) {
  EXPECT_EQ(average_ranks(V{10, 20, 20, 5}), (V{2, 3.5, 3.5, 1}));
  EXPECT_EQ(average_ranks(V{7, 7, 7}), (V{2, 2, 2}));
}

TEST(Correlation, SpearmanWithTiesIsPearsonOfAverageRanks) {
  // ranks x = (1, 2.5, 2.5, 4), ranks y = (1, 3, 2, 4): r = 4.5 / sqrt(4.5 * 5) = sqrt(0.9).
  EXPECT_NEAR(spearman(V{1, 2, 2, 3}, V{1, 3, 2, 4}), 0.9486832980505138, 1e-15);
  // Monotone but not linear: Spearman 1, Pearson below 1.
  EXPECT_NEAR(spearman(V{1, 2, 3, 4}, V{1, 8, 27, 64}), 1.0, 1e-15);
  EXPECT_LT(pearson(V{1, 2, 3, 4}, V{1, 8, 27, 64}), 0.99);
}

TEST(Correlation, UndefinedCasesAreNaN) {
  EXPECT_TRUE(std::isnan(pearson(V{1}, V{2})));
  EXPECT_TRUE(std::isnan(pearson(V{1, 1, 1}, V{1, 2, 3})));
  EXPECT_TRUE(std::isnan(spearman(V{1, 2, 3}, V{5, 5, 5})));
}

TEST(Correlation, PerLayerAcrossLanguages) {
  std::vector<DivergenceCurve> curves(3);
  curves[0].per_layer = {0.1, 0.3};
  curves[1].per_layer = {0.2, 0.2};
  curves[2].per_layer = {0.3, 0.1};
  const V acc = {0.9, 0.8, 0.7};
  const auto r = correlate_per_layer(curves, acc);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].n, 3);
  EXPECT_NEAR(r[0].pearson, -1.0, 1e-12);
  EXPECT_NEAR(r[0].spearman, -1.0, 1e-12);
  EXPECT_NEAR(r[1].pearson, 1.0, 1e-12);
  EXPECT_NEAR(r[1].spearman, 1.0, 1e-12);
}

}  // namespace
}  // namespace moe::metrics
