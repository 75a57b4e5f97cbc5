// Pre-tokenizers of tokenizer.json ("pre_tokenizer" key): split each normalized piece of input
// into the pieces the model tokenizes separately, possibly rewriting them (ByteLevel maps bytes
// to its alphabet, Metaspace replaces spaces). Supported types: Split (PCRE2 regex or string;
// behaviours Removed/Isolated/MergedWithPrevious/MergedWithNext/Contiguous; invert), ByteLevel
// (add_prefix_space, use_regex with the GPT-2 regex), Metaspace (replacement, prepend_scheme
// first/always/never, split), Digits, Punctuation, Whitespace, WhitespaceSplit, BertPreTokenizer,
// Sequence. Empty pieces are dropped, as the library does.
// Immutable after construction. Thread-safety: pre_tokenize() is const and safe concurrently.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/io/tokenizer/json_util.h"
#include "runtime/io/tokenizer/regex.h"

namespace moe::io::tok {

// A piece of (normalized) input text on its way to the model.
struct Piece {
  std::string text;
  bool at_origin = false;  // starts at byte 0 of the original input (Metaspace "first")
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces `pieces` by their sub-pieces, in order.
  virtual void pre_tokenize(std::vector<Piece>& pieces) const = 0;
};

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const Json& j, const JsonWhere& where);

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// Splits `piece` at `spans` (matches and gaps covering its text, see Regex::split_matches) with
// the library's delimiter behaviour; appends the non-empty sub-pieces to `out`.
void split_piece(const Piece& piece, const std::vector<Span>& spans, SplitBehavior behavior,
                 std::vector<Piece>& out);

}  // namespace moe::io::tok
