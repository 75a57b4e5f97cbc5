// Routing analyses (sweeps/routing/analysis.h) on hand-made statistics: which curves are paired,
// middle layers, correlation with accuracy, language experts, the stored layout, accuracy CSV.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "results/h5.h"
#include "runtime/core/error.h"
#include "sweeps/routing/analysis.h"

namespace moe::analysis {
namespace {

// N sequences, L layers, E = 4 experts; every sequence has importance `q` and frequency `f` at
// every layer.
StatsGroup group(const std::string& lang, int N, int L, std::vector<float> q, std::vector<float> f,
                 bool parallel = true) {
  StatsGroup g;
  g.model = "m";
  g.corpus = "flores";
  g.language = lang;
  g.labels = {{"parallel", parallel ? "true" : "false"}};
  auto& s = g.stats;
  s.num_seqs = N;
  s.num_layers = L;
  s.num_experts = 4;
  s.top_k = 2;
  for (int l = 0; l < L; ++l) s.layers.push_back(l + 1);
  s.counted_tokens.assign(size_t(N), 10);
  for (int i = 0; i < N * L; ++i) {
    s.importance_q.insert(s.importance_q.end(), q.begin(), q.end());
    s.frequency.insert(s.frequency.end(), f.begin(), f.end());
  }
  s.entropy.assign(size_t(N * L), 1.0f);
  s.importance_entropy.assign(size_t(N * L), 1.2f);
  s.consistency.assign(size_t(N * L), 0.5f);
  s.activation_tokens.assign(size_t(L * 4), 0);
  for (int l = 0; l < L; ++l)
    for (int e = 0; e < 4; ++e) s.activation_tokens[size_t(l * 4 + e)] = int64_t(f[size_t(e)] * 100);
  s.total_tokens.assign(size_t(L), 100);
  return g;
}

const std::vector<float> kEn{0.25f, 0.25f, 0.25f, 0.25f};
const std::vector<float> kFreqEn{0.5f, 0.5f, 0.5f, 0.5f};

TEST(RoutingAnalysis, IdenticalRoutingHasZeroDivergenceAndFullSimilarity) {
  const std::vector<StatsGroup> gs{group("de", 3, 3, kEn, kFreqEn), group("en", 3, 3, kEn, kFreqEn)};
  const Analysis a = analyze(gs, {});
  ASSERT_EQ(a.corpora.size(), 1u);
  const CorpusAnalysis& c = a.corpora[0];
  EXPECT_EQ(c.reference, "en");
  EXPECT_EQ(c.divergence[0].method, "paired");
  EXPECT_EQ(c.divergence[1].method, "reference");
  for (double d : c.divergence[0].per_layer) EXPECT_NEAR(d, 0.0, 1e-12);
  for (double s : c.similarity) EXPECT_NEAR(s, 1.0, 1e-12);
  EXPECT_EQ(c.middle, (std::pair<int, int>{1, 1}));
  EXPECT_DOUBLE_EQ(c.consistency[0][2], 0.5);
}

TEST(RoutingAnalysis, UnequalSequenceCountsFallBackToCorpusMeansWithANote) {
  const std::vector<StatsGroup> gs{group("de", 2, 3, {0.4f, 0.4f, 0.1f, 0.1f}, kFreqEn),
                                   group("en", 3, 3, kEn, kFreqEn)};
  const Analysis a = analyze(gs, {});
  EXPECT_EQ(a.corpora[0].divergence[0].method, "unpaired_corpus_mean");
  ASSERT_EQ(a.notes.size(), 1u);
  EXPECT_NE(a.notes[0].find("compared corpus means"), std::string::npos);
  EXPECT_GT(a.corpora[0].divergence[0].per_layer[0], 0.0);
}

TEST(RoutingAnalysis, DivergenceCorrelatesNegativelyWithAccuracyWhenFartherIsWorse) {
  // Three languages increasingly far from English (D_HJS 0.503, 0.511, 0.553), with
  // decreasing accuracy.
  std::vector<StatsGroup> gs{group("de", 2, 6, {0.3f, 0.3f, 0.2f, 0.2f}, kFreqEn),
                             group("en", 2, 6, kEn, kFreqEn),
                             group("fr", 2, 6, {0.35f, 0.35f, 0.15f, 0.15f}, kFreqEn),
                             group("sw", 2, 6, {0.45f, 0.45f, 0.05f, 0.05f}, kFreqEn)};
  AnalysisOptions o;
  o.accuracy = {{"de", 0.8}, {"fr", 0.7}, {"sw", 0.3}, {"en", 0.9}};
  const Analysis a = analyze(gs, o);
  const CorpusAnalysis& c = a.corpora[0];
  EXPECT_EQ(c.middle, (std::pair<int, int>{2, 3}));
  EXPECT_EQ(c.middle_correlation.n, 3);  // the reference is not a point
  EXPECT_DOUBLE_EQ(c.middle_correlation.spearman, -1.0);
  EXPECT_LT(c.middle_correlation.pearson, -0.9);
  ASSERT_EQ(c.correlation.size(), 6u);
  EXPECT_DOUBLE_EQ(c.correlation[0].spearman, -1.0);
}

TEST(RoutingAnalysis, LanguageExpertsAreThoseWhoseFrequencyRisesAboveTau) {
  // de uses expert 2 on 100% of tokens against 50% in English: Delta = 0.5 > 0.4.
  const std::vector<StatsGroup> gs{group("de", 2, 2, kEn, {0.5f, 0.3f, 1.0f, 0.2f}),
                                   group("en", 2, 2, kEn, kFreqEn)};
  const Analysis a = analyze(gs, {});
  const NamedExpertSet* thr = nullptr;
  for (const auto& s : a.expert_sets)
    if (s.name == "flores.lang_de.delta_threshold") thr = &s;
  ASSERT_NE(thr, nullptr);
  ASSERT_EQ(thr->set.layers.size(), 2u);
  ASSERT_EQ(thr->set.layers[0].size(), 1u);
  EXPECT_EQ(thr->set.layers[0][0].expert, 2);
  EXPECT_NEAR(thr->set.layers[0][0].score, 0.5, 1e-6);
  EXPECT_EQ(thr->target, "flores/de");
  EXPECT_EQ(thr->reference, "flores/en");
  EXPECT_NEAR(thr->scores[1], 0.3 - 0.5, 1e-6);  // Delta of expert 1 stored
  bool has_union = false;
  for (const auto& s : a.expert_sets) has_union |= s.name == "flores.multilingual.delta_threshold";
  EXPECT_TRUE(has_union);
}

TEST(RoutingAnalysis, AffinityNeedsEveryLanguageOfTheGivenSet) {
  const std::vector<StatsGroup> gs{group("de", 1, 2, kEn, {0.5f, 0.3f, 1.0f, 0.2f}),
                                   group("en", 1, 2, kEn, kFreqEn)};
  AnalysisOptions o;
  o.affinity_languages = {"en", "zh"};
  const Analysis a = analyze(gs, o);
  bool noted = false;
  for (const auto& n : a.notes) noted |= n.find("affinity skipped, no statistics for zh") != n.npos;
  EXPECT_TRUE(noted);
  o.affinity_languages = {"en", "de"};
  o.affinity_k = 2;
  const Analysis b = analyze(gs, o);
  const NamedExpertSet* ex = nullptr;
  for (const auto& s : b.expert_sets)
    if (s.name == "flores.exclusive_de.affinity") ex = &s;
  ASSERT_NE(ex, nullptr);
  // Pooled f: de (0.5, 0.3, 1.0, 0.2), en 0.5 each. Top-2: de {2, 0}; en {0, 1} (ties go to
  // the lower index). W_de = (0.5 / (0.5 + 0.5), 0, 1 / 1, 0) = (0.5, 0, 1, 0): experts 0 and 2
  // exceed 0.4.
  ASSERT_EQ(ex->set.layers[0].size(), 2u);
  EXPECT_EQ(ex->set.layers[0][0].expert, 0);
  EXPECT_EQ(ex->set.layers[0][1].expert, 2);
}

TEST(RoutingAnalysis, WritesTheAnalysisAndExpertTrees) {
  const auto path = std::filesystem::temp_directory_path() / "moe_analysis_test.h5";
  const std::vector<StatsGroup> gs{group("de", 2, 2, kEn, {0.5f, 0.3f, 1.0f, 0.2f}),
                                   group("en", 2, 2, kEn, kFreqEn)};
  AnalysisOptions o;
  o.accuracy = {{"de", 0.5}};
  const Analysis a = analyze(gs, o);
  {
    auto f = h5::File::create(path);
    write_analysis(f.root(), a, o);
    write_analysis(f.root(), a, o);  // replaces, does not fail on existing groups
  }
  auto f = h5::File::open(path);
  const auto g = f.root().open_group("analysis/m/flores");
  std::vector<uint64_t> shape;
  g.read<double>("divergence", &shape);
  EXPECT_EQ(shape, (std::vector<uint64_t>{2, 2}));
  g.read<double>("similarity", &shape);
  EXPECT_EQ(shape, (std::vector<uint64_t>{2, 2, 2}));
  EXPECT_EQ(g.read_strings("languages"), (std::vector<std::string>{"de", "en"}));
  const auto acc = g.read<double>("accuracy");
  EXPECT_DOUBLE_EQ(acc[0], 0.5);
  EXPECT_TRUE(std::isnan(acc[1]));
  const auto e = f.root().open_group("experts/m/flores.lang_de.delta_threshold");
  EXPECT_EQ(e.attr_string("rule"), "delta_threshold");
  EXPECT_EQ(e.attr_string("param_tau"), "0.4");
  EXPECT_EQ(e.read<int64_t>("per_layer_count"), (std::vector<int64_t>{1, 1}));
  std::filesystem::remove(path);
}

TEST(RoutingAnalysis, KeepsASweepsExpertSetsAndRefusesANameClash) {
  const auto path = std::filesystem::temp_directory_path() / "moe_analysis_keep_test.h5";
  const std::vector<StatsGroup> gs{group("de", 2, 2, kEn, {0.5f, 0.3f, 1.0f, 0.2f}),
                                   group("en", 2, 2, kEn, kFreqEn)};
  const Analysis a = analyze(gs, {});
  {
    auto f = h5::File::create(path);
    f.root().group("experts/m/qwen_math").set_attr("rule", std::string("math"));
    write_analysis(f.root(), a, {});
    write_analysis(f.root(), a, {});
    EXPECT_TRUE(f.root().has("experts/m/qwen_math"));
    EXPECT_TRUE(f.root().has("experts/m/flores.lang_de.delta_threshold"));
    f.root().group("experts/m/flores.lang_de.delta_sigma_x");  // unrelated name: kept
  }
  {
    auto f = h5::File::open_rw(path);
    H5Ldelete(f.root().id(), "experts/m/flores.lang_de.delta_sigma", H5P_DEFAULT);
    f.root().group("experts/m/flores.lang_de.delta_sigma");  // a set analyze did not write
    EXPECT_THROW(write_analysis(f.root(), a, {}), InputError);
    EXPECT_TRUE(f.root().has("analysis/m/flores"));  // nothing changed before the refusal
    EXPECT_TRUE(f.root().has("experts/m/flores.lang_de.delta_threshold"));
  }
  std::filesystem::remove(path);
}

TEST(RoutingAnalysis, BaselineAccuracyOfTheFileMatchesLanguagesThroughTheTable) {
  const auto path = std::filesystem::temp_directory_path() / "moe_analysis_acc_test.h5";
  {
    auto f = h5::File::create(path);
    const auto t = f.root().group("accuracy");
    t.write_strings("model", {"m", "m", "m", "m"});
    t.write_strings("task", {"mgsm", "mgsm", "mgsm", "belebele"});
    t.write_strings("method", {"none", "soft", "none", "none"});
    t.write_strings("language", {"de", "de", "en", "de"});
    t.write("score", std::vector<double>{0.6, 0.7, 0.9, 0.5});
    t.write("accuracy", std::vector<double>{0.1, 0.1, 0.1, 0.1});  // micro; not the score
  }
  auto f = h5::File::open(path);
  EXPECT_THROW(read_baseline_accuracy(f.root(), ""), InputError);  // two tasks
  EXPECT_THROW(read_baseline_accuracy(f.root(), "xquad"), InputError);
  const auto acc = read_baseline_accuracy(f.root(), "mgsm");
  EXPECT_DOUBLE_EQ(acc.at("m").at("de"), 0.6);
  EXPECT_DOUBLE_EQ(acc.at("m").at("en"), 0.9);
  // FLORES statistics named by FLORES codes meet the task's 2-letter codes.
  std::vector<StatsGroup> gs{group("deu_Latn", 2, 3, kEn, kFreqEn),
                             group("eng_Latn", 2, 3, kEn, kFreqEn)};
  AnalysisOptions o;
  o.accuracy_by_model = acc;
  const Analysis a = analyze(gs, o);
  EXPECT_EQ(a.corpora[0].reference, "eng_Latn");
  EXPECT_DOUBLE_EQ(a.corpora[0].accuracy[0], 0.6);
  std::filesystem::remove(path);
}

TEST(RoutingAnalysis, AccuracyCsvErrorsNameTheLine) {
  const auto path = std::filesystem::temp_directory_path() / "moe_accuracy_test.csv";
  {
    std::ofstream(path) << "language,accuracy\n# comment\nde,0.5\nfr,abc\n";
  }
  try {
    read_accuracy_csv(path);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("line 4"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'abc'"), std::string::npos) << e.what();
  }
  {
    std::ofstream(path) << "language,accuracy\nde,0.5\r\nfr,0.25\n";
  }
  const auto m = read_accuracy_csv(path);
  EXPECT_DOUBLE_EQ(m.at("fr"), 0.25);
  EXPECT_DOUBLE_EQ(m.at("de"), 0.5);
  {
    std::ofstream(path) << "lang,acc\nde,0.5\n";
  }
  EXPECT_THROW(read_accuracy_csv(path), InputError);
  std::filesystem::remove(path);
}

TEST(RoutingAnalysis, MiddleLayersOutsideTheModelAreAnInputError) {
  AnalysisOptions o;
  o.middle = std::pair{3, 9};
  EXPECT_THROW(middle_layers(o, 6), InputError);
  o.middle.reset();
  EXPECT_EQ(middle_layers(o, 48), (std::pair<int, int>{16, 31}));
}

}  // namespace
}  // namespace moe::analysis
