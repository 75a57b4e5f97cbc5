// Tokenizer: loads tokenizer.json into its stages (runtime/io/tokenizer/*) and runs them in the
// order the Hugging Face library does: added tokens on raw text -> normalizer -> added tokens on
// normalized text -> pre-tokenizer -> BPE -> post-processor; decode runs the decoder.
#include "runtime/io/tokenizer.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "runtime/core/error.h"
#include "runtime/io/tokenizer/added_vocabulary.h"
#include "runtime/io/tokenizer/bpe.h"
#include "runtime/io/tokenizer/decoder.h"
#include "runtime/io/json_util.h"
#include "runtime/io/tokenizer/json_util.h"
#include "runtime/io/tokenizer/normalizer.h"
#include "runtime/io/tokenizer/post_processor.h"
#include "runtime/io/tokenizer/pre_tokenizer.h"
#include "runtime/io/tokenizer/utf8.h"

namespace moe::io {

struct Tokenizer::Impl {
  std::string label;
  std::unique_ptr<tok::BpeModel> model;
  std::unique_ptr<tok::Normalizer> normalizer;       // may be null
  std::unique_ptr<tok::PreTokenizer> pre_tokenizer;  // may be null
  std::unique_ptr<tok::AddedVocabulary> added;
  std::unique_ptr<tok::PostProcessor> post_processor;  // may be null
  std::unique_ptr<tok::Decoder> decoder;               // may be null

  static std::unique_ptr<Impl> build(const tok::Json& root, const std::string& label);
  void encode_plain(std::string_view raw, bool at_origin, std::vector<int32_t>& ids) const;
};

std::unique_ptr<Tokenizer::Impl> Tokenizer::Impl::build(const tok::Json& root,
                                                        const std::string& label) {
  using namespace tok;
  const JsonWhere where(label);
  require_object(root, where);
  if (const Json* v = find_key(root, "version");
      v && !(v->is_string() && v->get<std::string>() == "1.0"))
    throw input_error(where.key("version").str(), "expected \"1.0\", found {}", describe(*v));

  auto impl = std::make_unique<Tokenizer::Impl>();
  impl->label = label;
  impl->model = std::make_unique<BpeModel>(require_key(root, "model", where), where.key("model"));
  auto optional = [&](const char* key) -> const Json* {
    const Json* j = find_key(root, key);
    return j && !j->is_null() ? j : nullptr;
  };
  if (const Json* j = optional("normalizer"))
    impl->normalizer = make_normalizer(*j, where.key("normalizer"));
  if (const Json* j = optional("pre_tokenizer"))
    impl->pre_tokenizer = make_pre_tokenizer(*j, where.key("pre_tokenizer"));
  if (const Json* j = optional("post_processor"))
    impl->post_processor = make_post_processor(*j, where.key("post_processor"));
  if (const Json* j = optional("decoder")) impl->decoder = make_decoder(*j, where.key("decoder"));
  const Json* added = find_key(root, "added_tokens");
  impl->added =
      std::make_unique<AddedVocabulary>(added ? *added : Json(nullptr), where.key("added_tokens"),
                                        *impl->model, impl->normalizer.get());
  return impl;
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_json(const std::string& json_text, const std::string& label) {
  tok::Json root;
  try {
    root = tok::Json::parse(json_text);
  } catch (const tok::Json::exception& e) {
    const JsonFailure f = json_failure(e);
    std::string where = label;
    if (f.byte) {
      // 1-based line and column of the byte, for editors.
      const size_t at = std::min<size_t>(*f.byte, json_text.size());
      const size_t line = 1 + size_t(std::count(json_text.begin(), json_text.begin() + at, '\n'));
      const size_t line_start = json_text.rfind('\n', at ? at - 1 : 0);
      const size_t column = line_start == std::string::npos || line == 1 ? at + 1 : at - line_start;
      where += fmt::format(": byte {} (line {}, column {})", *f.byte, line, column);
    }
    throw input_error(where, "expected valid JSON, found {}", f.problem);
  }
  try {
    return Tokenizer(Impl::build(root, label));
  } catch (const tok::Json::exception& e) {
    // A value of an unexpected JSON type that a check above did not name more precisely.
    throw input_error(label, "expected a tokenizer.json, found {}", e.what());
  }
}

Tokenizer Tokenizer::load(const std::filesystem::path& tokenizer_json) {
  std::ifstream in(tokenizer_json, std::ios::binary);
  if (!in)
    throw input_error(tokenizer_json.string(), "expected a readable tokenizer.json, found none");
  std::ostringstream ss;
  ss << in.rdbuf();
  return from_json(ss.str(), tokenizer_json.string());
}

void Tokenizer::Impl::encode_plain(std::string_view raw, bool at_origin,
                                   std::vector<int32_t>& ids) const {
  std::string text(raw);
  if (normalizer) normalizer->normalize(text);
  std::vector<tok::Piece> pieces;
  for (const auto& seg : added->split(text, /*normalized_tokens=*/true)) {
    if (seg.id >= 0) {
      ids.push_back(seg.id);
      continue;
    }
    if (seg.end == seg.begin) continue;
    pieces.assign(
        1, tok::Piece{text.substr(seg.begin, seg.end - seg.begin), at_origin && seg.begin == 0});
    if (pre_tokenizer) pre_tokenizer->pre_tokenize(pieces);
    for (const tok::Piece& p : pieces) model->tokenize(p.text, ids);
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  if (const size_t bad = tok::find_invalid_utf8(text); bad != std::string_view::npos)
    throw input_error(impl_->label + ": input text",
                      "expected UTF-8, found an invalid byte at offset {}", bad);
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  for (const auto& seg : impl_->added->split(text, /*normalized_tokens=*/false)) {
    if (seg.id >= 0)
      ids.push_back(seg.id);
    else if (seg.end > seg.begin)
      impl_->encode_plain(text.substr(seg.begin, seg.end - seg.begin), seg.begin == 0, ids);
  }
  if (add_special_tokens && impl_->post_processor) impl_->post_processor->process(ids);
  return ids;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    std::optional<std::string> t = impl_->added->decode_text(id);
    if (!t)
      if (const std::string* m = impl_->model->id_to_token(id)) t = *m;
    if (!t || (skip_special_tokens && impl_->added->is_special(*t))) continue;
    tokens.push_back(std::move(*t));
  }
  std::string out;
  if (impl_->decoder) {
    impl_->decoder->decode_chain(tokens);
    for (const std::string& t : tokens) out += t;
  } else {
    for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
  }
  return out;
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  if (auto id = impl_->added->token_to_id(token)) return id;
  return impl_->model->token_to_id(token);
}

std::string Tokenizer::id_to_token(int32_t id) const {
  if (const tok::AddedToken* t = impl_->added->token(id)) return t->content;
  if (const std::string* m = impl_->model->id_to_token(id)) return *m;
  return {};
}

int64_t Tokenizer::vocab_size() const {
  return static_cast<int64_t>(std::max(impl_->model->max_id(), impl_->added->max_id())) + 1;
}

bool Tokenizer::is_special(int32_t id) const {
  const tok::AddedToken* t = impl_->added->token(id);
  return t && t->special;
}

}  // namespace moe::io
