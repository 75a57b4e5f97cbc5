// Unicode text helpers shared by the task loaders and scorers (UTF-8 in, UTF-8 out).
//
// Several reference implementations the scores must match are Python: sacreBLEU's chrF drops
// whitespace with str.split(), the SQuAD script lower-cases with str.lower() and splits with
// str.split(). These helpers reproduce those Python definitions on code points (via utf8proc):
//   is_space(c)      Python str.isspace: general category Zs, or bidirectional class WS, B or S
//   split_whitespace Python str.split() with no argument
//   to_lower         per code point simple lower-case mapping (Python's str.lower also applies
//                    the few one-to-many mappings such as U+0130; those differ)
// Invalid UTF-8 decodes to U+FFFD per bad byte (never throws); loaders reject invalid UTF-8
// beforehand with first_invalid_utf8().
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moe::tasks {

std::u32string decode_utf8(std::string_view s);
std::string encode_utf8(std::u32string_view s);
// Valid UTF-8 with every invalid byte replaced by U+FFFD (model outputs may end mid-character).
std::string sanitize_utf8(std::string_view s);
// Byte offset of the first byte that does not start a valid UTF-8 sequence; nullopt if valid.
std::optional<size_t> first_invalid_utf8(std::string_view s);

bool is_space(char32_t c);
bool is_letter(char32_t c);  // general category L*
std::vector<std::string> split_whitespace(std::string_view s);
std::string to_lower(std::string_view s);
// Removes leading and trailing is_space() code points.
std::string trim(std::string_view s);

}  // namespace moe::tasks
