// Expert identification rules (sweeps/experts.h) on small hand-computed cases and invariants.
#include <gtest/gtest.h>

#include <set>

#include "runtime/core/error.h"
#include "runtime/core/random.h"
#include "sweeps/experts.h"

namespace moe::experts {
namespace {

using metrics::LayerDistributions;
using metrics::SequenceDistributions;
using V = std::vector<double>;

std::vector<int> ids(const std::vector<SelectedExpert>& l) {
  std::vector<int> r;
  for (const auto& x : l) r.push_back(x.expert);
  return r;
}

// Dyadic values so every difference is exact in binary floating point.
// dataset1 mean = (0.5, 0.25, 0.25), dataset2 = (0, 0.5, 0.5): Delta = (0.5, -0.25, -0.25).
LayerDistributions example_delta() {
  SequenceDistributions d1(2, 1, 3, {0.75, 0.25, 0, /**/ 0.25, 0.25, 0.5});
  SequenceDistributions d2(1, 1, 3, {0, 0.5, 0.5});
  return delta(d1, d2, "test");
}

TEST(Delta, IsTheDifferenceOfPerSequenceMeanFrequencies) {
  EXPECT_EQ(example_delta().data, (V{0.5, -0.25, -0.25}));
}

TEST(Delta, ShapeMismatchIsAnInputErrorNamingTheComparison) {
  SequenceDistributions a(1, 1, 3, {1, 0, 0}), b(1, 1, 2, {1, 0});
  EXPECT_THROW(delta(a, b, "math vs flores"), InputError);
  SequenceDistributions empty(0, 1, 3, {});
  EXPECT_THROW(delta(a, empty, "math vs flores"), InputError);
}

TEST(Threshold, SelectsStrictlyAboveTau) {
  const auto d = example_delta();
  EXPECT_TRUE(select_by_threshold(d, 0.5).layers[0].empty());  // 0.5 is not > 0.5
  const ExpertSet s = select_by_threshold(d, 0.25);
  EXPECT_EQ(s.rule, "delta_threshold");
  EXPECT_EQ(s.param("tau"), "0.25");
  ASSERT_EQ(s.layers.size(), 1u);
  EXPECT_EQ(s.layers[0], (std::vector<SelectedExpert>{{0, 0.5}}));
  // -0.25 is not > -0.25 either.
  EXPECT_EQ(ids(select_by_threshold(d, -0.25).layers[0]), (std::vector<int>{0}));
}

TEST(Sigma, UsesTheSampleStandardDeviationOverExperts) {
  // E = 16, Delta = (1, 0 x 15): mean 1/16, ss = 15/16, sample sd = sqrt(ss / 15) = 0.25
  // (population sd would be 0.242). 3 sd = 0.75 < 1: selected. 4 sd = 1.0 exactly: not selected
  // (with the population sd, 4 sd = 0.968 would select it).
  V row(16, 0.0);
  row[0] = 1.0;
  const LayerDistributions d(1, 16, row);
  const ExpertSet three = select_by_sigma(d);
  EXPECT_EQ(three.rule, "delta_sigma");
  EXPECT_EQ(three.param("multiplier"), "3");
  EXPECT_EQ(three.layers[0], (std::vector<SelectedExpert>{{0, 1.0}}));
  EXPECT_TRUE(select_by_sigma(d, 4.0).layers[0].empty());
}

TEST(Sigma, SmallEIsNeverThreeSigma) {
  // With E values the largest sample z-score is (E-1)/sqrt(E): 1.5 for E = 4.
  const LayerDistributions d(1, 4, {0.9, 0, 0, 0});
  EXPECT_TRUE(select_by_sigma(d).layers[0].empty());
}

TEST(Union, TakesEveryLanguagesExpertsWithTheLargestScore) {
  ExpertSet de{"delta_threshold", {{"tau", "0.3"}}, {{{1, 0.4}, {5, 0.35}}, {{2, 0.5}}}};
  ExpertSet fr{"delta_threshold", {{"tau", "0.3"}}, {{{5, 0.6}}, {}}};
  const std::vector<std::string> names = {"de", "fr"};
  const std::vector<ExpertSet> sets = {de, fr};
  const ExpertSet u = multilingual_union(names, sets);
  EXPECT_EQ(u.rule, "multilingual_union");
  EXPECT_EQ(u.param("member_rule"), "delta_threshold");
  EXPECT_EQ(u.param("tau"), "0.3");
  EXPECT_EQ(u.param("languages"), "de,fr");
  EXPECT_EQ(u.layers[0], (std::vector<SelectedExpert>{{1, 0.4}, {5, 0.6}}));
  EXPECT_EQ(u.layers[1], (std::vector<SelectedExpert>{{2, 0.5}}));
  EXPECT_EQ(u.size(), 3u);
}

TEST(Union, RefusesSetsFromDifferentRules) {
  ExpertSet a{"delta_threshold", {{"tau", "0.3"}}, {{}}};
  ExpertSet b{"delta_threshold", {{"tau", "0.4"}}, {{}}};
  const std::vector<std::string> names = {"de", "fr"};
  const std::vector<ExpertSet> sets = {a, b};
  EXPECT_THROW(multilingual_union(names, sets), InputError);
}

TEST(ExpertSet, RestrictToLayersAndCount) {
  ExpertSet s{"delta_threshold", {{"tau", "0.4"}}, {{{0, 1}}, {{1, 1}, {2, 1}}, {{3, 1}}}};
  EXPECT_EQ(s.size_in_layers(1, 2), 3u);
  const ExpertSet r = s.restricted_to_layers(1, 1);
  EXPECT_EQ(r.size(), 2u);
  EXPECT_EQ(r.param("layers"), "1-1");
  EXPECT_EQ(r.param("tau"), "0.4");
}

// S = (en, zh), L = 1, E = 4, K = 2.
// en f = (0.5, 0.3, 0.3, 0.1): tie at the K-th place between experts 1 and 2 -> keep 1 (lower id).
// zh f = (0.1, 0.6, 0.2, 0.4): keep 1 and 3.
// f_K en = (0.5, 0.3, 0, 0), zh = (0, 0.6, 0, 0.4); W(en) = (1, 1/3, 0, 0), W(zh) = (0, 2/3, 0, 1).
Affinity example_affinity() {
  const std::vector<std::string> S = {"en", "zh"};
  const std::vector<LayerDistributions> f = {{1, 4, {0.5, 0.3, 0.3, 0.1}},
                                             {1, 4, {0.1, 0.6, 0.2, 0.4}}};
  return normalized_affinity(S, f, 2);
}

TEST(Affinity, TopKWithTiesBrokenByLowerExpertIdThenNormalisedOverS) {
  const Affinity w = example_affinity();
  EXPECT_NEAR(w.at(0, 0, 0), 1.0, 1e-9);
  EXPECT_NEAR(w.at(0, 0, 1), 1.0 / 3, 1e-9);
  EXPECT_EQ(w.at(0, 0, 2), 0.0);  // tied with expert 1 at 0.3 but outside the top 2
  EXPECT_EQ(w.at(0, 0, 3), 0.0);
  EXPECT_EQ(w.at(1, 0, 0), 0.0);
  EXPECT_NEAR(w.at(1, 0, 1), 2.0 / 3, 1e-9);
  EXPECT_NEAR(w.at(1, 0, 3), 1.0, 1e-9);
}

TEST(Affinity, WeightsSumToOneOverSWhereAnyLanguageKeepsTheExpert) {
  Rng rng(11);
  const std::vector<std::string> S = {"en", "zh", "de"};
  std::vector<LayerDistributions> f;
  for (int s = 0; s < 3; ++s) {
    V v(2 * 8);
    for (double& x : v) x = rng.uniform();
    f.emplace_back(2, 8, v);
  }
  const Affinity w = normalized_affinity(S, f, 3);
  for (int l = 0; l < 2; ++l)
    for (int e = 0; e < 8; ++e) {
      double sum = 0;
      int kept = 0;
      for (int s = 0; s < 3; ++s) sum += w.at(s, l, e), kept += w.at(s, l, e) > 0;
      if (kept)
        EXPECT_NEAR(sum, 1.0, 1e-9);
      else
        EXPECT_EQ(sum, 0.0);
    }
}

TEST(Affinity, ExclusiveIsStrictlyAboveThrOfTheSumOverT) {
  const Affinity w = example_affinity();
  const std::vector<std::string> en = {"en"}, zh = {"zh"};
  const ExpertSet x_en = exclusive_experts(w, en, 0.4);
  EXPECT_EQ(x_en.rule, "affinity_exclusive");
  EXPECT_EQ(x_en.param("K"), "2");
  EXPECT_EQ(x_en.param("S"), "en,zh");
  EXPECT_EQ(x_en.param("T"), "en");
  EXPECT_EQ(x_en.param("thr"), "0.4");
  EXPECT_EQ(ids(x_en.layers[0]), (std::vector<int>{0}));  // 1/3 is not > 0.4
  EXPECT_EQ(ids(exclusive_experts(w, zh, 0.4).layers[0]), (std::vector<int>{1, 3}));
  EXPECT_TRUE(exclusive_experts(w, zh, 1.0).layers[0].empty());  // W(zh, 3) = 1 - 1e-10
}

TEST(Affinity, SharedNeedsSomePositiveAndEveryBelowThr) {
  const ExpertSet s = shared_experts(example_affinity(), 0.7);
  EXPECT_EQ(s.rule, "affinity_shared");
  ASSERT_EQ(s.layers[0].size(), 1u);  // expert 1: (1/3, 2/3); expert 2 has no positive W
  EXPECT_EQ(s.layers[0][0].expert, 1);
  EXPECT_NEAR(s.layers[0][0].score, 1.0 / 3, 1e-9);  // the coefficient W[S[0] = en]
}

TEST(Affinity, ExclusiveOfOneLanguageAndSharedAreDisjoint) {
  Rng rng(3);
  const std::vector<std::string> S = {"en", "zh", "de", "ja"};
  std::vector<LayerDistributions> f;
  for (int s = 0; s < 4; ++s) {
    V v(4 * 16);
    for (double& x : v) x = rng.below(3) == 0 ? 0.0 : rng.uniform();
    f.emplace_back(4, 16, v);
  }
  const Affinity w = normalized_affinity(S, f, 6);
  for (double thr : {0.2, 0.4, 0.7}) {
    const ExpertSet shared = shared_experts(w, thr);
    for (const auto& t : S) {
      const std::vector<std::string> T = {t};
      const ExpertSet x = exclusive_experts(w, T, thr);
      for (int l = 0; l < 4; ++l) {
        std::set<int> a;
        for (const auto& e : x.layers[l]) a.insert(e.expert);
        for (const auto& e : shared.layers[l]) EXPECT_EQ(a.count(e.expert), 0u);
      }
    }
  }
}

TEST(Affinity, ExclusiveOfSeveralLanguagesMayOverlapShared) {
  // W = (0.35, 0.35, 0.3): sum over T = {a, b} is 0.7 > 0.4 and every W is < 0.4.
  const std::vector<std::string> S = {"a", "b", "c"};
  const std::vector<LayerDistributions> f = {
      {1, 2, {0.35, 0}}, {1, 2, {0.35, 0}}, {1, 2, {0.3, 0}}};
  const Affinity w = normalized_affinity(S, f, 1);
  const std::vector<std::string> T = {"a", "b"};
  EXPECT_EQ(ids(exclusive_experts(w, T, 0.4).layers[0]), (std::vector<int>{0}));
  EXPECT_EQ(ids(shared_experts(w, 0.4).layers[0]), (std::vector<int>{0}));
}

TEST(Affinity, BadSetsAndKAreInputErrors) {
  const std::vector<std::string> S = {"en", "zh"};
  const std::vector<LayerDistributions> f = {{1, 2, {0.5, 0.5}}, {1, 2, {0.5, 0.5}}};
  EXPECT_THROW(normalized_affinity(S, f, 0), InputError);
  EXPECT_THROW(normalized_affinity(S, f, 3), InputError);
  const std::vector<std::string> dup = {"en", "en"};
  EXPECT_THROW(normalized_affinity(dup, f, 1), InputError);
  const Affinity w = normalized_affinity(S, f, 1);
  const std::vector<std::string> fr = {"fr"};
  try {
    exclusive_experts(w, fr, 0.4);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'fr'"), std::string::npos);
  }
}

}  // namespace
}  // namespace moe::experts
