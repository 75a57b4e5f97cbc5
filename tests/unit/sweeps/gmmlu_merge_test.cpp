// Global-MMLU through a sweep's store and through `moe-sweep eval`'s comparison: a language's
// score is the mean over subjects of their accuracy (sweeps/METHODS.md D), also when the subjects
// have different numbers of samples (a `samples: N` prefix, a partial merge). The merged score, the
// baseline difference, its bootstrap CI and the exact McNemar p are checked against values
// computed here by hand from the definitions.
#include <gtest/gtest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "results/comparison.h"
#include "results/h5.h"
#include "results/merge.h"
#include "runtime/core/error.h"
#include "runtime/core/random.h"
#include "sweeps/eval/eval_report.h"
#include "sweeps/phases/eval_phase.h"
#include "sweeps/tasks/gmmlu.h"

namespace moe::sweeps {
namespace {
namespace fs = std::filesystem;

// Sums of at most 7 terms of 0/1 over small counts. Stated tolerance: 1e-12 absolute.
constexpr double kTolerance = 1e-12;

// Seven samples over three subjects of unequal size; per side the 0/1 verdicts.
//   index:    0  1  2  3 | 4  5 | 6
//   subject:  clinical   | coll | virology
//   baseline: 1  1  0  0 | 1  0 | 0     subject accuracies 1/2, 1/2, 0    -> mean 1/3 (micro 3/7)
//   point:    1  1  1  0 | 1  1 | 1     subject accuracies 3/4, 1, 1      -> mean 11/12 (micro 6/7)
const std::vector<std::string> kSubjects = {
    "clinical_knowledge", "clinical_knowledge", "clinical_knowledge", "clinical_knowledge",
    "college_medicine",   "college_medicine",   "virology"};
const std::vector<int> kBaseline = {1, 1, 0, 0, 1, 0, 0};
const std::vector<int> kPoint = {1, 1, 1, 0, 1, 1, 1};

eval::SampleResult sample(int64_t index, int correct) {
  eval::SampleResult r;
  r.index = index;
  r.id = std::to_string(index);
  r.subject = kSubjects[size_t(index)];
  r.verdict = correct ? "correct" : "incorrect";
  r.score = correct;
  r.choice_logprob = {-1.0, -2.0, -3.0, -4.0};
  return r;
}

std::vector<eval::SampleResult> samples(const std::vector<int>& verdicts, int64_t b, int64_t e) {
  std::vector<eval::SampleResult> out;
  for (int64_t i = b; i < e; ++i) out.push_back(sample(i, verdicts[size_t(i)]));
  return out;
}

// The mean over subjects of their accuracy over the samples `drawn` (with repeats), written
// out from the definition; subjects not drawn do not count.
double subject_mean(const std::vector<int>& verdicts, const std::vector<size_t>& drawn) {
  std::map<std::string, std::pair<double, double>> by;  // subject -> (correct, samples)
  for (size_t i : drawn) {
    by[kSubjects[i]].first += verdicts[i];
    by[kSubjects[i]].second += 1;
  }
  double sum = 0;
  for (const auto& [name, v] : by) sum += v.first / v.second;
  return sum / double(by.size());
}

TEST(GmmluMerge, MergedScoreIsTheMeanOverSubjectsWithItsIntervalAndMcNemar) {
  eval::TaskConfig task;
  task.kind = eval::TaskKind::kGmmlu;
  task.name = "gmmlu";
  const fs::path d = fs::temp_directory_path() / ("moe_gmmlu_merge_" + std::to_string(getpid()));
  fs::remove_all(d);
  results::Store store(d);
  const double nan = std::nan("");
  results::MergeSpec spec;
  spec.name = "gmmlu";
  spec.tasks = {{"gmmlu", "gmmlu", "/d", "{}", {"sw"}, {}, corpus_score(task.kind)}};
  spec.points = {
      {"base", "tiny", "gmmlu", "none", "", "", "", -1, -1, nan, nan, nan, -1, "", "base", "{}"},
      {"p1", "tiny", "gmmlu", "hard", "lang", "delta", "x", 0, 1, 0.3, nan, nan, -1, "boost",
       "base", "{}"}};
  // Two sample ranges per point (the first cuts through no subject boundary on purpose: the
  // subject means must come from every range together).
  const int64_t n = int64_t(kSubjects.size());
  for (const auto& [pid, verdicts] :
       {std::pair{std::string("base"), &kBaseline}, {std::string("p1"), &kPoint}}) {
    for (const auto& [b, e] : {std::pair<int64_t, int64_t>{0, 3}, {3, n}}) {
      eval::PointResult pr;
      pr.point = pid;
      pr.samples = samples(*verdicts, b, e);
      const std::string id = fmt::format("{}.sw.{}", pid, b);
      results::UnitMeta meta;
      meta.unit = id;
      meta.kind = "eval";
      meta.runner = "hand-made";
      store.commit(meta, point_result(task, pr, {}), "test");
      spec.units.push_back({id, "eval", pid, "gmmlu", "sw", "", "", b, e});
    }
  }
  ASSERT_TRUE(results::merge(store, spec, d / "results.h5", false).missing.empty());
  h5::File f = h5::File::open(d / "results.h5");
  const results::Table t = results::Table::read(f.root(), "accuracy");
  const auto& score = t.get<double>("score");
  const auto& accuracy = t.get<double>("accuracy");
  const auto& baseline = t.get<double>("baseline");
  const auto& delta = t.get<double>("delta");
  const auto& p = t.get<double>("p_mcnemar");
  ASSERT_EQ(t.get<std::string>("point"), (std::vector<std::string>{"base", "p1"}));

  EXPECT_NEAR(score[0], 1.0 / 3.0, kTolerance);
  EXPECT_NEAR(score[1], 11.0 / 12.0, kTolerance);
  EXPECT_NEAR(accuracy[0], 3.0 / 7.0, kTolerance);  // the micro average stays as accuracy
  EXPECT_NEAR(accuracy[1], 6.0 / 7.0, kTolerance);
  EXPECT_NEAR(t.get<double>("sample_mean")[1], 6.0 / 7.0, kTolerance);
  EXPECT_NEAR(baseline[1], 1.0 / 3.0, kTolerance);
  EXPECT_NEAR(delta[1], 11.0 / 12.0 - 1.0 / 3.0, kTolerance);
  EXPECT_EQ(delta[0], 0.0);
  // The evaluator's own summary of the same samples agrees.
  EXPECT_NEAR(eval::summarize(task, "sw", samples(kBaseline, 0, n)).score, score[0], kTolerance);
  EXPECT_NEAR(eval::summarize(task, "sw", samples(kPoint, 0, n)).score, score[1], kTolerance);

  // McNemar on the verdict pairs: baseline-only correct 0, point-only correct 3 (samples 2, 5,
  // 6): exact two-sided p = 2 * (1/2)^3.
  EXPECT_NEAR(p[1], 0.25, kTolerance);
  EXPECT_TRUE(std::isnan(p[0]));

  // The CI is of the subject-mean difference: the bootstrap contract (results/significance.h:
  // per resample n draws Rng(seed).below(n), the same samples for both sides; percentile
  // interval, type 7) with the subject mean written out above.
  Rng rng(spec.bootstrap.seed);
  std::vector<double> diffs;
  for (int b = 0; b < spec.bootstrap.resamples; ++b) {
    std::vector<size_t> drawn;
    for (int64_t j = 0; j < n; ++j) drawn.push_back(size_t(rng.below(uint64_t(n))));
    diffs.push_back(subject_mean(kPoint, drawn) - subject_mean(kBaseline, drawn));
  }
  std::sort(diffs.begin(), diffs.end());
  const double alpha = 1 - spec.bootstrap.confidence;
  const auto& lo = t.get<double>("ci_low");
  const auto& hi = t.get<double>("ci_high");
  EXPECT_NEAR(lo[1], significance::quantile_sorted(diffs, alpha / 2), kTolerance);
  EXPECT_NEAR(hi[1], significance::quantile_sorted(diffs, 1 - alpha / 2), kTolerance);
  EXPECT_TRUE(std::isnan(lo[0]));
  fs::remove_all(d);
}

TEST(GmmluMerge, EvalComparisonUsesTheSubjectMeanAndMcNemar) {
  eval::EvalRun run;
  run.language = "sw";
  const int64_t n = int64_t(kSubjects.size());
  run.points.resize(2);
  run.points[0].samples = samples(kBaseline, 0, n);
  run.points[1].samples = samples(kPoint, 0, n);
  const results::PointComparison c =
      eval::compare_runs(std::vector<eval::EvalRun>{run}, 0, 1, eval::TaskKind::kGmmlu, {});
  ASSERT_EQ(c.languages.size(), 1u);
  const significance::PairedDifference& d = c.languages[0].difference;
  EXPECT_EQ(d.n, 7);
  EXPECT_NEAR(d.baseline_mean, 1.0 / 3.0, kTolerance);
  EXPECT_NEAR(d.treatment_mean, 11.0 / 12.0, kTolerance);
  ASSERT_TRUE(c.languages[0].mcnemar);
  EXPECT_EQ(c.languages[0].mcnemar->treatment_only, 3);
  EXPECT_EQ(c.languages[0].mcnemar->baseline_only, 0);
  // The same samples as a task scored by the mean: the micro averages.
  const results::PointComparison m =
      eval::compare_runs(std::vector<eval::EvalRun>{run}, 0, 1, eval::TaskKind::kBelebele, {});
  EXPECT_NEAR(m.languages[0].difference.difference, 3.0 / 7.0, kTolerance);
}

TEST(GmmluMerge, MetricCountsScoredSamplesOfEachSubjectOnly) {
  const significance::CorpusMetric m = tasks::gmmlu_subject_mean_metric();
  ASSERT_EQ(m.width, 14u);
  EXPECT_TRUE(m.verdicts);
  std::vector<double> stats;
  tasks::append_gmmlu_statistics("virology", 1.0, "t", stats);
  tasks::append_gmmlu_statistics("nutrition", 0.0, "t", stats);
  tasks::append_gmmlu_statistics("nutrition", 1.0, "t", stats);
  tasks::append_gmmlu_statistics("nutrition", std::nan(""), "t", stats);  // unscored: no count
  ASSERT_EQ(stats.size(), 4 * m.width);
  std::vector<double> sums(m.width, 0.0);
  for (size_t i = 0; i < stats.size(); ++i) sums[i % m.width] += stats[i];
  EXPECT_EQ(sums[2 * 4], 2.0);      // nutrition is kMedicalSubjects[4]: two scored samples
  EXPECT_EQ(sums[2 * 4 + 1], 1.0);  // one correct
  EXPECT_NEAR(m.score(sums), (1.0 + 0.5) / 2, kTolerance);
  EXPECT_TRUE(std::isnan(m.score(std::vector<double>(m.width, 0.0))));
}

TEST(GmmluMerge, UnknownSubjectOrMissingColumnIsAnInputErrorNamingIt) {
  eval::TaskConfig task;
  task.kind = eval::TaskKind::kGmmlu;
  eval::PointResult pr;
  pr.samples = samples(kBaseline, 0, 2);
  pr.samples[1].subject = "astronomy";
  const results::Table t = point_result(task, pr, {}).tables.at("samples");
  const results::CorpusScore cs = corpus_score(task.kind);
  try {
    cs(t, "point p1 language sw");
    FAIL() << "no error";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("point p1 language sw: row 1"), std::string::npos) << what;
    EXPECT_NE(what.find("'astronomy'"), std::string::npos) << what;
    EXPECT_NE(what.find("clinical_knowledge"), std::string::npos) << what;
  }
  results::Table no_subject;
  no_subject.col<int64_t>("sample") = {0};
  no_subject.col<double>("score") = {1.0};
  try {
    cs(no_subject, "point p1 language sw");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("column 'subject'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace moe::sweeps
