#include "sweeps/tasks/chrf.h"

#include <cmath>
#include <unordered_map>

#include "runtime/core/error.h"
#include "sweeps/tasks/text.h"

namespace moe::tasks {

namespace {

std::u32string without_whitespace(std::string_view s) {
  std::u32string u = decode_utf8(s);
  std::erase_if(u, is_space);
  return u;
}

using NgramCounts = std::unordered_map<std::u32string_view, int64_t>;

NgramCounts ngrams(const std::u32string& s, size_t n) {
  NgramCounts c;
  for (size_t i = 0; i + n <= s.size(); ++i) ++c[std::u32string_view(s).substr(i, n)];
  return c;
}

}  // namespace

ChrfStats chrf_statistics(std::string_view hypothesis, std::string_view reference) {
  const std::u32string hyp = without_whitespace(hypothesis), ref = without_whitespace(reference);
  ChrfStats st{};
  for (size_t n = 1; n <= size_t(kChrfCharOrder); ++n) {
    const NgramCounts h = ngrams(hyp, n), r = ngrams(ref, n);
    int64_t hyp_count = 0, ref_count = 0, match = 0;
    for (const auto& [g, c] : h) {
      hyp_count += c;
      if (auto it = r.find(g); it != r.end()) match += std::min(c, it->second);
    }
    for (const auto& [g, c] : r) ref_count += c;
    st[3 * (n - 1) + 0] = r.empty() ? 0 : hyp_count;
    st[3 * (n - 1) + 1] = ref_count;
    st[3 * (n - 1) + 2] = match;
  }
  return st;
}

double chrf_from_statistics(const ChrfStats& st) {
  const double factor = kChrfBeta * kChrfBeta;
  double avg_p = 0, avg_r = 0;
  int effective = 0;
  for (int n = 0; n < kChrfCharOrder; ++n) {
    const int64_t h = st[3 * n], r = st[3 * n + 1], m = st[3 * n + 2];
    if (h > 0 && r > 0) {
      avg_p += double(m) / double(h);
      avg_r += double(m) / double(r);
      ++effective;
    }
  }
  if (effective == 0) return 0.0;
  avg_p /= effective;
  avg_r /= effective;
  if (avg_p + avg_r == 0) return 0.0;
  return 100.0 * (1 + factor) * avg_p * avg_r / (factor * avg_p + avg_r);
}

void add_chrf_statistics(ChrfStats& total, const ChrfStats& stats) {
  for (size_t k = 0; k < total.size(); ++k) total[k] += stats[k];
}

std::string chrf_statistic_name(size_t k) {
  MOE_ASSERT(k < std::tuple_size_v<ChrfStats>, "chrF statistic {} of {}", k,
             std::tuple_size_v<ChrfStats>);
  static const char* const kKinds[] = {"hyp", "ref", "match"};
  return "chrf_" + std::string(kKinds[k % 3]) + "_" + std::to_string(k / 3 + 1);
}

significance::CorpusMetric chrf_corpus_metric() {
  constexpr size_t kWidth = std::tuple_size_v<ChrfStats>;
  return {kWidth, [](std::span<const double> sums) {
            MOE_ASSERT(sums.size() == kWidth, "chrF from {} statistics", sums.size());
            ChrfStats st{};
            for (size_t k = 0; k < kWidth; ++k) st[k] = std::llround(sums[k]);
            return chrf_from_statistics(st);
          }};
}

double sentence_chrf(std::string_view hypothesis, std::string_view reference) {
  return chrf_from_statistics(chrf_statistics(hypothesis, reference));
}

double corpus_chrf(std::span<const std::string> hypotheses,
                   std::span<const std::string> references) {
  MOE_ASSERT(hypotheses.size() == references.size(), "{} hypotheses for {} references",
             hypotheses.size(), references.size());
  ChrfStats total{};
  for (size_t i = 0; i < hypotheses.size(); ++i)
    add_chrf_statistics(total, chrf_statistics(hypotheses[i], references[i]));
  return chrf_from_statistics(total);
}

}  // namespace moe::tasks
