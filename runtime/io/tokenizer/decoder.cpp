#include "runtime/io/tokenizer/decoder.h"

#include "runtime/core/error.h"
#include "runtime/io/tokenizer/byte_level.h"
#include "runtime/io/tokenizer/regex.h"
#include "runtime/io/tokenizer/utf8.h"

namespace moe::io::tok {

namespace {

constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

// All token strings -> bytes through the byte-level alphabet (tokens with other characters are
// kept as they are), then one lossy UTF-8 string.
class ByteLevelDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const std::string& t : tokens) {
      if (auto b = alphabet_to_bytes(t))
        bytes += *b;
      else
        bytes += t;
    }
    tokens.assign(1, utf8_lossy(bytes));
  }
};

class MetaspaceDecoder final : public Decoder {
 public:
  MetaspaceDecoder(char32_t replacement, bool prepends)
      : replacement_(replacement), prepends_(prepends) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string out;
      const std::string& t = tokens[i];
      for (size_t p = 0; p < t.size();) {
        size_t len = 0;
        const char32_t cp = decode_utf8(t, p, len);
        if (cp != replacement_)
          out.append(t, p, len);
        else if (!(i == 0 && prepends_))
          out += ' ';
        p += len;
      }
      tokens[i] = std::move(out);
    }
  }

 private:
  char32_t replacement_;
  bool prepends_;
};

// <0xXX> tokens -> their bytes; a run of them becomes one string if it is valid UTF-8, else one
// U+FFFD per byte.
class ByteFallbackDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string run;
    size_t run_len = 0;
    auto flush = [&] {
      if (run_len == 0) return;
      if (find_invalid_utf8(run) == std::string::npos)
        out.push_back(run);
      else
        for (size_t k = 0; k < run_len; ++k) out.emplace_back(kReplacementChar);
      run.clear();
      run_len = 0;
    };
    for (std::string& t : tokens) {
      if (auto b = parse_byte(t)) {
        run.push_back(static_cast<char>(*b));
        ++run_len;
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens = std::move(out);
  }

 private:
  // "<0xHH>" -> HH (Rust's u8::from_str_radix also accepts a leading '+').
  static std::optional<unsigned> parse_byte(const std::string& t) {
    if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return std::nullopt;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (t[3] == '+') {
      const int v = hex(t[4]);
      if (v < 0) return std::nullopt;
      return static_cast<unsigned>(v);
    }
    const int hi = hex(t[3]), lo = hex(t[4]);
    if (hi < 0 || lo < 0) return std::nullopt;
    return static_cast<unsigned>(hi * 16 + lo);
  }
};

class FuseDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const std::string& t : tokens) all += t;
    tokens.assign(1, std::move(all));
  }
};

// Removes up to `start` leading and `stop` trailing `content` characters of every token.
class StripDecoder final : public Decoder {
 public:
  StripDecoder(char32_t content, size_t start, size_t stop)
      : content_(content), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) {
      std::vector<std::pair<size_t, size_t>> chars;  // (byte offset, length)
      for (size_t p = 0; p < t.size();) {
        size_t len = 0;
        decode_utf8(t, p, len);
        chars.emplace_back(p, len);
        p += len;
      }
      auto is_content = [&](size_t k) {
        size_t len = 0;
        return decode_utf8(t, chars[k].first, len) == content_;
      };
      size_t begin = 0;
      while (begin < std::min(start_, chars.size()) && is_content(begin)) ++begin;
      size_t end = chars.size();
      for (size_t k = 0; k < stop_ && end > begin && is_content(end - 1); ++k) --end;
      const size_t b = begin < chars.size() ? chars[begin].first : t.size();
      const size_t e = end < chars.size() ? chars[end].first : t.size();
      t = t.substr(b, e > b ? e - b : 0);
    }
  }

 private:
  char32_t content_;
  size_t start_, stop_;
};

class ReplaceDecoder final : public Decoder {
 public:
  ReplaceDecoder(Regex pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) {
      std::string out;
      for (const Span& s : pattern_.split_matches(t))
        out += s.is_match ? std::string_view(content_)
                          : std::string_view(t).substr(s.begin, s.end - s.begin);
      t = std::move(out);
    }
  }

 private:
  Regex pattern_;
  std::string content_;
};

// BPEDecoder: the end-of-word suffix becomes a space (nothing after the last token).
class BpeSuffixDecoder final : public Decoder {
 public:
  explicit BpeSuffixDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    if (suffix_.empty()) return;
    for (size_t i = 0; i < tokens.size(); ++i) {
      const std::string_view with = i + 1 == tokens.size() ? "" : " ";
      std::string out;
      const std::string& t = tokens[i];
      size_t p = 0;
      for (size_t f; (f = t.find(suffix_, p)) != std::string::npos; p = f + suffix_.size())
        out.append(t, p, f - p).append(with);
      out.append(t, p);
      tokens[i] = std::move(out);
    }
  }

 private:
  std::string suffix_;
};

class SequenceDecoder final : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps)
      : steps_(std::move(steps)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& s : steps_) s->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

}  // namespace

std::unique_ptr<Decoder> make_decoder(const Json& j, const JsonWhere& where) {
  const std::string type = type_of(j, where);
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Metaspace") {
    const std::string scheme = get_string(j, "prepend_scheme", where, "always");
    bool prepends = scheme != "never";
    if (const Json* aps = find_key(j, "add_prefix_space");
        aps && aps->is_boolean() && !aps->get<bool>())
      prepends = false;
    return std::make_unique<MetaspaceDecoder>(require_char(j, "replacement", where), prepends);
  }
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip")
    return std::make_unique<StripDecoder>(require_char(j, "content", where),
                                          get_uint(j, "start", where, 0),
                                          get_uint(j, "stop", where, 0));
  if (type == "Replace") {
    bool literal = false;
    const std::string pattern = pattern_of(j, "pattern", where, literal);
    return std::make_unique<ReplaceDecoder>(Regex(pattern, literal, where.key("pattern").str()),
                                            require_string(j, "content", where));
  }
  if (type == "BPEDecoder")
    return std::make_unique<BpeSuffixDecoder>(get_string(j, "suffix", where, "</w>"));
  if (type == "Sequence") {
    const Json& list = require_key(j, "decoders", where);
    const JsonWhere lw = where.key("decoders");
    if (!list.is_array())
      throw input_error(lw.str(), "expected an array, found {}", describe(list));
    std::vector<std::unique_ptr<Decoder>> steps;
    for (size_t i = 0; i < list.size(); ++i) steps.push_back(make_decoder(list[i], lw.index(i)));
    return std::make_unique<SequenceDecoder>(std::move(steps));
  }
  throw_unsupported(where.key("type"), type,
                    "ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace, BPEDecoder, "
                    "Sequence");
}

}  // namespace moe::io::tok
