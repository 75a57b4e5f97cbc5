#include "sweeps/tasks/text.h"

#include <utf8proc.h>

namespace moe::tasks {

namespace {

// Decodes one code point at s[i]; returns its length in bytes, or -1 if invalid.
long decode_one(std::string_view s, size_t i, char32_t& out) {
  utf8proc_int32_t c = 0;
  const auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + i),
                                  utf8proc_ssize_t(s.size() - i), &c);
  if (n <= 0) return -1;
  out = char32_t(c);
  return long(n);
}

}  // namespace

std::u32string decode_utf8(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    char32_t c;
    const long n = decode_one(s, i, c);
    if (n < 0) {
      out.push_back(U'\uFFFD');
      ++i;
    } else {
      out.push_back(c);
      i += size_t(n);
    }
  }
  return out;
}

std::string encode_utf8(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  utf8proc_uint8_t buf[4];
  for (char32_t c : s) {
    const auto n = utf8proc_encode_char(utf8proc_int32_t(c), buf);
    out.append(reinterpret_cast<const char*>(buf), size_t(n));
  }
  return out;
}

std::string sanitize_utf8(std::string_view s) {
  return first_invalid_utf8(s) ? encode_utf8(decode_utf8(s)) : std::string(s);
}

std::optional<size_t> first_invalid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    char32_t c;
    const long n = decode_one(s, i, c);
    if (n < 0) return i;
    i += size_t(n);
  }
  return std::nullopt;
}

bool is_space(char32_t c) {
  const utf8proc_property_t* p = utf8proc_get_property(utf8proc_int32_t(c));
  return p->category == UTF8PROC_CATEGORY_ZS || p->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
         p->bidi_class == UTF8PROC_BIDI_CLASS_B || p->bidi_class == UTF8PROC_BIDI_CLASS_S;
}

bool is_letter(char32_t c) {
  const auto cat = utf8proc_category(utf8proc_int32_t(c));
  return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}

std::vector<std::string> split_whitespace(std::string_view s) {
  std::vector<std::string> words;
  const std::u32string u = decode_utf8(s);
  std::u32string cur;
  for (char32_t c : u) {
    if (is_space(c)) {
      if (!cur.empty()) words.push_back(encode_utf8(cur)), cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) words.push_back(encode_utf8(cur));
  return words;
}

std::string to_lower(std::string_view s) {
  std::u32string u = decode_utf8(s);
  for (char32_t& c : u) c = char32_t(utf8proc_tolower(utf8proc_int32_t(c)));
  return encode_utf8(u);
}

std::string trim(std::string_view s) {
  const std::u32string u = decode_utf8(s);
  size_t b = 0, e = u.size();
  while (b < e && is_space(u[b])) ++b;
  while (e > b && is_space(u[e - 1])) --e;
  return encode_utf8(std::u32string_view(u).substr(b, e - b));
}

}  // namespace moe::tasks
