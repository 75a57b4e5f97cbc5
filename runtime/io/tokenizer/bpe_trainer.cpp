#include "runtime/io/tokenizer/bpe_trainer.h"

#include <algorithm>
#include <tuple>
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

  // Pair counts, kept up to date as words change; `where` lists the words holding each pair
  // (possibly stale or repeated: checked when used).
  auto key = [](int a, int b) {
    return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b);
  };
  std::unordered_map<uint64_t, int64_t> counts;
  std::unordered_map<uint64_t, std::vector<int>> where;
  auto account = [&](int w, int64_t sign) {
    const Word& word = corpus[w];
    for (size_t i = 0; i + 1 < word.syms.size(); ++i) {
      if (word.syms[i] < 0 || word.syms[i + 1] < 0) continue;
      const uint64_t k = key(word.syms[i], word.syms[i + 1]);
      counts[k] += sign * word.count;
      if (sign > 0) where[k].push_back(w);
    }
  };
  for (int w = 0; w < static_cast<int>(corpus.size()); ++w) account(w, +1);

  BpeTrainResult result;
  while (result.merges.size() < max_merges) {
    int best_a = -1, best_b = -1;
    int64_t best = 0;
    for (const auto& [k, c] : counts) {
      if (c <= 0 || c < best) continue;
      const int a = static_cast<int>(k >> 32), b = static_cast<int>(k & 0xFFFFFFFF);
      if (c > best || std::tie(names[a], names[b]) < std::tie(names[best_a], names[best_b]))
        best = c, best_a = a, best_b = b;
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

    std::vector<int> words_with_pair = std::move(where[key(best_a, best_b)]);
    std::sort(words_with_pair.begin(), words_with_pair.end());
    words_with_pair.erase(std::unique(words_with_pair.begin(), words_with_pair.end()),
                          words_with_pair.end());
    for (int w : words_with_pair) {
      Word& word = corpus[w];
      account(w, -1);
      std::vector<int> out;
      out.reserve(word.syms.size());
      for (size_t i = 0; i < word.syms.size(); ++i) {
        if (i + 1 < word.syms.size() && word.syms[i] == best_a && word.syms[i + 1] == best_b) {
          out.push_back(merged_id);
          ++i;
        } else {
          out.push_back(word.syms[i]);
        }
      }
      word.syms = std::move(out);
      account(w, +1);
    }
  }
  return result;
}

}  // namespace moe::io::tok
