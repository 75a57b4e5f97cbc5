#include "runtime/io/tokenizer/bpe.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <queue>

#include "runtime/core/error.h"
#include "runtime/io/tokenizer/utf8.h"

namespace moe::io::tok {

namespace {

// Reads one entry of "merges": "a b" (legacy) or ["a", "b"].
bool parse_merge(const Json& m, const JsonWhere& where, std::string& a, std::string& b) {
  if (m.is_string()) {
    const std::string& s = m.get_ref<const std::string&>();
    if (s.rfind("#version", 0) == 0) return false;
    const size_t sp = s.find(' ');
    if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
      throw input_error(where.str(), "expected two tokens separated by one space, found {}",
                        describe(m));
    a = s.substr(0, sp);
    b = s.substr(sp + 1);
    return true;
  }
  if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
    a = m[0].get<std::string>();
    b = m[1].get<std::string>();
    return true;
  }
  throw input_error(where.str(), "expected \"a b\" or [\"a\", \"b\"], found {}", describe(m));
}

}  // namespace

BpeModel::BpeModel(const Json& model, const JsonWhere& where) {
  const std::string type = type_of(model, where);
  if (type != "BPE") throw input_error(where.key("type").str(), "expected BPE, found {}", type);

  const Json& vocab = require_key(model, "vocab", where);
  const JsonWhere vw = where.key("vocab");
  if (!vocab.is_object())
    throw input_error(vw.str(), "expected an object, found {}", describe(vocab));
  vocab_.reserve(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const Json& v = it.value();
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX)
      throw input_error(vw.key(it.key()).str(), "expected a token id in [0, 2^31), found {}",
                        describe(v));
    const auto id = static_cast<int32_t>(v.get<int64_t>());
    vocab_[it.key()] = id;
    vocab_r_[id] = it.key();
    max_id_ = std::max(max_id_, id);
  }

  if (const Json* d = find_key(model, "dropout"); d && !d->is_null()) {
    if (!d->is_number() || d->get<double>() < 0.0 || d->get<double>() > 1.0)
      throw input_error(where.key("dropout").str(), "expected null or a number in [0, 1], found {}",
                        describe(*d));
    if (d->get<double>() > 0.0)
      spdlog::warn("{}: BPE dropout {} is a training option; encoding is deterministic here",
                   where.key("dropout").str(), d->get<double>());
  }
  if (const Json* u = find_key(model, "unk_token"); u && !u->is_null()) {
    if (!u->is_string())
      throw input_error(where.key("unk_token").str(), "expected a string, found {}", describe(*u));
    unk_token_ = u->get<std::string>();
  }
  unk_where_ = where.key("unk_token").str();
  prefix_ = get_string(model, "continuing_subword_prefix", where, "");
  suffix_ = get_string(model, "end_of_word_suffix", where, "");
  fuse_unk_ = get_bool(model, "fuse_unk", where, false);
  byte_fallback_ = get_bool(model, "byte_fallback", where, false);
  ignore_merges_ = get_bool(model, "ignore_merges", where, false);

  const Json& merges = require_key(model, "merges", where);
  const JsonWhere mw = where.key("merges");
  if (!merges.is_array())
    throw input_error(mw.str(), "expected an array, found {}", describe(merges));
  merges_.reserve(merges.size());
  std::string a, b;
  uint32_t rank = 0;
  for (size_t i = 0; i < merges.size(); ++i) {
    const JsonWhere w = mw.index(i);
    if (!parse_merge(merges[i], w, a, b)) continue;
    auto ia = vocab_.find(a), ib = vocab_.find(b);
    if (ia == vocab_.end())
      throw input_error(w.str(), "expected tokens of the vocab, found '{}' which is not in it", a);
    if (ib == vocab_.end())
      throw input_error(w.str(), "expected tokens of the vocab, found '{}' which is not in it", b);
    if (b.size() < prefix_.size())
      throw input_error(w.str(), "expected '{}' to start with continuing_subword_prefix '{}'", b,
                        prefix_);
    const std::string merged = a + b.substr(prefix_.size());
    auto im = vocab_.find(merged);
    if (im == vocab_.end())
      throw input_error(w.str(), "expected the merged token '{}' in the vocab, found no such token",
                        merged);
    // A repeated pair keeps its last rank, as the library's hash map does.
    merges_[pair_key(ia->second, ib->second)] = Merge{rank, im->second};
    ++rank;
  }

  if (byte_fallback_) {
    byte_ids_.assign(256, -1);
    for (int byte = 0; byte < 256; ++byte)
      if (auto id = token_to_id(fmt::format("<0x{:02X}>", byte))) byte_ids_[byte] = *id;
  }
}

BpeModel::BpeModel(BpeModel&& o) noexcept
    : vocab_(std::move(o.vocab_)),
      vocab_r_(std::move(o.vocab_r_)),
      merges_(std::move(o.merges_)),
      max_id_(o.max_id_),
      unk_token_(std::move(o.unk_token_)),
      unk_where_(std::move(o.unk_where_)),
      prefix_(std::move(o.prefix_)),
      suffix_(std::move(o.suffix_)),
      fuse_unk_(o.fuse_unk_),
      byte_fallback_(o.byte_fallback_),
      ignore_merges_(o.ignore_merges_),
      byte_ids_(std::move(o.byte_ids_)),
      cache_(std::move(o.cache_)) {}

BpeModel::~BpeModel() = default;

std::optional<int32_t> BpeModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::id_to_token(int32_t id) const {
  auto it = vocab_r_.find(id);
  return it == vocab_r_.end() ? nullptr : &it->second;
}

int32_t BpeModel::unk_id() const {
  auto id = token_to_id(*unk_token_);
  if (!id)
    throw input_error(unk_where_, "expected a token of the vocab, found '{}' which is not in it",
                      *unk_token_);
  return *id;
}

void BpeModel::tokenize(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.empty()) return;
  if (ignore_merges_) {
    if (auto id = token_to_id(piece)) {
      out.push_back(*id);
      return;
    }
  }
  {
    std::shared_lock lock(cache_mutex_);
    auto it = cache_.find(piece);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  merge_word(piece, ids);
  out.insert(out.end(), ids.begin(), ids.end());
  if (piece.size() < kCacheMaxPiece) {
    std::unique_lock lock(cache_mutex_);
    if (cache_.size() < kCacheCapacity) cache_.emplace(std::string(piece), std::move(ids));
  }
}

void BpeModel::merge_word(std::string_view w, std::vector<int32_t>& out) const {
  // The word as a doubly linked list of symbols (a removed symbol has len 0).
  struct Symbol {
    int32_t id;
    int prev, next;
    size_t len;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(w.size());
  auto add = [&](int32_t id, size_t len) {
    const int n = static_cast<int>(symbols.size());
    symbols.push_back({id, n - 1, n + 1, len});
  };

  // A pending unk token (fuse_unk grows it over consecutive unknown characters).
  int32_t unk = -1;
  size_t unk_len = 0;
  auto flush_unk = [&] {
    if (unk >= 0) add(unk, unk_len);
    unk = -1;
  };
  std::string s;
  for (size_t i = 0; i < w.size();) {
    const size_t len = utf8_len(static_cast<unsigned char>(w[i]));
    const bool first = i == 0, last = i + len >= w.size();
    s.assign(first ? "" : prefix_);
    s.append(w.substr(i, len));
    if (last) s.append(suffix_);
    i += len;

    if (auto id = token_to_id(s)) {
      flush_unk();
      add(*id, len);
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (unsigned char c : s) all = all && byte_ids_[c] >= 0;
      if (all) {
        for (unsigned char c : s) add(byte_ids_[c], 1);
        continue;
      }
    }
    if (unk_token_) {
      if (unk >= 0 && fuse_unk_) {
        unk_len += len;
      } else {
        flush_unk();
        unk = unk_id();
        unk_len = len;
      }
    }
  }
  flush_unk();
  if (!symbols.empty()) symbols.back().next = -1;

  struct Candidate {
    uint32_t rank;
    int pos;
    int32_t new_id;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto find_merge = [&](int32_t a, int32_t b) -> const Merge* {
    auto it = merges_.find(pair_key(a, b));
    return it == merges_.end() ? nullptr : &it->second;
  };
  for (size_t i = 0; i + 1 < symbols.size(); ++i)
    if (const Merge* m = find_merge(symbols[i].id, symbols[i + 1].id))
      queue.push({m->rank, static_cast<int>(i), m->new_id});

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& cur = symbols[top.pos];
    if (cur.len == 0 || cur.next == -1) continue;
    const int next_pos = cur.next;
    const Symbol right = symbols[next_pos];
    const Merge* m = find_merge(cur.id, right.id);
    if (!m || m->new_id != top.new_id) continue;  // stale entry
    cur.id = top.new_id;
    cur.len += right.len;
    cur.next = right.next;
    symbols[next_pos].len = 0;
    if (right.next >= 0 && right.next < static_cast<int>(symbols.size()))
      symbols[right.next].prev = top.pos;
    if (cur.prev >= 0)
      if (const Merge* pm = find_merge(symbols[cur.prev].id, cur.id))
        queue.push({pm->rank, cur.prev, pm->new_id});
    if (cur.next >= 0 && cur.next < static_cast<int>(symbols.size()))
      if (const Merge* nm = find_merge(cur.id, symbols[cur.next].id))
        queue.push({nm->rank, top.pos, nm->new_id});
  }
  for (const Symbol& sym : symbols)
    if (sym.len != 0) out.push_back(sym.id);
}

}  // namespace moe::io::tok
