// The fast backend's streaming bf16 GEMM for few rows (cpu::gemm_bf16_small, kernels.h): up to 3
// token rows go one weight row at a time, more in tiles of 4 weight rows x 4 token rows. Every
// output must be bitwise the same whichever way it was computed (the same products summed in the
// same order), so each output of one call over 9 token rows and all weight rows is held against
// single-token calls, 2- and 3-token calls and calls over odd ranges of weight rows. A tile
// writing a neighbour's output, a lost tail row or a lost partial K chunk breaks that. Its
// accuracy against the reference backend is tests/unit/backend/fast_vs_reference_test.cpp's.
// Skipped on CPUs without AVX512-BF16.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "runtime/backend/cpu/kernels.h"

namespace moe {
namespace {

uint16_t bf16_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return uint16_t(u >> 16);  // truncation: any bf16 pattern will do
}

TEST(SmallGemmKernel, EveryOutputIsTheSameForAnyTokenCountAndRowRange) {
  if (!cpu::cpu_has_avx512_bf16()) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  std::mt19937_64 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const int64_t K : {64, 100, 2048}) {  // whole 32-wide chunks, and a partial one
    SCOPED_TRACE(::testing::Message() << "K=" << K);
    const int64_t M = 9, N = 23, ldx = K + 8, ldw = K + 16, ldy = N + 5;
    std::vector<uint16_t> x(size_t(M * ldx)), w(size_t(N * ldw));
    for (auto& v : x) v = bf16_bits(normal(rng));
    for (auto& v : w) v = bf16_bits(normal(rng));
    // All 9 token rows and all 23 weight rows at once: 4 x 4 tiles with tails in both.
    std::vector<float> all(size_t(M * ldy), NAN);
    cpu::gemm_bf16_small(x.data(), M, K, ldx, w.data(), ldw, 0, N, all.data(), ldy);
    // The same outputs from calls over 1, 2 and 3 token rows (one weight row at a time) and
    // from ranges of weight rows that start and end between tiles.
    std::vector<float> part(size_t(M * ldy), NAN);
    for (const int64_t step : {1, 2, 3}) {
      SCOPED_TRACE(::testing::Message() << step << " token rows per call");
      for (int64_t m = 0; m < M; m += step) {
        const int64_t rows = std::min(step, M - m);
        for (const auto& [n0, n1] : {std::pair<int64_t, int64_t>{0, 5}, {5, 6}, {6, 17}, {17, 23}})
          cpu::gemm_bf16_small(x.data() + m * ldx, rows, K, ldx, w.data(), ldw, n0, n1,
                               part.data() + m * ldy, ldy);
      }
      int64_t differ = 0;
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n)
          differ += all[size_t(m * ldy + n)] != part[size_t(m * ldy + n)];
      EXPECT_EQ(differ, 0) << "of " << M * N << " outputs";
    }
    // The padding columns between rows of y are left alone.
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = N; n < ldy; ++n) EXPECT_TRUE(std::isnan(all[size_t(m * ldy + n)]));
    // And one output against a double sum of the same bf16 products (f32 sums: within 1e-4 of
    // the sum of their magnitudes).
    double s = 0, mag = 0;
    for (int64_t k = 0; k < K; ++k) {
      uint32_t a = uint32_t(x[size_t(4 * ldx + k)]) << 16, b = uint32_t(w[size_t(7 * ldw + k)])
                                                               << 16;
      float fa, fb;
      std::memcpy(&fa, &a, 4);
      std::memcpy(&fb, &b, 4);
      s += double(fa) * fb;
      mag += std::fabs(double(fa) * fb);
    }
    EXPECT_NEAR(all[size_t(4 * ldy + 7)], s, 1e-4 * mag);
  }
}

}  // namespace
}  // namespace moe
