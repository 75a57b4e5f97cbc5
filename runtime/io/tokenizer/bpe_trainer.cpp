#include "runtime/io/tokenizer/bpe_trainer.h"

#include <set>
#include <unordered_map>

namespace moe::io::tok {

BpeTrainResult train_bpe(const std::map<std::vector<std::string>, int64_t>& words,
                         const std::vector<std::string>& alphabet, size_t max_merges,
                         int64_t min_count) {
  // Symbols are interned; -1 marks a symbol outside the vocabulary (never merged).
  std::vector<std::string> names;
  std::map<std::string, int> index;
  for (const std::string& a : alphabet)
    if (index.emplace(a, static_cast<int>(names.size())).second) names.push_back(a);

  struct Word {
    std::vector<int> syms;
    int64_t count;
  };
  std::vector<Word> corpus;
  for (const auto& [symbols, count] : words) {
    Word w{{}, count};
    for (const std::string& s : symbols) {
      auto it = index.find(s);
      w.syms.push_back(it == index.end() ? -1 : it->second);
    }
    corpus.push_back(std::move(w));
  }

  BpeTrainResult result;
  auto key = [](int a, int b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b); };
  while (result.merges.size() < max_merges) {
    std::unordered_map<uint64_t, int64_t> counts;
    for (const Word& w : corpus)
      for (size_t i = 0; i + 1 < w.syms.size(); ++i)
        if (w.syms[i] >= 0 && w.syms[i + 1] >= 0) counts[key(w.syms[i], w.syms[i + 1])] += w.count;
    int best_a = -1, best_b = -1;
    int64_t best = 0;
    for (const auto& [k, c] : counts) {
      const int a = static_cast<int>(k >> 32), b = static_cast<int>(k & 0xFFFFFFFF);
      const bool better =
          c > best || (c == best && best_a >= 0 &&
                       std::tie(names[a], names[b]) < std::tie(names[best_a], names[best_b]));
      if (better) best = c, best_a = a, best_b = b;
    }
    if (best_a < 0 || best < min_count) break;
    const std::string merged = names[best_a] + names[best_b];
    int merged_id;
    if (auto it = index.find(merged); it != index.end()) {
      merged_id = it->second;
    } else {
      merged_id = static_cast<int>(names.size());
      index.emplace(merged, merged_id);
      names.push_back(merged);
      result.new_tokens.push_back(merged);
    }
    result.merges.emplace_back(names[best_a], names[best_b]);
    for (Word& w : corpus) {
      std::vector<int> out;
      out.reserve(w.syms.size());
      for (size_t i = 0; i < w.syms.size(); ++i) {
        if (i + 1 < w.syms.size() && w.syms[i] == best_a && w.syms[i + 1] == best_b) {
          out.push_back(merged_id);
          ++i;
        } else {
          out.push_back(w.syms[i]);
        }
      }
      w.syms = std::move(out);
    }
  }
  return result;
}

}  // namespace moe::io::tok
