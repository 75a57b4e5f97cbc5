// AddedVocabulary: the "added_tokens" of a tokenizer.json (special tokens such as <|im_end|> and
// user-added tokens). Finds them in text before anything else, leftmost-longest, honouring
// single_word / lstrip / rstrip; tokens with normalized=false match the raw input, the others the
// normalized pieces. Ids are assigned as the Hugging Face library assigns them when it loads a
// file: a token already in the model vocab keeps that id, the others get vocab size, +1, ... in
// file order (a file whose "id" fields disagree gets a warning, as in the library).
//
// Immutable after construction. Thread-safety: all methods are const and safe concurrently.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/io/tokenizer/bpe.h"
#include "runtime/io/tokenizer/json_util.h"

namespace moe::io::tok {

class Normalizer;

struct AddedToken {
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
  bool operator==(const AddedToken&) const = default;
};

class AddedVocabulary {
 public:
  // `added_tokens` is the JSON array (or null); `normalizer` may be null.
  AddedVocabulary(const Json& added_tokens, const JsonWhere& where, const BpeModel& model,
                  const Normalizer* normalizer);

  struct Segment {
    size_t begin = 0, end = 0;  // byte range in the text given to split()
    int32_t id = -1;            // the added token's id, or -1 for plain text
  };
  // Splits `text` into plain-text and added-token segments covering it (an empty text gives one
  // empty plain segment). normalized_tokens selects the tokens with normalized=true (matched on
  // normalized text) instead of those with normalized=false (matched on raw text).
  std::vector<Segment> split(std::string_view text, bool normalized_tokens) const;

  std::optional<int32_t> token_to_id(std::string_view content) const;
  const AddedToken* token(int32_t id) const;
  // The text decode() uses for an added token (its normalized form when it has one).
  std::optional<std::string> decode_text(int32_t id) const;
  bool is_special(std::string_view content) const {
    return special_.find(content) != special_.end();
  }
  int32_t max_id() const { return max_id_; }  // -1 if none
  const std::unordered_map<int32_t, AddedToken>& tokens() const { return by_id_; }

 private:
  // A byte trie over the match strings of one token set.
  struct Trie {
    struct Node {
      std::vector<std::pair<unsigned char, int>> children;  // sorted by byte
      int32_t id = -1;                                      // token ending here
    };
    std::vector<Node> nodes{Node{}};
    void insert(std::string_view s, int32_t id);
    // Longest token starting at text[pos]: (id, length), or id -1.
    std::pair<int32_t, size_t> longest_at(std::string_view text, size_t pos) const;
    bool empty() const { return nodes.size() == 1; }
  };

  TokenMap by_content_;
  std::unordered_map<int32_t, AddedToken> by_id_;
  std::unordered_map<int32_t, std::string> normalized_form_;
  std::set<std::string, std::less<>> special_;
  Trie raw_trie_, normalized_trie_;
  int32_t max_id_ = -1;
};

}  // namespace moe::io::tok
