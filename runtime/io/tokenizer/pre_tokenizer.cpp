#include "runtime/io/tokenizer/pre_tokenizer.h"

#include <functional>

#include "runtime/core/error.h"
#include "runtime/io/tokenizer/byte_level.h"
#include "runtime/io/tokenizer/utf8.h"

namespace moe::io::tok {

void split_piece(const Piece& piece, const std::vector<Span>& spans, SplitBehavior behavior,
                 std::vector<Piece>& out) {
  // (begin, end, remove) after applying the behaviour, as NormalizedString::split does.
  std::vector<Span> parts;
  parts.reserve(spans.size());
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const Span& s : spans) parts.push_back({s.begin, s.end, false});
      break;
    case SplitBehavior::kRemoved:
      parts = spans;  // is_match doubles as "remove"
      break;
    case SplitBehavior::kContiguous: {
      bool prev_match = false;
      for (const Span& s : spans) {
        if (s.is_match == prev_match && !parts.empty())
          parts.back().end = s.end;
        else
          parts.push_back({s.begin, s.end, false});
        prev_match = s.is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithPrevious: {
      bool prev_match = false;
      for (const Span& s : spans) {
        if (s.is_match && !prev_match && !parts.empty())
          parts.back().end = s.end;
        else
          parts.push_back({s.begin, s.end, false});
        prev_match = s.is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool prev_match = false;
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->is_match && !prev_match && !parts.empty())
          parts.back().begin = it->begin;
        else
          parts.push_back({it->begin, it->end, false});
        prev_match = it->is_match;
      }
      std::reverse(parts.begin(), parts.end());
      break;
    }
  }
  for (const Span& p : parts) {
    if (p.is_match || p.end == p.begin) continue;
    out.push_back({piece.text.substr(p.begin, p.end - p.begin), piece.at_origin && p.begin == 0});
  }
}

namespace {

// Matches of a character predicate (each matching character is its own match), covering `text`.
std::vector<Span> char_matches(std::string_view text, const std::function<bool(char32_t)>& pred) {
  if (text.empty()) return {{0, 0, false}};
  std::vector<Span> out;
  size_t last = 0;
  for (size_t i = 0; i < text.size();) {
    size_t len = 0;
    const char32_t cp = decode_utf8(text, i, len);
    if (pred(cp)) {
      if (last < i) out.push_back({last, i, false});
      out.push_back({i, i + len, true});
      last = i + len;
    }
    i += len;
  }
  if (last < text.size()) out.push_back({last, text.size(), false});
  return out;
}

// Splits every piece with `matcher(text) -> spans`, then `behavior`.
template <typename Matcher>
void split_all(std::vector<Piece>& pieces, SplitBehavior behavior, Matcher&& matcher) {
  std::vector<Piece> out;
  out.reserve(pieces.size());
  for (const Piece& p : pieces) split_piece(p, matcher(p.text), behavior, out);
  pieces = std::move(out);
}

void invert(std::vector<Span>& spans) {
  for (Span& s : spans) s.is_match = !s.is_match;
}

SplitBehavior parse_behavior(const Json& j, const JsonWhere& where, const char* dflt) {
  const std::string b = get_string(j, "behavior", where, dflt);
  if (b == "Removed") return SplitBehavior::kRemoved;
  if (b == "Isolated") return SplitBehavior::kIsolated;
  if (b == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (b == "Contiguous") return SplitBehavior::kContiguous;
  throw input_error(where.key("behavior").str(),
                    "expected Removed, Isolated, MergedWithPrevious, MergedWithNext or "
                    "Contiguous, found '{}'",
                    b);
}

class SplitPreTokenizer final : public PreTokenizer {
 public:
  SplitPreTokenizer(Regex pattern, SplitBehavior behavior, bool inverted)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(inverted) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_all(pieces, behavior_, [&](const std::string& text) {
      auto spans = pattern_.split_matches(text);
      if (invert_) invert(spans);
      return spans;
    });
  }

 private:
  Regex pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex, const JsonWhere& where)
      : add_prefix_space_(add_prefix_space) {
    if (use_regex) regex_ = std::make_unique<Regex>(kGpt2Regex, false, where.str());
  }
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    if (add_prefix_space_)
      for (Piece& p : pieces)
        if (p.text.empty() || p.text[0] != ' ') p.text = " " + p.text;
    if (regex_)
      split_all(pieces, SplitBehavior::kIsolated,
                [&](const std::string& text) { return regex_->split_matches(text); });
    for (Piece& p : pieces) p.text = bytes_to_alphabet(p.text);
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> regex_;
};

enum class PrependScheme { kFirst, kNever, kAlways };

class MetaspacePreTokenizer final : public PreTokenizer {
 public:
  MetaspacePreTokenizer(char32_t replacement, PrependScheme scheme, bool split)
      : replacement_(replacement), rep_(to_utf8(replacement)), scheme_(scheme), split_(split) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for (Piece& p : pieces) {
      std::string replaced;
      replaced.reserve(p.text.size() + rep_.size());
      for (char c : p.text)
        if (c == ' ')
          replaced += rep_;
        else
          replaced += c;
      const bool starts = replaced.compare(0, rep_.size(), rep_) == 0;
      if (!starts &&
          (scheme_ == PrependScheme::kAlways || (scheme_ == PrependScheme::kFirst && p.at_origin)))
        replaced = rep_ + replaced;
      p.text = std::move(replaced);
    }
    if (split_)
      split_all(pieces, SplitBehavior::kMergedWithNext, [&](const std::string& text) {
        return char_matches(text, [&](char32_t c) { return c == replacement_; });
      });
  }

 private:
  char32_t replacement_;
  std::string rep_;
  PrependScheme scheme_;
  bool split_;
};

// A pre-tokenizer that splits on a character predicate with a fixed behaviour.
class CharSplitPreTokenizer final : public PreTokenizer {
 public:
  CharSplitPreTokenizer(std::function<bool(char32_t)> pred, SplitBehavior behavior)
      : pred_(std::move(pred)), behavior_(behavior) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_all(pieces, behavior_,
              [&](const std::string& text) { return char_matches(text, pred_); });
  }

 private:
  std::function<bool(char32_t)> pred_;
  SplitBehavior behavior_;
};

// Whitespace: keeps runs of word characters and runs of other non-space characters (\w+|[^\w\s]+).
class WhitespacePreTokenizer final : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_all(pieces, SplitBehavior::kRemoved, [](const std::string& text) {
      // Classes: 0 whitespace, 1 word, 2 other; runs of 1 or 2 are kept, whitespace removed.
      std::vector<Span> spans;
      if (text.empty()) return std::vector<Span>{{0, 0, false}};
      int run_class = -1;
      for (size_t i = 0; i < text.size();) {
        size_t len = 0;
        const char32_t cp = decode_utf8(text, i, len);
        const int cls = is_whitespace(cp) ? 0 : is_word_char(cp) ? 1 : 2;
        if (cls == run_class && cls != 0)
          spans.back().end = i + len;
        else
          spans.push_back({i, i + len, cls == 0});
        run_class = cls;
        i += len;
      }
      return spans;
    });
  }
};

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps)
      : steps_(std::move(steps)) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for (const auto& s : steps_) s->pre_tokenize(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

PrependScheme parse_prepend_scheme(const Json& j, const JsonWhere& where) {
  PrependScheme scheme = PrependScheme::kAlways;
  const std::string s = get_string(j, "prepend_scheme", where, "always");
  if (s == "first")
    scheme = PrependScheme::kFirst;
  else if (s == "never")
    scheme = PrependScheme::kNever;
  else if (s != "always")
    throw input_error(where.key("prepend_scheme").str(),
                      "expected first, always or never, found '{}'", s);
  // Older files carry add_prefix_space instead; false means never.
  if (const Json* aps = find_key(j, "add_prefix_space");
      aps && aps->is_boolean() && !aps->get<bool>())
    scheme = PrependScheme::kNever;
  return scheme;
}

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const Json& j, const JsonWhere& where) {
  const std::string type = type_of(j, where);
  if (type == "Split") {
    bool literal = false;
    const std::string pattern = pattern_of(j, "pattern", where, literal);
    return std::make_unique<SplitPreTokenizer>(Regex(pattern, literal, where.key("pattern").str()),
                                               parse_behavior(j, where, "Isolated"),
                                               get_bool(j, "invert", where, false));
  }
  if (type == "ByteLevel")
    return std::make_unique<ByteLevelPreTokenizer>(get_bool(j, "add_prefix_space", where, true),
                                                   get_bool(j, "use_regex", where, true), where);
  if (type == "Metaspace")
    return std::make_unique<MetaspacePreTokenizer>(require_char(j, "replacement", where),
                                                   parse_prepend_scheme(j, where),
                                                   get_bool(j, "split", where, true));
  if (type == "Digits")
    return std::make_unique<CharSplitPreTokenizer>(
        is_numeric, get_bool(j, "individual_digits", where, false) ? SplitBehavior::kIsolated
                                                                   : SplitBehavior::kContiguous);
  if (type == "Punctuation")
    return std::make_unique<CharSplitPreTokenizer>(is_punctuation,
                                                   parse_behavior(j, where, "Isolated"));
  if (type == "WhitespaceSplit")
    return std::make_unique<CharSplitPreTokenizer>(is_whitespace, SplitBehavior::kRemoved);
  if (type == "Whitespace") return std::make_unique<WhitespacePreTokenizer>();
  if (type == "BertPreTokenizer") {
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    steps.push_back(
        std::make_unique<CharSplitPreTokenizer>(is_whitespace, SplitBehavior::kRemoved));
    steps.push_back(
        std::make_unique<CharSplitPreTokenizer>(is_punctuation, SplitBehavior::kIsolated));
    return std::make_unique<SequencePreTokenizer>(std::move(steps));
  }
  if (type == "Sequence") {
    const Json& list = require_key(j, "pretokenizers", where);
    const JsonWhere lw = where.key("pretokenizers");
    if (!list.is_array())
      throw input_error(lw.str(), "expected an array, found {}", describe(list));
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (size_t i = 0; i < list.size(); ++i)
      steps.push_back(make_pre_tokenizer(list[i], lw.index(i)));
    return std::make_unique<SequencePreTokenizer>(std::move(steps));
  }
  throw_unsupported(where.key("type"), type,
                    "Split, ByteLevel, Metaspace, Digits, Punctuation, Whitespace, "
                    "WhitespaceSplit, BertPreTokenizer, Sequence");
}

}  // namespace moe::io::tok
