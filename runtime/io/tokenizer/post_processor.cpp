#include "runtime/io/tokenizer/post_processor.h"

#include <map>

#include "runtime/core/error.h"

namespace moe::io::tok {

namespace {

// A template: the input sequence (empty ids) or a special token's ids.
struct TemplatePiece {
  bool is_sequence = false;
  std::vector<int32_t> ids;
};

class TemplateProcessor final : public PostProcessor {
 public:
  explicit TemplateProcessor(std::vector<TemplatePiece> pieces) : pieces_(std::move(pieces)) {}
  void process(std::vector<int32_t>& ids) const override {
    std::vector<int32_t> out;
    out.reserve(ids.size() + 4);
    for (const TemplatePiece& p : pieces_) {
      if (p.is_sequence)
        out.insert(out.end(), ids.begin(), ids.end());
      else
        out.insert(out.end(), p.ids.begin(), p.ids.end());
    }
    ids = std::move(out);
  }

 private:
  std::vector<TemplatePiece> pieces_;
};

class NoopProcessor final : public PostProcessor {
 public:
  void process(std::vector<int32_t>&) const override {}
};

class SequenceProcessor final : public PostProcessor {
 public:
  explicit SequenceProcessor(std::vector<std::unique_ptr<PostProcessor>> steps)
      : steps_(std::move(steps)) {}
  void process(std::vector<int32_t>& ids) const override {
    for (const auto& s : steps_) s->process(ids);
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> steps_;
};

// A template piece as JSON: {"Sequence": {"id": "A"}}, {"SpecialToken": {"id": "<s>"}}, or the
// string forms "$A", "$0", "<s>", "<s>:1".
struct RawPiece {
  bool is_sequence;
  std::string name;  // "A"/"B" or the special token's id
};

RawPiece parse_piece(const Json& p, const JsonWhere& w) {
  if (p.is_string()) {
    std::string s = p.get<std::string>();
    if (const size_t colon = s.rfind(':'); colon != std::string::npos && colon > 0)
      s = s.substr(0, colon);
    if (!s.empty() && s[0] == '$') {
      const std::string rest = s.substr(1);
      if (rest == "B" || rest == "b") return {true, "B"};
      return {true, "A"};
    }
    return {false, s};
  }
  if (const Json* seq = find_key(p, "Sequence"))
    return {true, get_string(*seq, "id", w.key("Sequence"), "A")};
  if (const Json* sp = find_key(p, "SpecialToken"))
    return {false, require_string(*sp, "id", w.key("SpecialToken"))};
  throw input_error(w.str(), "expected a Sequence or SpecialToken piece, found {}", describe(p));
}

std::unique_ptr<PostProcessor> make_template(const Json& j, const JsonWhere& where) {
  // special_tokens: {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}} (or a list of those).
  std::map<std::string, std::vector<int32_t>> specials;
  if (const Json* st = find_key(j, "special_tokens"); st && !st->is_null()) {
    const JsonWhere sw = where.key("special_tokens");
    if (!st->is_object() && !st->is_array())
      throw input_error(sw.str(), "expected an object, found {}", describe(*st));
    size_t i = 0;
    for (auto it = st->begin(); it != st->end(); ++it, ++i) {
      const JsonWhere w = st->is_object() ? sw.key(it.key()) : sw.index(i);
      const Json& ids = require_key(it.value(), "ids", w);
      if (!ids.is_array())
        throw input_error(w.key("ids").str(), "expected an array, found {}", describe(ids));
      std::vector<int32_t> v;
      for (size_t k = 0; k < ids.size(); ++k) {
        if (!ids[k].is_number_integer() || ids[k].get<int64_t>() < 0 ||
            ids[k].get<int64_t>() > INT32_MAX)
          throw input_error(w.key("ids").index(k).str(), "expected a token id, found {}",
                            describe(ids[k]));
        v.push_back(static_cast<int32_t>(ids[k].get<int64_t>()));
      }
      specials[require_string(it.value(), "id", w)] = std::move(v);
    }
  }
  const Json& single = require_key(j, "single", where);
  const JsonWhere tw = where.key("single");
  std::vector<Json> items;
  if (single.is_string()) {
    // "<s> $A" form: pieces separated by spaces.
    const std::string s = single.get<std::string>();
    for (size_t p = 0; p < s.size();) {
      const size_t e = std::min(s.find(' ', p), s.size());
      if (e > p) items.emplace_back(s.substr(p, e - p));
      p = e + 1;
    }
  } else if (single.is_array()) {
    items.assign(single.begin(), single.end());
  } else {
    throw input_error(tw.str(), "expected an array of pieces, found {}", describe(single));
  }
  std::vector<TemplatePiece> pieces;
  for (size_t i = 0; i < items.size(); ++i) {
    const RawPiece raw = parse_piece(items[i], tw.index(i));
    if (raw.is_sequence) {
      if (raw.name != "A")
        throw input_error(tw.index(i).str(), "expected sequence A in the single template, found {}",
                          raw.name);
      pieces.push_back({true, {}});
      continue;
    }
    auto it = specials.find(raw.name);
    if (it == specials.end())
      throw input_error(tw.index(i).str(), "expected a token listed in special_tokens, found '{}'",
                        raw.name);
    pieces.push_back({false, it->second});
  }
  return std::make_unique<TemplateProcessor>(std::move(pieces));
}

// RobertaProcessing / BertProcessing: "cls": [token, id], "sep": [token, id].
std::unique_ptr<PostProcessor> make_cls_sep(const Json& j, const JsonWhere& where) {
  auto id_of = [&](const char* key) {
    const Json& v = require_key(j, key, where);
    if (!v.is_array() || v.size() != 2 || !v[1].is_number_integer() || v[1].get<int64_t>() < 0 ||
        v[1].get<int64_t>() > INT32_MAX)
      throw input_error(where.key(key).str(), "expected [token, id], found {}", describe(v));
    return static_cast<int32_t>(v[1].get<int64_t>());
  };
  std::vector<TemplatePiece> pieces{{false, {id_of("cls")}}, {true, {}}, {false, {id_of("sep")}}};
  return std::make_unique<TemplateProcessor>(std::move(pieces));
}

}  // namespace

std::unique_ptr<PostProcessor> make_post_processor(const Json& j, const JsonWhere& where) {
  const std::string type = type_of(j, where);
  if (type == "TemplateProcessing") return make_template(j, where);
  if (type == "RobertaProcessing" || type == "BertProcessing") return make_cls_sep(j, where);
  if (type == "ByteLevel") return std::make_unique<NoopProcessor>();
  if (type == "Sequence") {
    const Json& list = require_key(j, "processors", where);
    const JsonWhere lw = where.key("processors");
    if (!list.is_array())
      throw input_error(lw.str(), "expected an array, found {}", describe(list));
    std::vector<std::unique_ptr<PostProcessor>> steps;
    for (size_t i = 0; i < list.size(); ++i)
      steps.push_back(make_post_processor(list[i], lw.index(i)));
    return std::make_unique<SequenceProcessor>(std::move(steps));
  }
  throw_unsupported(where.key("type"), type,
                    "TemplateProcessing, RobertaProcessing, BertProcessing, ByteLevel, Sequence");
}

}  // namespace moe::io::tok
