// UTF-8 and Unicode character helpers shared by the tokenizer stages.
//
// Text handed to these functions is valid UTF-8 (the tokenizer validates its input once, at
// encode()); decode_utf8 still never reads past the end. Character classes follow what the
// Hugging Face tokenizers library uses: Rust's char::is_whitespace (White_Space) and is_numeric
// (N*), and the regex crate's Unicode \w. Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace moe::io::tok {

// Decodes the code point starting at s[pos]; sets `len` to its byte length (1 for a bad byte).
char32_t decode_utf8(std::string_view s, size_t pos, size_t& len);
void append_utf8(std::string& out, char32_t cp);
std::string to_utf8(char32_t cp);
// Byte offset of the first invalid UTF-8 sequence, or std::string_view::npos if `s` is valid.
size_t find_invalid_utf8(std::string_view s);
// Byte length of the UTF-8 sequence that starts with `lead` (1 for continuation/invalid bytes).
size_t utf8_len(unsigned char lead);

bool is_whitespace(char32_t cp);      // Unicode White_Space
bool is_numeric(char32_t cp);         // Nd, Nl, No
// Regex \w: Alphabetic (L*, Nl, the Other_Alphabetic letters-like symbols), M*, Nd, Pc,
// Join_Control.
bool is_word_char(char32_t cp);
bool is_punctuation(char32_t cp);     // ASCII punctuation or P*
bool is_combining_mark(char32_t cp);  // Mn, Mc, Me

// Bytes -> valid UTF-8, each maximal invalid subsequence replaced by U+FFFD (as Rust's
// String::from_utf8_lossy).
std::string utf8_lossy(std::string_view bytes);

}  // namespace moe::io::tok
