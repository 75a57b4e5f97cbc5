#include "runtime/backend/kv_cache.h"

#include "runtime/core/error.h"

namespace moe {

KvCache::KvCache(Backend& backend, const KvCacheSpec& spec) : spec_(spec) {
  MOE_ASSERT(spec.block_size > 0 && spec.max_seqs > 0 && spec.max_tokens > 0,
             "kv cache of {} seqs, {} tokens, block {}", spec.max_seqs, spec.max_tokens,
             spec.block_size);
  num_blocks_ = (spec.max_tokens + spec.block_size - 1) / spec.block_size;
  const Shape shape{num_blocks_, spec.num_kv_heads, spec.block_size, spec.head_dim};
  layers_.resize(size_t(spec.num_layers));
  for (KvLayer& l : layers_) {
    l.k = backend.alloc_reserved(spec.dtype, shape);
    l.v = backend.alloc_reserved(spec.dtype, shape);
    l.block_size = spec.block_size;
  }
  seqs_.resize(size_t(spec.max_seqs));
  for (int64_t b = 0; b < num_blocks_; ++b) free_.push(int32_t(b));
}

bool KvCache::reserve(int seq, int64_t new_len) {
  Seq& s = seqs_[size_t(seq)];
  const int64_t need = (new_len + spec_.block_size - 1) / spec_.block_size;
  const int64_t extra = need - int64_t(s.blocks.size());
  if (extra <= 0) return true;
  if (extra > int64_t(free_.size())) return false;
  for (int64_t i = 0; i < extra; ++i) {
    s.blocks.push_back(free_.top());
    free_.pop();
  }
  return true;
}

void KvCache::set_length(int seq, int64_t len) {
  Seq& s = seqs_[size_t(seq)];
  MOE_ASSERT(len <= int64_t(s.blocks.size()) * spec_.block_size, "length {} beyond {} blocks", len,
             s.blocks.size());
  s.length = len;
}

void KvCache::release(int seq) {
  Seq& s = seqs_[size_t(seq)];
  for (int32_t b : s.blocks) free_.push(b);
  s.blocks.clear();
  s.length = 0;
}

}  // namespace moe
