#include "results/comparison.h"

#include <cmath>
#include <cstddef>
#include <unordered_map>

#include "runtime/core/error.h"

namespace moe::results {

namespace {

// Sample index -> row, checking the side's sizes and that no index repeats.
std::unordered_map<int64_t, size_t> by_index(const ScoredSamples& s, const std::string& what,
                                             const significance::CorpusMetric& corpus) {
  MOE_ASSERT(s.index.size() == s.score.size(), "{}: {} indices, {} scores", what, s.index.size(),
             s.score.size());
  if (corpus)
    MOE_ASSERT(s.statistics.size() == s.index.size() * corpus.width,
               "{}: {} corpus statistics for {} samples of {}", what, s.statistics.size(),
               s.index.size(), corpus.width);
  std::unordered_map<int64_t, size_t> m;
  for (size_t i = 0; i < s.index.size(); ++i)
    MOE_ASSERT(m.emplace(s.index[i], i).second, "{}: sample {} twice", what, s.index[i]);
  return m;
}

void append_row(std::vector<double>& to, const ScoredSamples& s, size_t row, size_t width) {
  to.insert(to.end(), s.statistics.begin() + ptrdiff_t(row * width),
            s.statistics.begin() + ptrdiff_t((row + 1) * width));
}

}  // namespace

LanguageComparison compare_language(const std::string& language, const ScoredSamples& baseline,
                                    const ScoredSamples& point,
                                    const significance::BootstrapOptions& options,
                                    const significance::CorpusMetric& corpus) {
  LanguageComparison c;
  c.language = language;
  const auto base = by_index(baseline, language + " baseline", corpus);
  by_index(point, language + " point", corpus);  // checks the point side
  std::vector<double> b, t, b_stats, t_stats;
  bool binary = true;
  for (size_t i = 0; i < point.index.size(); ++i) {
    auto it = base.find(point.index[i]);
    if (it == base.end()) {
      ++c.unpaired;
      continue;
    }
    const double pb = baseline.score[it->second], pt = point.score[i];
    if (std::isnan(pb) || std::isnan(pt)) {
      ++c.unscored;
      continue;
    }
    b.push_back(pb);
    t.push_back(pt);
    if (corpus) {
      append_row(b_stats, baseline, it->second, corpus.width);
      append_row(t_stats, point, i, corpus.width);
    }
    binary = binary && (pb == 0.0 || pb == 1.0) && (pt == 0.0 || pt == 1.0);
  }
  c.unpaired += int(base.size()) - (int(b.size()) + c.unscored);
  c.difference = corpus ? significance::paired_bootstrap_corpus(b_stats, t_stats, corpus, options)
                        : significance::paired_bootstrap(b, t, options);
  if (binary && !b.empty() && (!corpus || corpus.verdicts))
    c.mcnemar = significance::mcnemar_exact(b, t);
  return c;
}

PointComparison compare_point(std::span<const LanguagePair> languages,
                              const significance::BootstrapOptions& options,
                              const significance::CorpusMetric& corpus) {
  PointComparison p;
  for (const LanguagePair& l : languages) {
    MOE_ASSERT(l.baseline && l.point, "comparison of {} without scores", l.language);
    p.languages.push_back(compare_language(l.language, *l.baseline, *l.point, options, corpus));
    const LanguageComparison& c = p.languages.back();
    if (c.difference.n > 0) {
      p.delta_languages.push_back(c.language);
      p.deltas.push_back(c.difference.difference);
    }
  }
  p.sign = significance::sign_test(p.deltas);
  p.t_test = significance::paired_t_test(p.deltas);
  return p;
}

}  // namespace moe::results
