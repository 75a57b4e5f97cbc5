// FLORES through a sweep's store: unit files carry each sample's chrF statistics, and merge's
// language score is the corpus chrF of every sample range together, equal to the evaluator's
// corpus chrF of the same samples and to sacreBLEU's (tests/data/chrf_fixtures.json, made by
// tools/make_chrf_fixtures.py), and the baseline comparison's bootstrap CI is of that corpus chrF.
#include <gtest/gtest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "results/comparison.h"
#include "results/h5.h"
#include "results/merge.h"
#include "runtime/core/error.h"
#include "runtime/core/random.h"
#include "sweeps/phases/eval_phase.h"
#include "sweeps/tasks/chrf.h"
#include "tests/unit/tasks/chrf_fixtures.h"

namespace moe::sweeps {
namespace {
namespace fs = std::filesystem;

// Both sides sum the same integer statistics and divide in double. Stated tolerance: 1e-9
// absolute on the 0..100 scale.
constexpr double kTolerance = 1e-9;

// A scored FLORES sample as the evaluator's score_generation leaves it.
eval::SampleResult sample(int64_t index, const std::string& hyp, const std::string& ref) {
  eval::SampleResult r;
  r.index = index;
  r.id = std::to_string(index);
  r.extracted = hyp;
  r.gold = ref;
  r.chrf_stats = tasks::chrf_statistics(hyp, ref);
  r.chrf = r.score = tasks::chrf_from_statistics(r.chrf_stats);
  return r;
}

struct AccuracyRows {
  std::vector<std::string> point;
  std::vector<double> score, sample_mean, baseline, delta, ci_low, ci_high, p_mcnemar;
};

AccuracyRows accuracy(const fs::path& file) {
  h5::File f = h5::File::open(file);
  const results::Table t = results::Table::read(f.root(), "accuracy");
  return {t.get<std::string>("point"), t.get<double>("score"), t.get<double>("sample_mean"),
          t.get<double>("baseline"), t.get<double>("delta"),  t.get<double>("ci_low"),
          t.get<double>("ci_high"),  t.get<double>("p_mcnemar")};
}

TEST(FloresMerge, MergedScoreIsCorpusChrfOfAllRangesLikeEvaluatorAndSacreBleu) {
  const auto doc = tasks::testing::chrf_fixtures();
  std::vector<std::string> hyps, refs;
  for (const auto& row : doc["sentences"]) {
    hyps.push_back(row["hypothesis"]);
    refs.push_back(row["reference"]);
  }
  const int64_t n = int64_t(hyps.size());
  ASSERT_GE(n, 20);
  // The point's hypotheses: the baseline's, each with its first character removed.
  std::vector<std::string> point_hyps;
  for (const auto& h : hyps) point_hyps.push_back(h.size() > 1 ? h.substr(1) : h);

  eval::TaskConfig task;
  task.kind = eval::TaskKind::kFlores;
  task.name = "flores";
  const fs::path d = fs::temp_directory_path() / ("moe_flores_merge_" + std::to_string(getpid()));
  fs::remove_all(d);
  results::Store store(d);
  const double nan = std::nan("");
  results::MergeSpec spec;
  spec.name = "flores";
  spec.tasks = {{"flores", "flores", "/d", "{}", {"de"}, {}, corpus_score(task.kind)}};
  spec.points = {
      {"base", "tiny", "flores", "none", "", "", "", -1, -1, nan, nan, nan, -1, "", "base", "{}"},
      {"p1", "tiny", "flores", "soft", "lang", "delta", "x", 0, 1, 0.1, 1.0, nan, -1, "boost",
       "base", "{}"}};
  std::vector<eval::SampleResult> all_base, all_point;
  // Three sample ranges per point, committed as separate unit files.
  const std::vector<std::pair<int64_t, int64_t>> ranges = {{0, 9}, {9, 17}, {17, n}};
  for (const auto& [pid, h] : {std::pair{std::string("base"), &hyps}, {"p1", &point_hyps}}) {
    for (const auto& [b, e] : ranges) {
      eval::PointResult pr;
      pr.point = pid;
      for (int64_t i = b; i < e; ++i) pr.samples.push_back(sample(i, (*h)[size_t(i)], refs[size_t(i)]));
      auto& all = pid == "base" ? all_base : all_point;
      all.insert(all.end(), pr.samples.begin(), pr.samples.end());
      const std::string id = fmt::format("{}.de.{}", pid, b);
      results::UnitMeta meta;
      meta.unit = id;
      meta.kind = "eval";
      meta.runner = "hand-made";
      store.commit(meta, point_result(task, pr, {}), "test");
      spec.units.push_back({id, "eval", pid, "flores", "de", "", "", b, e});
    }
  }
  ASSERT_TRUE(results::merge(store, spec, d / "results.h5", false).missing.empty());
  const AccuracyRows acc = accuracy(d / "results.h5");
  ASSERT_EQ(acc.point, (std::vector<std::string>{"base", "p1"}));

  const eval::LanguageSummary base = eval::summarize(task, "de", all_base);
  const eval::LanguageSummary point = eval::summarize(task, "de", all_point);
  EXPECT_NEAR(acc.score[0], doc["corpus_chrf"].get<double>(), kTolerance);  // sacreBLEU
  EXPECT_NEAR(acc.score[0], base.score, kTolerance);                        // the evaluator
  EXPECT_NEAR(acc.score[1], point.score, kTolerance);
  EXPECT_NEAR(acc.score[1], tasks::corpus_chrf(point_hyps, refs), kTolerance);
  // Not the mean of sentence scores, which stays as sample_mean (what the bootstrap pairs).
  EXPECT_NEAR(acc.sample_mean[0], base.sentence_chrf, kTolerance);
  EXPECT_GT(std::abs(acc.score[0] - acc.sample_mean[0]), 1.0);
  EXPECT_NEAR(acc.baseline[1], acc.score[0], kTolerance);
  EXPECT_NEAR(acc.delta[1], acc.score[1] - acc.score[0], kTolerance);
  EXPECT_EQ(acc.delta[0], 0.0);

  // The CI is of the corpus chrF difference: recomputed here by the bootstrap contract
  // (results/significance.h: per resample n draws Rng(seed).below(n), the same samples for both
  // sides; percentile interval, type 7) from the evaluator's own statistics.
  Rng rng(spec.bootstrap.seed);
  std::vector<double> diffs;
  for (int b = 0; b < spec.bootstrap.resamples; ++b) {
    tasks::ChrfStats sb{}, sp{};
    for (int64_t j = 0; j < n; ++j) {
      const size_t i = size_t(rng.below(uint64_t(n)));
      tasks::add_chrf_statistics(sb, all_base[i].chrf_stats);
      tasks::add_chrf_statistics(sp, all_point[i].chrf_stats);
    }
    diffs.push_back(tasks::chrf_from_statistics(sp) - tasks::chrf_from_statistics(sb));
  }
  std::sort(diffs.begin(), diffs.end());
  const double alpha = 1 - spec.bootstrap.confidence;
  EXPECT_NEAR(acc.ci_low[1], significance::quantile_sorted(diffs, alpha / 2), kTolerance);
  EXPECT_NEAR(acc.ci_high[1], significance::quantile_sorted(diffs, 1 - alpha / 2), kTolerance);
  EXPECT_LE(acc.ci_low[1], acc.delta[1]);
  EXPECT_GE(acc.ci_high[1], acc.delta[1]);
  // chrF is graded: no McNemar p for any row.
  EXPECT_TRUE(std::isnan(acc.p_mcnemar[0]));
  EXPECT_TRUE(std::isnan(acc.p_mcnemar[1]));
  EXPECT_TRUE(std::isnan(acc.ci_low[0]));  // the baseline's own row
  fs::remove_all(d);
}

TEST(FloresMerge, CorpusChrfIntervalIsZeroAgainstItselfAndPositiveForPerfectTranslations) {
  eval::TaskConfig task;
  task.kind = eval::TaskKind::kFlores;
  eval::PointResult pr;
  pr.samples = {sample(0, "ab", "abc"), sample(1, "Guten Morgen!", "Guten Morgen."),
                sample(2, "Hallo Welt", "Hallo, Welt!")};
  const results::Table s = point_result(task, pr, {}).tables.at("samples");
  const results::CorpusScore cs = corpus_score(task.kind);
  results::ScoredSamples side{s.get<int64_t>("sample"), s.get<double>("score"),
                              cs.statistics(s, "t")};
  const results::LanguageComparison c =
      results::compare_language("de", side, side, {}, cs.metric);
  EXPECT_EQ(c.difference.n, 3);
  EXPECT_EQ(c.difference.difference, 0.0);
  EXPECT_EQ(c.difference.ci_low, 0.0);
  EXPECT_EQ(c.difference.ci_high, 0.0);
  EXPECT_FALSE(c.mcnemar);
  // The point translates every sentence perfectly: every resample's corpus chrF is 100 and
  // the baseline's is below, so the interval is strictly positive.
  results::ScoredSamples perfect = side;
  eval::PointResult pp;
  pp.samples = {sample(0, "abc", "abc"), sample(1, "Guten Morgen.", "Guten Morgen."),
                sample(2, "Hallo, Welt!", "Hallo, Welt!")};
  const results::Table ps = point_result(task, pp, {}).tables.at("samples");
  perfect.score = ps.get<double>("score");
  perfect.statistics = cs.statistics(ps, "t");
  const results::LanguageComparison up =
      results::compare_language("de", side, perfect, {}, cs.metric);
  EXPECT_NEAR(up.difference.difference, 100.0 - cs(s, "t"), kTolerance);
  EXPECT_GT(up.difference.ci_low, 0.0);
  EXPECT_LE(up.difference.ci_low, up.difference.difference);
  EXPECT_GE(up.difference.ci_high, up.difference.difference);
}

TEST(FloresMerge, UnitFilesCarryTheChrfStatisticsOfEverySample) {
  eval::TaskConfig task;
  task.kind = eval::TaskKind::kFlores;
  eval::PointResult pr;
  pr.samples = {sample(0, "ab", "abc"), sample(1, "Guten Morgen!", "Guten Morgen.")};
  const results::Table t = point_result(task, pr, {}).tables.at("samples");
  // "ab" against "abc": order 1 hyp 2, ref 3, matches 2; order 2 hyp 1, ref 2, matches 1;
  // order 3: the reference's one 3-gram, no hypothesis 3-grams.
  EXPECT_EQ(t.get<int64_t>("chrf_hyp_1")[0], 2);
  EXPECT_EQ(t.get<int64_t>("chrf_ref_1")[0], 3);
  EXPECT_EQ(t.get<int64_t>("chrf_match_1")[0], 2);
  EXPECT_EQ(t.get<int64_t>("chrf_hyp_2")[0], 1);
  EXPECT_EQ(t.get<int64_t>("chrf_ref_2")[0], 2);
  EXPECT_EQ(t.get<int64_t>("chrf_match_2")[0], 1);
  EXPECT_EQ(t.get<int64_t>("chrf_hyp_3")[0], 0);
  EXPECT_EQ(t.get<int64_t>("chrf_ref_3")[0], 1);
  EXPECT_EQ(t.get<int64_t>("chrf_ref_6")[1], 12 - 5);  // "GutenMorgen." has 12 characters
  EXPECT_DOUBLE_EQ(corpus_score(task.kind)(t, "t"),
                   tasks::corpus_chrf(std::vector<std::string>{"ab", "Guten Morgen!"},
                                      std::vector<std::string>{"abc", "Guten Morgen."}));
}

TEST(FloresMerge, SamplesWithoutChrfStatisticsAreAnInputErrorNamingTheColumn) {
  results::Table t;
  t.col<int64_t>("sample") = {0};
  t.col<double>("chrf") = {50.0};
  try {
    corpus_score(eval::TaskKind::kFlores)(t, "point p1 language de");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("point p1 language de"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("chrf_hyp_1"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(corpus_score(eval::TaskKind::kBelebele));
  EXPECT_FALSE(corpus_score(eval::TaskKind::kXquad));
}

}  // namespace
}  // namespace moe::sweeps
