#include "runtime/io/tokenizer/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>
#include <vector>

#include "runtime/core/error.h"
#include "runtime/io/tokenizer/byte_level.h"
#include "runtime/io/tokenizer/regex.h"
#include "runtime/io/tokenizer/utf8.h"

namespace moe::io::tok {

std::string unicode_normalize(const std::string& text, UnicodeForm form) {
  int options = UTF8PROC_STABLE;
  switch (form) {
    case UnicodeForm::kNFC:
      options |= UTF8PROC_COMPOSE;
      break;
    case UnicodeForm::kNFD:
      options |= UTF8PROC_DECOMPOSE;
      break;
    case UnicodeForm::kNFKC:
      options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
      break;
    case UnicodeForm::kNFKD:
      options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
      break;
  }
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                          static_cast<utf8proc_ssize_t>(text.size()), &out,
                                          static_cast<utf8proc_option_t>(options));
  MOE_ASSERT(n >= 0, "utf8proc_map failed on valid UTF-8: {}", utf8proc_errmsg(n));
  std::string result(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
  std::free(out);
  return result;
}

namespace {

// Applies a function to every character; the function appends the replacement to `out`.
template <typename F>
void map_chars(std::string& text, F&& f) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t len = 0;
    const char32_t cp = decode_utf8(text, i, len);
    f(cp, std::string_view(text).substr(i, len), out);
    i += len;
  }
  text = std::move(out);
}

class UnicodeNormalizer final : public Normalizer {
 public:
  explicit UnicodeNormalizer(UnicodeForm form) : form_(form) {}
  void normalize(std::string& text) const override { text = unicode_normalize(text, form_); }

 private:
  UnicodeForm form_;
};

class Lowercase final : public Normalizer {
 public:
  void normalize(std::string& text) const override {
    map_chars(text, [](char32_t cp, std::string_view, std::string& out) {
      if (cp == 0x130) {  // 'İ' lowercases to "i" + combining dot above (Rust char::to_lowercase)
        out += "i\xCC\x87";
        return;
      }
      append_utf8(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
    });
  }
};

class Strip final : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  void normalize(std::string& text) const override {
    size_t begin = 0, end = text.size();
    if (left_) {
      while (begin < end) {
        size_t len = 0;
        if (!is_whitespace(decode_utf8(text, begin, len))) break;
        begin += len;
      }
    }
    if (right_) {
      while (end > begin) {
        size_t start = end - 1;
        while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
        size_t len = 0;
        if (!is_whitespace(decode_utf8(text, start, len))) break;
        end = start;
      }
    }
    text = text.substr(begin, end - begin);
  }

 private:
  bool left_, right_;
};

class StripAccents final : public Normalizer {
 public:
  void normalize(std::string& text) const override {
    map_chars(text, [](char32_t cp, std::string_view raw, std::string& out) {
      if (!is_combining_mark(cp)) out += raw;
    });
  }
};

class Prepend final : public Normalizer {
 public:
  explicit Prepend(std::string prefix) : prefix_(std::move(prefix)) {}
  void normalize(std::string& text) const override {
    if (!text.empty()) text = prefix_ + text;
  }

 private:
  std::string prefix_;
};

class Replace final : public Normalizer {
 public:
  Replace(Regex pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void normalize(std::string& text) const override {
    std::string out;
    out.reserve(text.size());
    for (const Span& s : pattern_.split_matches(text))
      out += s.is_match ? std::string_view(content_)
                        : std::string_view(text).substr(s.begin, s.end - s.begin);
    text = std::move(out);
  }

 private:
  Regex pattern_;
  std::string content_;
};

class ByteLevelNormalizer final : public Normalizer {
 public:
  void normalize(std::string& text) const override { text = bytes_to_alphabet(text); }
};

class Sequence final : public Normalizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Normalizer>> steps) : steps_(std::move(steps)) {}
  void normalize(std::string& text) const override {
    for (const auto& s : steps_) s->normalize(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const Json& j, const JsonWhere& where) {
  const std::string type = type_of(j, where);
  if (type == "NFC") return std::make_unique<UnicodeNormalizer>(UnicodeForm::kNFC);
  if (type == "NFD") return std::make_unique<UnicodeNormalizer>(UnicodeForm::kNFD);
  if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(UnicodeForm::kNFKC);
  if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(UnicodeForm::kNFKD);
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "StripAccents") return std::make_unique<StripAccents>();
  if (type == "ByteLevel") return std::make_unique<ByteLevelNormalizer>();
  if (type == "Strip")
    return std::make_unique<Strip>(get_bool(j, "strip_left", where, true),
                                   get_bool(j, "strip_right", where, true));
  if (type == "Prepend") return std::make_unique<Prepend>(require_string(j, "prepend", where));
  if (type == "Replace") {
    bool literal = false;
    const std::string pattern = pattern_of(j, "pattern", where, literal);
    return std::make_unique<Replace>(Regex(pattern, literal, where.key("pattern").str()),
                                     require_string(j, "content", where));
  }
  if (type == "Sequence") {
    const Json& list = require_key(j, "normalizers", where);
    const JsonWhere lw = where.key("normalizers");
    if (!list.is_array())
      throw input_error(lw.str(), "expected an array, found {}", describe(list));
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (size_t i = 0; i < list.size(); ++i) steps.push_back(make_normalizer(list[i], lw.index(i)));
    return std::make_unique<Sequence>(std::move(steps));
  }
  throw_unsupported(where.key("type"), type,
                    "NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, Prepend, Replace, "
                    "ByteLevel, Sequence");
}

}  // namespace moe::io::tok
