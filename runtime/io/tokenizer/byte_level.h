// The GPT-2 byte-level alphabet: every byte maps to one printable code point (printable Latin-1
// bytes map to themselves, the other 68 bytes to U+0100 + n in ascending byte order), so that BPE
// can work on any byte string. Used by the ByteLevel pre-tokenizer and decoder and by
// make_tokenizer. Thread-safety: pure functions over constant tables.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace moe::io::tok {

// The GPT-2 pre-tokenization regex (ByteLevel with use_regex = true).
inline constexpr std::string_view kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

char32_t byte_to_char(unsigned char b);
std::optional<unsigned char> char_to_byte(char32_t cp);
// Maps every byte of `bytes` to its alphabet character (UTF-8 encoded).
std::string bytes_to_alphabet(std::string_view bytes);
// Inverse of bytes_to_alphabet for one token: nullopt if a character is outside the alphabet.
std::optional<std::string> alphabet_to_bytes(std::string_view token);

}  // namespace moe::io::tok
