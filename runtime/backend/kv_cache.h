// KvCache: the paged key/value cache of one model instance, for up to max_seqs live sequences.
//
// Every attention layer has a K and a V pool of [num_blocks, n_kv, block_size, head_dim] on the
// backend's device, reserved up front for max_tokens tokens (on the CPU as untouched virtual
// memory, backed only as blocks are used). A sequence slot owns a list of blocks (its block
// table); grow() appends blocks, release() returns them to the free list (lowest ids are
// reused first, so the touched part of the pools stays compact).
// The cache owns its pools; Model::forward writes into it through the backend's kv_store.
// Thread-safety: not thread-safe; driven by the engine's thread.
#pragma once

#include <cstdint>
#include <queue>
#include <span>
#include <vector>

#include "runtime/backend/backend.h"

namespace moe {

struct KvCacheSpec {
  int num_layers = 0;        // attention layers
  int num_kv_heads = 0;
  int head_dim = 0;
  DType dtype = DType::F32;
  int block_size = 16;
  int max_seqs = 1;
  int64_t max_tokens = 0;    // total cached tokens over all live sequences
};

class KvCache {
 public:
  KvCache(Backend& backend, const KvCacheSpec& spec);
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  const KvCacheSpec& spec() const { return spec_; }
  int64_t length(int seq) const { return seqs_[size_t(seq)].length; }
  // Ensures `seq` can hold new_len tokens; false (nothing changed) if the pool is exhausted.
  bool reserve(int seq, int64_t new_len);
  // Records that positions [0, len) of `seq` now hold keys/values.
  void set_length(int seq, int64_t len);
  // Frees the slot's blocks; the slot starts empty again.
  void release(int seq);
  std::span<const int32_t> blocks(int seq) const { return seqs_[size_t(seq)].blocks; }
  KvLayer& layer(int l) { return layers_[size_t(l)]; }
  int64_t free_tokens() const { return int64_t(free_.size()) * spec_.block_size; }
  int64_t capacity_tokens() const { return num_blocks_ * spec_.block_size; }

 private:
  struct Seq {
    int64_t length = 0;
    std::vector<int32_t> blocks;
  };
  KvCacheSpec spec_;
  int64_t num_blocks_ = 0;
  std::vector<KvLayer> layers_;
  std::vector<Seq> seqs_;
  std::priority_queue<int32_t, std::vector<int32_t>, std::greater<int32_t>> free_;
};

}  // namespace moe
