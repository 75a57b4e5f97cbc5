// BpeModel: the "model" of a tokenizer.json of type BPE. Turns one pre-tokenized piece into ids:
// start from its characters (with continuing_subword_prefix / end_of_word_suffix, byte_fallback
// to <0xXX> tokens, unk_token with fuse_unk), then repeatedly apply the lowest-ranked merge
// (leftmost first on ties) with a priority queue over a linked list of symbols, exactly as the
// Hugging Face library does. ignore_merges: a piece that is itself in the vocab is one token.
// Results for short pieces are cached.
//
// Owns its vocabulary and merge table. Thread-safety: tokenize() is const and safe from several
// threads (the cache is guarded by a shared mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/io/tokenizer/json_util.h"

namespace moe::io::tok {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TokenMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

class BpeModel {
 public:
  // `model` is the tokenizer.json "model" object; `where` names it in errors.
  BpeModel(const Json& model, const JsonWhere& where);
  BpeModel(BpeModel&&) noexcept;
  ~BpeModel();

  // Appends the ids of one piece to `out`.
  void tokenize(std::string_view piece, std::vector<int32_t>& out) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  const std::string* id_to_token(int32_t id) const;  // null if no such id
  size_t size() const { return vocab_.size(); }      // number of entries
  int32_t max_id() const { return max_id_; }         // -1 if empty

 private:
  void merge_word(std::string_view piece, std::vector<int32_t>& out) const;
  int32_t unk_id() const;

  struct Merge {
    uint32_t rank;
    int32_t new_id;
  };
  static uint64_t pair_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

  TokenMap vocab_;
  std::unordered_map<int32_t, std::string> vocab_r_;
  std::unordered_map<uint64_t, Merge> merges_;
  int32_t max_id_ = -1;
  std::optional<std::string> unk_token_;
  std::string unk_where_;
  std::string prefix_;  // continuing_subword_prefix ("" if none)
  std::string suffix_;  // end_of_word_suffix ("" if none)
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  std::vector<int32_t> byte_ids_;  // [256] id of <0xXX>, -1 if absent (byte_fallback)

  static constexpr size_t kCacheCapacity = 10000;
  static constexpr size_t kCacheMaxPiece = 256;
  mutable std::shared_mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace moe::io::tok
