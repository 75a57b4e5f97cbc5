// Expert GEMM grouping: which experts of one MoE layer can share one batched GEMM call.
//
// Rows routed to expert e are the contiguous block [offsets[e], offsets[e+1]) of the sorted
// token rows (bucket_by_expert). A batched GEMM (cublasGemmBatchedEx) multiplies many matrices of
// one shape, so the experts with the same row count m form one group: one call per distinct m,
// experts without rows skipped. Groups come in ascending m, experts inside a group in ascending
// id; the grouping changes only how products are batched, never which rows meet which weights.
// Host-side planning only (no device code): used by the CUDA backend, tested on the CPU.
// Thread-safety: pure function.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace moe {

struct ExpertGroup {
  int64_t rows = 0;           // m: rows of every expert in the group (> 0)
  std::vector<int> experts;   // expert ids, ascending
  std::vector<int64_t> row0;  // [experts.size()] first sorted row of each expert
};

// offsets: [E + 1] non-decreasing, offsets[0] == 0.
std::vector<ExpertGroup> plan_expert_groups(std::span<const int64_t> offsets);

}  // namespace moe
