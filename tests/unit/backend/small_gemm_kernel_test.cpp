// The fast backend's streaming bf16 GEMM for few rows (gemm_bf16_small, kernels.h), at every CPU
// level that has it (kernel_levels.h): up to 3
// token rows go one weight row at a time, more in tiles of 4 weight rows x 4 token rows. Every
// output must be bitwise the same whichever way it was computed (the same products summed in the
// same order), so each output of one call over 9 token rows and all weight rows is held against
// single-token calls, 2- and 3-token calls and calls over odd ranges of weight rows. A tile
// writing a neighbour's output, a lost tail row or a lost partial K chunk breaks that. Its
// accuracy against the reference backend is tests/unit/backend/backend_conformance_test.cpp's.
// The same kernels on weights in panels (kernels.h) must give the same bits as on rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "tests/unit/backend/kernel_levels.h"

namespace moe {
namespace {

float bf16_value(uint16_t b) {
  const uint32_t u = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t bf16_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return uint16_t(u >> 16);  // truncation: any bf16 pattern will do
}

class SmallGemmKernel : public KernelLevel {};
MOE_INSTANTIATE_FOR_KERNEL_LEVELS(SmallGemmKernel);

TEST_P(SmallGemmKernel, EveryOutputIsTheSameForAnyTokenCountAndRowRange) {
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
    k->gemm_bf16_small(x.data(), M, K, ldx, w.data(), ldw, 0, N, all.data(), ldy);
    // The same outputs from calls over 1, 2 and 3 token rows (one weight row at a time) and
    // from ranges of weight rows that start and end between tiles.
    std::vector<float> part(size_t(M * ldy), NAN);
    for (const int64_t step : {1, 2, 3}) {
      SCOPED_TRACE(::testing::Message() << step << " token rows per call");
      for (int64_t m = 0; m < M; m += step) {
        const int64_t rows = std::min(step, M - m);
        for (const auto& [n0, n1] : {std::pair<int64_t, int64_t>{0, 5}, {5, 6}, {6, 17}, {17, 23}})
          k->gemm_bf16_small(x.data() + m * ldx, rows, K, ldx, w.data(), ldw, n0, n1,
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

// The blocked GEMM for many rows (gemm_bf16_large, at levels without a fast oneDNN bf16 matmul):
// each output depends only on its token row and weight row, bitwise, whatever rows and weight-row
// ranges the call covered, and is bitwise what the streaming kernel gives (expert parallelism
// splits a batch's rows between ranks: a linear of 20 rows in one process and of 10 per rank
// takes one kernel there and the other here); and equals a double sum of the same bf16 products
// within f32 summation error.
TEST_P(SmallGemmKernel, LargeGemmOutputsDependOnlyOnTheirRowsAndMatchTheProduct) {
  if (!k->gemm_bf16_large) GTEST_SKIP() << "oneDNN's matmul serves many rows at this level";
  constexpr double kSumTolerance = 1e-5;  // of the sum of the products' magnitudes
  std::mt19937_64 rng(12);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const int64_t K : {64, 100, 777}) {
    SCOPED_TRACE(::testing::Message() << "K=" << K);
    const int64_t M = 53, N = 45, ldx = K + 4, ldw = K + 2, ldy = N + 3;
    std::vector<uint16_t> x(size_t(M * ldx)), w(size_t(N * ldw));
    for (auto& v : x) v = bf16_bits(normal(rng));
    for (auto& v : w) v = bf16_bits(normal(rng));
    std::vector<float> scratch(size_t(k->gemm_bf16_large_scratch(K)));
    std::vector<float> all(size_t(M * ldy), NAN), part(size_t(M * ldy), NAN);
    k->gemm_bf16_large(x.data(), M, K, ldx, w.data(), ldw, 0, N, all.data(), ldy, scratch.data());
    for (const auto& [m0, m1] : {std::pair<int64_t, int64_t>{0, 17}, {17, 40}, {40, 53}})
      for (const auto& [n0, n1] : {std::pair<int64_t, int64_t>{0, 16}, {16, 19}, {19, 45}})
        k->gemm_bf16_large(x.data() + m0 * ldx, m1 - m0, K, ldx, w.data(), ldw, n0, n1,
                           part.data() + m0 * ldy, ldy, scratch.data());
    int64_t differ = 0;
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        differ += all[size_t(m * ldy + n)] != part[size_t(m * ldy + n)];
        double s = 0, mag = 0;
        for (int64_t kk = 0; kk < K; ++kk) {
          const double p = double(bf16_value(x[size_t(m * ldx + kk)])) *
                           bf16_value(w[size_t(n * ldw + kk)]);
          s += p;
          mag += std::fabs(p);
        }
        ASSERT_NEAR(all[size_t(m * ldy + n)], s, kSumTolerance * mag) << "m " << m << " n " << n;
      }
    EXPECT_EQ(differ, 0) << "of " << M * N << " outputs";
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = N; n < ldy; ++n) EXPECT_TRUE(std::isnan(all[size_t(m * ldy + n)]));
    // The streaming kernel, one token row and a few weight rows at a time, gives the same bits.
    std::vector<float> small(size_t(M * ldy), NAN);
    for (int64_t m = 0; m < M; m += 5)
      for (const auto& [n0, n1] : {std::pair<int64_t, int64_t>{0, 7}, {7, 45}})
        k->gemm_bf16_small(x.data() + m * ldx, std::min<int64_t>(5, M - m), K, ldx, w.data(),
                           ldw, n0, n1, small.data() + m * ldy, ldy);
    differ = 0;
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) differ += all[size_t(m * ldy + n)] != small[size_t(m * ldy + n)];
    EXPECT_EQ(differ, 0) << "of " << M * N << " outputs differ between the two kernels";
  }
}

// pack_bf16_panels puts W[16p + i, k] at panel p's 16 values for k, slot 2i for i < 8 and slot
// 2(i - 8) + 1 above, zero past the last row (kernels.h), whatever share of the panels a call
// writes.
TEST(Bf16Panels, LayoutAsDocumented) {
  const int64_t N = 37, K = 5, ldw = 7;
  std::vector<uint16_t> w(size_t(N * ldw));
  for (size_t i = 0; i < w.size(); ++i) w[i] = uint16_t(i + 1);
  std::vector<uint16_t> out(size_t(cpu::panels_size(N, K)), 0xdead);
  ASSERT_EQ(out.size(), size_t(48 * K));
  cpu::pack_bf16_panels(w.data(), N, K, ldw, 0, 1, out.data());
  cpu::pack_bf16_panels(w.data(), N, K, ldw, 1, 3, out.data());
  for (int64_t n = 0; n < 48; ++n)
    for (int64_t k = 0; k < K; ++k) {
      const int64_t p = n / 16, i = n % 16, slot = i < 8 ? 2 * i : 2 * (i - 8) + 1;
      const uint16_t want = n < N ? w[size_t(n * ldw + k)] : 0;
      ASSERT_EQ(out[size_t((p * K + k) * 16 + slot)], want) << "row " << n << " k " << k;
    }
}

// The kernels on W in panels give every output bitwise what the kernels on W's rows give, for
// token counts on either side of the tiles' and blocks' sizes, K across segments, and ranges of
// weight rows that start and end inside panels (each call writes only its own columns).
TEST_P(SmallGemmKernel, PanelKernelsGiveTheRowKernelsBits) {
  if (!k->gemm_bf16_small_panels) GTEST_SKIP() << "this level reads W's rows as they are";
  std::mt19937_64 rng(13);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const int64_t K : {64, 100, 777, 1100}) {
    SCOPED_TRACE(::testing::Message() << "K=" << K);
    const int64_t M = 53, N = 45, ldx = K + 4, ldw = K + 2, ldy = N + 3;
    std::vector<uint16_t> x(size_t(M * ldx)), w(size_t(N * ldw));
    for (auto& v : x) v = bf16_bits(normal(rng));
    for (auto& v : w) v = bf16_bits(normal(rng));
    std::vector<uint16_t> panels(size_t(cpu::panels_size(N, K)));
    cpu::pack_bf16_panels(w.data(), N, K, ldw, 0, (N + 15) / 16, panels.data());
    std::vector<float> want(size_t(M * ldy), NAN);
    for (int64_t m = 0; m < M; m += 3)
      k->gemm_bf16_small(x.data() + m * ldx, std::min<int64_t>(3, M - m), K, ldx, w.data(), ldw, 0,
                         N, want.data() + m * ldy, ldy);
    auto expect_same = [&](const std::vector<float>& got, const char* what) {
      int64_t differ = 0;
      for (int64_t m = 0; m < M; ++m) {
        for (int64_t n = 0; n < N; ++n)
          differ += want[size_t(m * ldy + n)] != got[size_t(m * ldy + n)];
        for (int64_t n = N; n < ldy; ++n) EXPECT_TRUE(std::isnan(got[size_t(m * ldy + n)]));
      }
      EXPECT_EQ(differ, 0) << "of " << M * N << " outputs of " << what;
    };
    for (const int64_t step : {1, 2, 3, 4, 7, 30, 53}) {
      SCOPED_TRACE(::testing::Message() << step << " token rows per call");
      std::vector<float> got(size_t(M * ldy), NAN);
      for (int64_t m = 0; m < M; m += step)
        for (const auto& [n0, n1] :
             {std::pair<int64_t, int64_t>{0, 5}, {5, 16}, {16, 19}, {19, 40}, {40, 45}})
          k->gemm_bf16_small_panels(x.data() + m * ldx, std::min(step, M - m), K, ldx,
                                    panels.data(), n0, n1, got.data() + m * ldy, ldy);
      expect_same(got, "gemm_bf16_small_panels");
    }
    std::vector<float> scratch(size_t(k->gemm_bf16_large_scratch(K)));
    std::vector<float> got(size_t(M * ldy), NAN);
    for (const auto& [m0, m1] : {std::pair<int64_t, int64_t>{0, 17}, {17, 53}})
      for (const auto& [n0, n1] : {std::pair<int64_t, int64_t>{0, 16}, {16, 19}, {32, 45}})
        k->gemm_bf16_large_panels(x.data() + m0 * ldx, m1 - m0, K, ldx, panels.data(), n0, n1,
                                  got.data() + m0 * ldy, ldy, scratch.data());
    k->gemm_bf16_large_panels(x.data(), M, K, ldx, panels.data(), 16, 32, got.data(), ldy,
                              scratch.data());  // rows 19 .. 31 again, over the same values
    expect_same(got, "gemm_bf16_large_panels");
  }
}

}  // namespace
}  // namespace moe
