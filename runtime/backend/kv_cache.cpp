#include "runtime/backend/kv_cache.h"

#include <algorithm>

#include "runtime/core/error.h"

namespace moe {

KvCache::KvCache(Backend& backend, const KvCacheSpec& spec) : spec_(spec) {
  MOE_ASSERT(spec.block_size > 0 && spec.max_seqs > 0 && spec.max_tokens > 0,
             "kv cache of {} seqs, {} tokens, block {}", spec.max_seqs, spec.max_tokens,
             spec.block_size);
  MOE_ASSERT(spec.window.empty() || int(spec.window.size()) == spec.num_layers,
             "kv cache windows for {} of {} layers", spec.window.size(), spec.num_layers);
  // Every sequence may waste part of its last block: max_tokens are guaranteed over any split.
  num_blocks_ = (spec.max_tokens + spec.block_size - 1) / spec.block_size + spec.max_seqs;
  // Group 0 (full attention) always exists: it also accounts the cache's token capacity.
  groups_.resize(1);
  layer_group_.assign(size_t(spec.num_layers), 0);
  for (int l = 0; l < int(spec.window.size()); ++l) {
    const int w = spec.window[size_t(l)];
    if (w <= 0) continue;
    auto it = std::find_if(groups_.begin(), groups_.end(), [w](const Group& g) { return g.window == w; });
    if (it == groups_.end()) {
      groups_.push_back(Group{w, {}});
      it = groups_.end() - 1;
    }
    layer_group_[size_t(l)] = int(it - groups_.begin());
  }
  for (Group& g : groups_)
    for (int64_t b = 0; b < num_blocks_; ++b) g.free.push(int32_t(b));
  const Shape shape{num_blocks_, spec.num_kv_heads, spec.block_size, spec.head_dim};
  layers_.resize(size_t(spec.num_layers));
  for (KvLayer& l : layers_) {
    l.k = backend.alloc_reserved(spec.dtype, shape);
    l.v = backend.alloc_reserved(spec.dtype, shape);
    l.block_size = spec.block_size;
  }
  seqs_.resize(size_t(spec.max_seqs));
  for (Seq& s : seqs_) s.blocks.resize(groups_.size());
}

bool KvCache::reserve(int seq, int64_t new_len) {
  Seq& s = seqs_[size_t(seq)];
  const int64_t need = (new_len + spec_.block_size - 1) / spec_.block_size;
  for (size_t g = 0; g < groups_.size(); ++g)
    if (need - int64_t(s.blocks[g].size()) > int64_t(groups_[g].free.size())) return false;
  for (size_t g = 0; g < groups_.size(); ++g) {
    std::vector<int32_t>& table = s.blocks[g];
    while (int64_t(table.size()) < need) {
      table.push_back(groups_[g].free.top());
      groups_[g].free.pop();
    }
  }
  return true;
}

void KvCache::set_length(int seq, int64_t len) {
  Seq& s = seqs_[size_t(seq)];
  const int64_t B = spec_.block_size;
  MOE_ASSERT(len <= int64_t(s.blocks[0].size()) * B, "length {} beyond {} blocks", len,
             s.blocks[0].size());
  MOE_ASSERT(len >= s.length || groups_.size() == 1,
             "a sequence with sliding-window layers cannot be shortened ({} -> {})", s.length, len);
  s.length = len;
  for (size_t g = 1; g < groups_.size(); ++g) {
    // The next query (position len) sees positions >= len - W + 1: blocks ending before that go.
    const int64_t first_visible = len - groups_[g].window + 1;
    const int64_t dead = std::max<int64_t>(first_visible, 0) / B;  // blocks [0, dead) are unseen
    std::vector<int32_t>& table = s.blocks[g];
    for (int64_t b = 0; b < std::min<int64_t>(dead, int64_t(table.size())); ++b) {
      if (table[size_t(b)] < 0) continue;
      groups_[g].free.push(table[size_t(b)]);
      table[size_t(b)] = -1;
    }
  }
}

void KvCache::release(int seq) {
  Seq& s = seqs_[size_t(seq)];
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (int32_t b : s.blocks[g])
      if (b >= 0) groups_[g].free.push(b);
    s.blocks[g].clear();
  }
  s.length = 0;
}

int64_t KvCache::blocks_in_use(int group) const {
  return num_blocks_ - int64_t(groups_[size_t(group)].free.size());
}

}  // namespace moe
