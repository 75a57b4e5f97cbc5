// The fast backend's bf16 attention kernels (runtime/backend/cpu/kernels.h), vector and AMX, at
// every CPU level that has them (kernel_levels.h): a
// tile of query rows gives every row bitwise what a call with that row alone gives (rows of one tile see
// different causal ends and sliding-window starts, and some probabilities underflow to 0), for
// head sizes with and without a partial 16-dimension chunk, with and without a sink. Its
// accuracy against the reference backend is tests/unit/backend/backend_conformance_test.cpp's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "tests/unit/backend/kernel_levels.h"

namespace moe {
namespace {

using AttentionRowsFn = decltype(cpu::Kernels::attention_rows_bf16);

// One KV head's paged cache of `ctx` random keys and values (head size D) in 5 blocks of 16,
// stored in a shuffled block order; some keys large, so that far keys' probabilities underflow
// to exactly 0.
struct PagedHead {
  int D = 0, ctx = 70;
  int64_t block_stride = 0;
  std::vector<uint16_t> k, v;
  std::vector<int32_t> blocks{3, 0, 4, 1, 2};
  PagedHead(const cpu::Kernels& kern, int head_dim, std::mt19937_64& rng)
      : D(head_dim), block_stride(16 * head_dim) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    k.resize(size_t(5 * block_stride));
    v.resize(k.size());
    for (int j = 0; j < ctx; ++j) {
      std::vector<float> kr(static_cast<size_t>(D)), vr(static_cast<size_t>(D));
      for (int d = 0; d < D; ++d) kr[size_t(d)] = normal(rng) * (j % 9 == 0 ? 8.0f : 1.0f);
      for (int d = 0; d < D; ++d) vr[size_t(d)] = normal(rng);
      const int b = blocks[size_t(j / 16)];
      kern.kv_store_bf16(kr.data(), vr.data(), D, j % 16, k.data() + b * block_stride,
                         v.data() + b * block_stride);
    }
  }
};

// Tiles of up to `tile` query rows whose causal ends are first + r + 1 (optionally a sliding
// window, a sink): `attend` must give every row of a tile bitwise what a call with that row
// alone gives; `check` (if set) compares the tile's rows with another kernel's.
void tile_rows_case(const cpu::Kernels& kern, AttentionRowsFn attend, int tile, std::initializer_list<int> head_dims,
                    std::initializer_list<int> firsts, AttentionRowsFn other = nullptr,
                    double* max_diff = nullptr) {
  std::mt19937_64 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int D : head_dims) {
    for (int window : {0, 7}) {
      for (bool with_sink : {false, true}) {
        SCOPED_TRACE(::testing::Message()
                     << "D " << D << " window " << window << " sink " << with_sink);
        const PagedHead c(kern, D, rng);
        const float sink = 0.5f, scale = 0.3f;
        for (int first : firsts) {
          const int rows = std::min(tile, c.ctx - first);
          std::vector<std::vector<float>> q(static_cast<size_t>(rows),
                                            std::vector<float>(static_cast<size_t>(D)));
          std::vector<std::vector<float>> res(static_cast<size_t>(rows),
                                              std::vector<float>(static_cast<size_t>(D)));
          std::vector<const float*> qp(static_cast<size_t>(rows));
          std::vector<float*> op(static_cast<size_t>(rows));
          std::vector<int64_t> j0(static_cast<size_t>(rows)), j1(static_cast<size_t>(rows));
          for (int r = 0; r < rows; ++r) {
            const size_t ur = size_t(r);
            for (auto& x : q[ur]) x = 4.0f * normal(rng);
            qp[ur] = q[ur].data();
            op[ur] = res[ur].data();
            j1[ur] = first + r + 1;
            j0[ur] = window > 0 ? std::max<int64_t>(0, j1[ur] - window) : 0;
          }
          const float* sp = with_sink ? &sink : nullptr;
          std::vector<float> scratch(size_t(tile * (c.ctx + 48)));
          attend(rows, qp.data(), D, c.blocks.data(), c.k.data(), c.v.data(), c.block_stride,
                 j0.data(), j1.data(), scale, sp, scratch.data(), op.data());
          for (int r = 0; r < rows; ++r) {
            const size_t ur = size_t(r);
            std::vector<float> alone(static_cast<size_t>(D));
            float* ap = alone.data();
            attend(1, &qp[ur], D, c.blocks.data(), c.k.data(), c.v.data(), c.block_stride, &j0[ur],
                   &j1[ur], scale, sp, scratch.data(), &ap);
            EXPECT_EQ(0, std::memcmp(alone.data(), res[ur].data(), size_t(D) * 4))
                << "first " << first << " row " << r;
            if (!other) continue;
            other(1, &qp[ur], D, c.blocks.data(), c.k.data(), c.v.data(), c.block_stride,
                  &j0[ur], &j1[ur], scale, sp, scratch.data(), &ap);
            for (int d = 0; d < D; ++d)
              *max_diff = std::max(*max_diff, double(std::fabs(alone[size_t(d)] - res[ur][size_t(d)])));
          }
        }
      }
    }
  }
}

// kv_store_bf16 puts key j's dim d where kernels.h's layout says, rounded to nearest even, and
// writes nothing else of the block (the other slots keep a marker), for head sizes with and
// without a partial group of 32 dims.
class AttentionKernel : public KernelLevel {};
MOE_INSTANTIATE_FOR_KERNEL_LEVELS(AttentionKernel);

TEST_P(AttentionKernel, KvStorePlacesEachValueWhereTheLayoutSays) {
  std::mt19937_64 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto bf16 = [](float x) {  // round to nearest even (finite x)
    uint32_t u;
    std::memcpy(&u, &x, 4);
    return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
  };
  for (int D : {128, 24, 2, 64, 40}) {
    SCOPED_TRACE(::testing::Message() << "D " << D);
    constexpr uint16_t kMarker = 0xdead;
    std::vector<uint16_t> kb(size_t(16 * D), kMarker), vb(kb.size(), kMarker);
    std::vector<std::vector<float>> kr(16), vr(16);
    for (int j : {5, 0, 15, 8, 1}) {  // some slots, in no particular order
      kr[size_t(j)].resize(size_t(D));
      vr[size_t(j)].resize(size_t(D));
      for (auto& x : kr[size_t(j)]) x = normal(rng);
      for (auto& x : vr[size_t(j)]) x = normal(rng);
      k->kv_store_bf16(kr[size_t(j)].data(), vr[size_t(j)].data(), D, j, kb.data(), vb.data());
    }
    for (int j = 0; j < 16; ++j)
      for (int d = 0; d < D; ++d) {
        const bool stored = !kr[size_t(j)].empty();
        const size_t ki = size_t(((d / 2) * 16 + j) * 2 + d % 2);
        const size_t vi = size_t(((j / 2) * D + d) * 2 + j % 2);
        EXPECT_EQ(kb[ki], stored ? bf16(kr[size_t(j)][size_t(d)]) : kMarker) << "K j " << j << " d " << d;
        EXPECT_EQ(vb[vi], stored ? bf16(vr[size_t(j)][size_t(d)]) : kMarker) << "V j " << j << " d " << d;
      }
  }
}

TEST_P(AttentionKernel, TileRowsEqualSingleRowsBitwise) {
  tile_rows_case(*k, k->attention_rows_bf16, cpu::kAttentionTileRows, {128, 24, 64},
                 {0, 13, 62, 66});
}

// The AMX kernel: full and partial tiles of 16 rows, whose key ranges span 1 to 5 blocks, and
// its agreement with the vector kernel. Both sum products of the same bf16 values in f32, in
// different orders, over probabilities that sum to 1 and values |v| < ~5: the outputs agree to
// 1e-5 absolute (measured: about 1e-6).
TEST_P(AttentionKernel, AmxTileRowsEqualSingleRowsBitwiseAndAgreeWithVectorKernel) {
  if (!k->attention_rows_amx) GTEST_SKIP() << "no AMX attention at this level";
  double max_diff = 0.0;
  tile_rows_case(*k, k->attention_rows_amx, cpu::kAmxAttentionRows, {128, 32, 64, 96},
                 {0, 13, 40, 54, 62}, k->attention_rows_bf16, &max_diff);
  EXPECT_LE(max_diff, 1e-5);
  std::printf("max |amx - vector| = %.3g\n", max_diff);
}

}  // namespace
}  // namespace moe
