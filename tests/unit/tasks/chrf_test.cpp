// chrF against sacreBLEU's values (tests/data/chrf_fixtures.json, made by
// tools/make_chrf_fixtures.py) and one hand-computed case.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "sweeps/tasks/chrf.h"
#include "tests/unit/tasks/chrf_fixtures.h"

namespace moe::tasks {
namespace {

// Scores are on sacreBLEU's 0..100 scale; both sides compute the same sums and divisions in
// double, so agreement is to rounding. Stated tolerance: 1e-9 absolute.
constexpr double kTolerance = 1e-9;

TEST(Chrf, HandComputedShortPair) {
  // hyp "ab", ref "abc": order 1 P = 2/2, R = 2/3; order 2 P = 1/1, R = 1/2; orders 3..6 have no
  // hypothesis n-grams (not effective). P = 1, R = 7/12; chrF = 100 * 5PR / (4P + R) = 100*35/55.
  EXPECT_NEAR(sentence_chrf("ab", "abc"), 100.0 * 35 / 55, 1e-12);
  EXPECT_EQ(sentence_chrf("same text", "same text"), 100.0);
  EXPECT_EQ(sentence_chrf("", "reference"), 0.0);
}

TEST(Chrf, SentenceLevelMatchesSacreBleu) {
  const auto doc = testing::chrf_fixtures();
  ASSERT_GE(doc["sentences"].size(), 20u);
  for (const auto& row : doc["sentences"]) {
    const std::string hyp = row["hypothesis"], ref = row["reference"];
    EXPECT_NEAR(sentence_chrf(hyp, ref), row["chrf"].get<double>(), kTolerance)
        << "hypothesis: " << hyp << "\nreference: " << ref;
  }
}

TEST(Chrf, CorpusLevelSumsStatisticsLikeSacreBleu) {
  const auto doc = testing::chrf_fixtures();
  std::vector<std::string> hyps, refs;
  double mean_of_sentences = 0;
  for (const auto& row : doc["sentences"]) {
    hyps.push_back(row["hypothesis"]);
    refs.push_back(row["reference"]);
    mean_of_sentences += row["chrf"].get<double>();
  }
  mean_of_sentences /= double(hyps.size());
  const double corpus = corpus_chrf(hyps, refs);
  EXPECT_NEAR(corpus, doc["corpus_chrf"].get<double>(), kTolerance);
  EXPECT_GT(std::abs(corpus - mean_of_sentences), 1.0);  // not an average of sentence scores
}

}  // namespace
}  // namespace moe::tasks
