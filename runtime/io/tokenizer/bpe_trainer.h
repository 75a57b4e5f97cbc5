// train_bpe: learns BPE merges from word counts, deterministically (most frequent adjacent pair
// first; ties broken by the smaller pair of strings). Used by make_tokenizer to build small real
// vocabularies. Thread-safety: pure function.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace moe::io::tok {

struct BpeTrainResult {
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order
  std::vector<std::string> new_tokens;  // merged tokens not in the alphabet, in creation order
};

// words: each word as its initial symbols (alphabet strings) -> count. Symbols outside
// `alphabet` never merge. Stops after max_merges merges or when no pair occurs min_count times.
BpeTrainResult train_bpe(const std::map<std::vector<std::string>, int64_t>& words,
                         const std::vector<std::string>& alphabet, size_t max_merges,
                         int64_t min_count = 2);

}  // namespace moe::io::tok
