// KvCache: the paged key/value cache of one model instance, for up to max_seqs live sequences.
//
// Every attention layer has a K and a V pool of [num_blocks, n_kv, block_size, head_dim] on the
// backend's device, reserved up front for max_tokens tokens (on the CPU as untouched virtual
// memory, backed only as blocks are used). A sequence slot owns a list of blocks (its block
// table); reserve() appends blocks, release() returns them to the free list (lowest ids are
// reused first, so the touched part of the pools stays compact).
// Sliding-window layers (KvCacheSpec::window[l] = W > 0, gpt_oss's even layers) form their own
// group with their own pools and block tables: once a sequence's length is set to L, every block
// holding only positions before L - W + 1 (which no later query can see) goes back to the
// group's free list and its block-table entry becomes -1. Between steps such a layer therefore
// holds at most ceil((W - 1) / block_size) + 1 blocks per sequence, however long the sequence;
// during a step it also holds that step's new tokens (a prompt chunk is stored whole, since its
// own queries read it). Layers without a window (group 0) keep every position.
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
  int64_t max_tokens = 0;    // total cached tokens over all live sequences (guaranteed however
                             // they are split among sequences)
  std::vector<int> window;   // [num_layers] sliding window of each layer, 0 = full (empty: all 0)
};

class KvCache {
 public:
  KvCache(Backend& backend, const KvCacheSpec& spec);
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  const KvCacheSpec& spec() const { return spec_; }
  int64_t length(int seq) const { return seqs_[size_t(seq)].length; }
  // Ensures `seq` can hold new_len tokens in every group; false (nothing changed) if a pool is
  // exhausted.
  bool reserve(int seq, int64_t new_len);
  // Records that positions [0, len) of `seq` now hold keys/values; frees the blocks windowed
  // groups no longer need. A sequence cannot be shortened (windowed layers lost the early
  // positions).
  void set_length(int seq, int64_t len);
  // Frees the slot's blocks; the slot starts empty again.
  void release(int seq);

  // Block groups: group 0 holds the layers without a window, group g > 0 the layers with
  // window group_window(g). Entry p / block_size of a block table holds position p (-1: freed).
  int num_groups() const { return int(groups_.size()); }
  int layer_group(int l) const { return layer_group_[size_t(l)]; }
  int group_window(int g) const { return groups_[size_t(g)].window; }
  std::span<const int32_t> blocks(int seq, int group = 0) const {
    return seqs_[size_t(seq)].blocks[size_t(group)];
  }
  // Blocks of a group's pool held by live sequences.
  int64_t blocks_in_use(int group) const;
  KvLayer& layer(int l) { return layers_[size_t(l)]; }
  int64_t free_tokens() const { return int64_t(groups_[0].free.size()) * spec_.block_size; }
  int64_t capacity_tokens() const { return num_blocks_ * spec_.block_size; }

 private:
  using FreeList = std::priority_queue<int32_t, std::vector<int32_t>, std::greater<int32_t>>;
  struct Group {
    int window = 0;  // 0: full attention
    FreeList free;
  };
  struct Seq {
    int64_t length = 0;
    std::vector<std::vector<int32_t>> blocks;  // [group][block-table entry], -1 = freed
  };
  KvCacheSpec spec_;
  int64_t num_blocks_ = 0;
  std::vector<KvLayer> layers_;
  std::vector<Group> groups_;
  std::vector<int> layer_group_;  // [num_layers]
  std::vector<Seq> seqs_;
};

}  // namespace moe
