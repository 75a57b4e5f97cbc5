// Host-side planning of the CUDA backend's batched expert GEMMs (runtime/backend/expert_groups.h):
// every expert with rows lands in exactly one group, with its own row range, groups share one
// row count, and empty experts are skipped. Runs on the CPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "runtime/backend/backend.h"
#include "runtime/backend/expert_groups.h"

namespace moe {
namespace {

TEST(ExpertGroups, ExpertsWithEqualRowCountsShareAGroup) {
  // Experts 0..5 with 2, 0, 1, 2, 1, 3 rows.
  const std::vector<int64_t> offsets{0, 2, 2, 3, 5, 6, 9};
  const std::vector<ExpertGroup> g = plan_expert_groups(offsets);
  ASSERT_EQ(g.size(), 3u);
  EXPECT_EQ(g[0].rows, 1);
  EXPECT_EQ(g[0].experts, (std::vector<int>{2, 4}));
  EXPECT_EQ(g[0].row0, (std::vector<int64_t>{2, 5}));
  EXPECT_EQ(g[1].rows, 2);
  EXPECT_EQ(g[1].experts, (std::vector<int>{0, 3}));
  EXPECT_EQ(g[1].row0, (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(g[2].rows, 3);
  EXPECT_EQ(g[2].experts, (std::vector<int>{5}));
  EXPECT_EQ(g[2].row0, (std::vector<int64_t>{6}));
}

TEST(ExpertGroups, NoRowsGiveNoGroups) {
  EXPECT_TRUE(plan_expert_groups(std::vector<int64_t>{0, 0, 0, 0}).empty());
  EXPECT_TRUE(plan_expert_groups(std::vector<int64_t>{0}).empty());
}

TEST(ExpertGroups, DecodeStepIsOneBatchedCall) {
  // One token routed to 8 of 128 experts (a decode step at batch 1): one group of 8 rows of 1.
  std::vector<int32_t> experts{3, 77, 12, 100, 5, 64, 127, 0};
  std::vector<float> w(8, 0.125f);
  const ExpertBuckets b = bucket_by_expert(experts.data(), w.data(), 1, 8, 128);
  const std::vector<ExpertGroup> g = plan_expert_groups(b.offsets);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].rows, 1);
  EXPECT_EQ(g[0].experts, (std::vector<int>{0, 3, 5, 12, 64, 77, 100, 127}));
  EXPECT_EQ(g[0].row0, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(ExpertGroups, RandomRoutingCoversEveryRowOnce) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    const int E = 1 + int(rng() % 64), k = 1 + int(rng() % std::min(E, 8)), T = int(rng() % 70);
    std::vector<int32_t> experts;
    for (int t = 0; t < T; ++t) {
      std::vector<int32_t> all(static_cast<size_t>(E));
      for (int e = 0; e < E; ++e) all[size_t(e)] = e;
      std::shuffle(all.begin(), all.end(), rng);
      experts.insert(experts.end(), all.begin(), all.begin() + k);
    }
    std::vector<float> w(experts.size(), 1.0f);
    const ExpertBuckets b = bucket_by_expert(experts.data(), w.data(), T, k, E);
    std::vector<int> row_seen(size_t(T) * size_t(k), 0), expert_seen(size_t(E), 0);
    int64_t prev_rows = 0;
    for (const ExpertGroup& g : plan_expert_groups(b.offsets)) {
      EXPECT_GT(g.rows, prev_rows) << "groups in ascending row count, one per count";
      prev_rows = g.rows;
      ASSERT_EQ(g.experts.size(), g.row0.size());
      for (size_t i = 0; i < g.experts.size(); ++i) {
        const int e = g.experts[i];
        if (i > 0) {
          EXPECT_LT(g.experts[i - 1], e);
        }
        ++expert_seen[size_t(e)];
        EXPECT_EQ(g.row0[i], b.offsets[size_t(e)]);
        EXPECT_EQ(g.rows, b.offsets[size_t(e) + 1] - b.offsets[size_t(e)]);
        for (int64_t r = g.row0[i]; r < g.row0[i] + g.rows; ++r) ++row_seen[size_t(r)];
      }
    }
    for (int e = 0; e < E; ++e)
      EXPECT_EQ(expert_seen[size_t(e)], b.offsets[size_t(e) + 1] > b.offsets[size_t(e)] ? 1 : 0);
    for (int s : row_seen) EXPECT_EQ(s, 1);
  }
}

}  // namespace
}  // namespace moe
