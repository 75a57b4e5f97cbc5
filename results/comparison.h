// Comparison of a grid point with its baseline (sweeps/METHODS.md D, "Significance"): the glue
// between per-sample scores and the tests of results/significance.h, used by `moe-sweep eval` and
// the reports.
//
// Per language, the point's and the baseline's samples are paired by sample index (the position
// in the task's sample list, the same for both); a sample missing on either side, or whose score
// is NaN on either side (e.g. an unscorable PolyMath answer), is left out of the pairs and
// counted. On the pairs: paired_bootstrap (difference of means, percentile CI) and, when every
// paired score is 0 or 1, mcnemar_exact. A task with a corpus-level score (FLORES: corpus chrF;
// Global-MMLU: mean over subjects) passes its CorpusMetric and each side's per-sample
// statistics: the difference is then of the corpus scores of the pairs, with
// paired_bootstrap_corpus's CI, and McNemar's test only where the metric's per-sample scores
// are verdicts (CorpusMetric::verdicts). Across languages, on the per-language differences of
// the languages with at least one pair: sign_test and paired_t_test.
// Thread-safety: pure functions and value types.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "results/significance.h"

namespace moe::results {

// The per-sample scores of one point in one language.
struct ScoredSamples {
  std::vector<int64_t> index;  // [n] sample indices (unique)
  std::vector<double> score;   // [n] NaN = no score (left out of the pairs)
  // [n, S] row-major: the corpus metric's per-sample sufficient statistics; empty when the
  // task has no corpus metric.
  std::vector<double> statistics = {};
};

struct LanguageComparison {
  std::string language;
  int unpaired = 0;                              // samples present on one side only
  int unscored = 0;                              // samples on both sides, NaN on at least one
  significance::PairedDifference difference;     // over the pairs
  std::optional<significance::McNemar> mcnemar;  // when every paired score is 0 or 1
};

struct PointComparison {
  std::vector<LanguageComparison> languages;  // in the order given
  std::vector<std::string> delta_languages;   // languages with at least one pair
  std::vector<double> deltas;                 // their differences (point - baseline)
  significance::SignTest sign;
  significance::TTest t_test;
};

// Throws InternalError if an index repeats within one side or the vector sizes differ (with a
// corpus metric: statistics.size() != n * corpus.width).
LanguageComparison compare_language(const std::string& language, const ScoredSamples& baseline,
                                    const ScoredSamples& point,
                                    const significance::BootstrapOptions& options = {},
                                    const significance::CorpusMetric& corpus = {});

struct LanguagePair {
  std::string language;
  const ScoredSamples* baseline = nullptr;
  const ScoredSamples* point = nullptr;
};
PointComparison compare_point(std::span<const LanguagePair> languages,
                              const significance::BootstrapOptions& options = {},
                              const significance::CorpusMetric& corpus = {});

}  // namespace moe::results
