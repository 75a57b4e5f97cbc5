// chrF: character n-gram F-score (Popovic 2015) exactly as sacreBLEU 2.x computes it with its
// defaults (char_order 6, word_order 0, beta 2, case-sensitive, whitespace excluded,
// eps_smoothing off), the metric of the FLORES translation task.
//
// Definition (sacrebleu/metrics/chrf.py, read for the facts):
//   - all whitespace is removed from hypothesis and reference (Python str.split() whitespace);
//   - for n = 1..6: counts of character (code point) n-grams; per order the statistics
//     [hyp n-grams, ref n-grams, matches = sum over n-grams of min(hyp count, ref count)], where
//     the hyp count is taken as 0 when the reference has no n-gram of that order;
//   - score: over the "effective" orders (hyp and ref both have n-grams) average precision P and
//     recall R; chrF = 100 (1 + b^2) P R / (b^2 P + R), 0 when P + R = 0.
// Sentence level scores one pair; corpus level sums the statistics of all pairs first.
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "results/significance.h"

namespace moe::tasks {

inline constexpr int kChrfCharOrder = 6;
inline constexpr double kChrfBeta = 2.0;

// [hyp, ref, match] for each order 1..6, flattened: stats[3 (n-1) + {0, 1, 2}].
using ChrfStats = std::array<int64_t, 3 * kChrfCharOrder>;

ChrfStats chrf_statistics(std::string_view hypothesis, std::string_view reference);
double chrf_from_statistics(const ChrfStats& stats);  // 0..100
// total += stats, element by element (corpus statistics are the sums over sentences).
void add_chrf_statistics(ChrfStats& total, const ChrfStats& stats);
// Name of statistic k (0 <= k < 18, the ChrfStats order) where stored as a column:
// chrf_hyp_<n>, chrf_ref_<n>, chrf_match_<n> for n = 1..6.
std::string chrf_statistic_name(size_t k);
// chrF as a corpus metric of the significance tests: the 18 statistics (ChrfStats order) summed
// over samples, then chrf_from_statistics (sums are whole counts held in doubles).
significance::CorpusMetric chrf_corpus_metric();

double sentence_chrf(std::string_view hypothesis, std::string_view reference);
// REQUIRES: equal sizes.
double corpus_chrf(std::span<const std::string> hypotheses,
                   std::span<const std::string> references);

}  // namespace moe::tasks
