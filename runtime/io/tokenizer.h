// Tokenizer: a Hugging Face tokenizer.json (BPE models) in C++, per MODELS.md section 5.
//
// Supports: added tokens (special, lstrip, rstrip, normalized, single_word) split first,
// leftmost-longest; normalizers NFC/NFKC/Prepend/Replace/Sequence; pre-tokenizers Split (PCRE2,
// UTF + UCP; behaviours Isolated/Removed/...), ByteLevel (with and without use_regex), Metaspace,
// Sequence; BPE with merges as "a b" strings or [a, b] pairs, byte_fallback, fuse_unk,
// ignore_merges; TemplateProcessing/ByteLevel post-processors; decoders that invert them.
// Anything else is an InputError naming the tokenizer.json key.
// Thread-safety: encode/decode are const and safe to call concurrently.
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
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = false) const;
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  std::string id_to_token(int32_t id) const;  // "" if out of range
  int64_t vocab_size() const;                 // including added tokens
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
