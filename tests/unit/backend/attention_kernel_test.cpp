// The fast backend's bf16 attention kernel (runtime/backend/cpu/kernels.h): a tile of query
// rows gives every row bitwise what a call with that row alone gives (rows of one tile see
// different causal ends and sliding-window starts, and some probabilities underflow to 0), for
// head sizes with and without a partial 16-dimension chunk, with and without a sink. Its
// accuracy against the reference backend is tests/unit/backend/fast_vs_reference_test.cpp's.
// Skipped on CPUs without AVX512-BF16.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "runtime/backend/cpu/kernels.h"

namespace moe {
namespace {

bool have_kernels() {
  return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw");
}

TEST(AttentionKernel, TileRowsEqualSingleRowsBitwise) {
  if (!have_kernels()) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  std::mt19937_64 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int D : {128, 24, 64}) {
    for (int window : {0, 7}) {
      for (bool with_sink : {false, true}) {
        SCOPED_TRACE(::testing::Message()
                     << "D " << D << " window " << window << " sink " << with_sink);
        // One KV head: 5 blocks of 16 keys, stored in a shuffled block order.
        const int nblocks = 5, ctx = 70;
        const int64_t block_stride = 16 * D;
        std::vector<uint16_t> k(size_t(nblocks * block_stride)), v(k.size());
        std::vector<int32_t> blocks{3, 0, 4, 1, 2};
        for (int j = 0; j < ctx; ++j) {
          std::vector<float> kr(static_cast<size_t>(D)), vr(static_cast<size_t>(D));
          // Large keys for some rows make far keys' probabilities underflow to exactly 0.
          for (int d = 0; d < D; ++d) kr[size_t(d)] = normal(rng) * (j % 9 == 0 ? 8.0f : 1.0f);
          for (int d = 0; d < D; ++d) vr[size_t(d)] = normal(rng);
          const int b = blocks[size_t(j / 16)];
          cpu::kv_store_bf16(kr.data(), vr.data(), D, j % 16, k.data() + b * block_stride,
                             v.data() + b * block_stride);
        }
        const float sink = 0.5f, scale = 0.3f;
        constexpr int kTile = cpu::kAttentionTileRows;
        for (int first : {0, 13, 62, 66}) {  // causal ends of the tile's rows: first + r + 1
          const int rows = std::min(kTile, ctx - first);
          std::vector<std::vector<float>> q(static_cast<size_t>(rows),
                                            std::vector<float>(static_cast<size_t>(D)));
          std::vector<std::vector<float>> tile(static_cast<size_t>(rows),
                                               std::vector<float>(static_cast<size_t>(D)));
          const float* qp[kTile];
          float* op[kTile];
          int64_t j0[kTile], j1[kTile];
          for (int r = 0; r < rows; ++r) {
            for (auto& x : q[size_t(r)]) x = 4.0f * normal(rng);
            qp[r] = q[size_t(r)].data();
            op[r] = tile[size_t(r)].data();
            j1[r] = first + r + 1;
            j0[r] = window > 0 ? std::max<int64_t>(0, j1[r] - window) : 0;
          }
          std::vector<float> scratch(size_t(kTile * (ctx + 48)));
          cpu::attention_rows_bf16(rows, qp, D, blocks.data(), k.data(), v.data(), block_stride, j0,
                                   j1, scale, with_sink ? &sink : nullptr, scratch.data(), op);
          for (int r = 0; r < rows; ++r) {
            std::vector<float> alone(static_cast<size_t>(D));
            float* ap = alone.data();
            cpu::attention_rows_bf16(1, &qp[r], D, blocks.data(), k.data(), v.data(), block_stride,
                                     &j0[r], &j1[r], scale, with_sink ? &sink : nullptr,
                                     scratch.data(), &ap);
            EXPECT_EQ(0, std::memcmp(alone.data(), tile[size_t(r)].data(), size_t(D) * 4))
                << "first " << first << " row " << r;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace moe
