#include "runtime/io/tokenizer/added_vocabulary.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "runtime/core/error.h"
#include "runtime/io/tokenizer/normalizer.h"
#include "runtime/io/tokenizer/utf8.h"

namespace moe::io::tok {

namespace {

char32_t last_char(std::string_view s) {
  size_t start = s.size() - 1;
  while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
  size_t len = 0;
  return decode_utf8(s, start, len);
}

// Start of the run of whitespace that ends `s` (s.size() if none).
size_t trailing_space_start(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    size_t len = 0;
    if (!is_whitespace(decode_utf8(s, start, len))) break;
    end = start;
  }
  return end;
}

// Length of the run of whitespace that starts `s`.
size_t leading_space_len(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t len = 0;
    if (!is_whitespace(decode_utf8(s, i, len))) break;
    i += len;
  }
  return i;
}

}  // namespace

void AddedVocabulary::Trie::insert(std::string_view s, int32_t id) {
  int node = 0;
  for (unsigned char c : s) {
    auto& ch = nodes[node].children;
    auto it = std::lower_bound(ch.begin(), ch.end(), std::make_pair(c, 0),
                               [](const auto& a, const auto& b) { return a.first < b.first; });
    if (it != ch.end() && it->first == c) {
      node = it->second;
    } else {
      const int next = static_cast<int>(nodes.size());
      ch.insert(it, {c, next});
      nodes.emplace_back();
      node = next;
    }
  }
  nodes[node].id = id;
}

std::pair<int32_t, size_t> AddedVocabulary::Trie::longest_at(std::string_view text,
                                                             size_t pos) const {
  std::pair<int32_t, size_t> best{-1, 0};
  int node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto& ch = nodes[node].children;
    const auto c = static_cast<unsigned char>(text[i]);
    auto it = std::lower_bound(ch.begin(), ch.end(), std::make_pair(c, 0),
                               [](const auto& a, const auto& b) { return a.first < b.first; });
    if (it == ch.end() || it->first != c) break;
    node = it->second;
    if (nodes[node].id >= 0) best = {nodes[node].id, i + 1 - pos};
  }
  return best;
}

AddedVocabulary::AddedVocabulary(const Json& added_tokens, const JsonWhere& where,
                                 const BpeModel& model, const Normalizer* normalizer) {
  if (added_tokens.is_null()) return;
  if (!added_tokens.is_array())
    throw input_error(where.str(), "expected an array, found {}", describe(added_tokens));
  auto next_id = static_cast<int64_t>(model.size());
  for (size_t i = 0; i < added_tokens.size(); ++i) {
    const Json& t = added_tokens[i];
    const JsonWhere w = where.index(i);
    AddedToken tok;
    tok.content = require_string(t, "content", w);
    tok.single_word = get_bool(t, "single_word", w, false);
    tok.lstrip = get_bool(t, "lstrip", w, false);
    tok.rstrip = get_bool(t, "rstrip", w, false);
    tok.normalized = get_bool(t, "normalized", w, true);
    tok.special = get_bool(t, "special", w, false);
    const Json* file_id = find_key(t, "id");
    if (tok.content.empty()) continue;
    if (auto it = by_content_.find(tok.content);
        it != by_content_.end() && by_id_[it->second] == tok)
      continue;

    int32_t id;
    if (auto it = by_content_.find(tok.content); it != by_content_.end()) {
      id = it->second;
    } else if (auto mid = model.token_to_id(tok.content)) {
      id = *mid;
    } else {
      if (next_id > INT32_MAX)
        throw input_error(w.str(), "expected fewer tokens, found id overflow");
      id = static_cast<int32_t>(next_id++);
    }
    if (file_id && file_id->is_number_integer() && file_id->get<int64_t>() != id)
      spdlog::warn(
          "{}: token '{}' has id {} in the file but gets id {} (as in the Hugging Face "
          "library)",
          w.str(), tok.content, file_id->get<int64_t>(), id);
    if (tok.normalized && normalizer) {
      std::string normed = tok.content;
      normalizer->normalize(normed);
      if (normed != tok.content) normalized_form_[id] = normed;
    }
    by_content_[tok.content] = id;
    if (tok.special) special_.insert(tok.content);
    by_id_[id] = tok;
    max_id_ = std::max(max_id_, id);
  }
  for (const auto& [id, tok] : by_id_) {
    if (tok.normalized) {
      auto nf = normalized_form_.find(id);
      const std::string& pattern = nf != normalized_form_.end() ? nf->second : tok.content;
      if (!pattern.empty()) normalized_trie_.insert(pattern, id);
    } else {
      raw_trie_.insert(tok.content, id);
    }
  }
}

std::vector<AddedVocabulary::Segment> AddedVocabulary::split(std::string_view text,
                                                             bool normalized_tokens) const {
  const Trie& trie = normalized_tokens ? normalized_trie_ : raw_trie_;
  if (text.empty() || trie.empty()) return {{0, text.size(), -1}};
  std::vector<Segment> out;
  size_t start_offset = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const auto [id, len] = trie.longest_at(text, pos);
    if (id < 0) {
      ++pos;
      continue;
    }
    size_t start = pos, stop = pos + len;
    pos = stop;  // the next match starts after this one, whether it is kept or not
    const AddedToken& tok = by_id_.at(id);
    if (tok.single_word) {
      const bool start_space = start == 0 || !is_word_char(last_char(text.substr(0, start)));
      size_t l = 0;
      const bool stop_space = stop == text.size() || !is_word_char(decode_utf8(text, stop, l));
      if (!start_space || !stop_space) continue;
    }
    if (tok.lstrip) start = std::max(trailing_space_start(text.substr(0, start)), start_offset);
    if (tok.rstrip) stop += leading_space_len(text.substr(stop));
    if (start_offset < start) out.push_back({start_offset, start, -1});
    out.push_back({start, stop, id});
    start_offset = stop;
    pos = std::max(pos, stop);
  }
  if (start_offset != text.size()) out.push_back({start_offset, text.size(), -1});
  return out;
}

std::optional<int32_t> AddedVocabulary::token_to_id(std::string_view content) const {
  auto it = by_content_.find(content);
  if (it == by_content_.end()) return std::nullopt;
  return it->second;
}

const AddedToken* AddedVocabulary::token(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &it->second;
}

std::optional<std::string> AddedVocabulary::decode_text(int32_t id) const {
  if (auto nf = normalized_form_.find(id); nf != normalized_form_.end()) return nf->second;
  if (const AddedToken* t = token(id)) return t->content;
  return std::nullopt;
}

}  // namespace moe::io::tok
