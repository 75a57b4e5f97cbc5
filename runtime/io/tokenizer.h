// Tokenizer: a Hugging Face tokenizer.json (BPE models) in C++, per runtime/models/README.md
// section 5, giving the ids and text the `tokenizers` library gives
// (tests/unit/tokenizer/hf_parity_test.cpp).
//
// Pipeline (runtime/io/tokenizer/*): added tokens split first, leftmost-longest (special, lstrip,
// rstrip, normalized, single_word honoured; ids assigned as the library assigns them) ->
// normalizer (NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, Prepend, Replace, ByteLevel,
// Sequence) -> pre-tokenizer (Split with PCRE2 regexes (UTF + UCP, JIT) and every delimiter
// behaviour and invert, ByteLevel with or without the GPT-2 regex, Metaspace, Digits,
// Punctuation, Whitespace, WhitespaceSplit, BertPreTokenizer, Sequence) -> BPE (merges as "a b"
// or [a, b], byte_fallback, fuse_unk, unk_token, ignore_merges, continuing_subword_prefix,
// end_of_word_suffix; piece cache) -> post-processor (TemplateProcessing, Roberta/BertProcessing,
// ByteLevel, Sequence). decode() runs the decoder (ByteLevel, Metaspace, ByteFallback, Fuse,
// Strip, Replace, BPEDecoder, Sequence). Any other type is an InputError naming the key and the
// type found ("tokenizer.json: model.type: expected BPE, found WordPiece").
// Not applied: BPE dropout (a training option; a warning is logged), truncation and padding.
//
// Owns everything it loaded (immutable after load). Thread-safety: encode/decode and the lookups
// are const and safe to call concurrently.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace moe::io {

class Tokenizer {
 public:
  static Tokenizer load(const std::filesystem::path& tokenizer_json);
  static Tokenizer from_json(const std::string& json_text, const std::string& label);

  // add_special_tokens applies the post-processor (BOS/EOS templates), as HF's encode() does.
  // Throws InputError if `text` is not valid UTF-8.
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = false) const;
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  std::string id_to_token(int32_t id) const;  // "" if out of range
  int64_t vocab_size() const;                 // largest id (model or added token) + 1
  bool is_special(int32_t id) const;

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace moe::io
