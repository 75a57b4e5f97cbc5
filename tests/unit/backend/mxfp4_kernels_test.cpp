// The fast backend's MXFP4 kernels (runtime/backend/cpu/kernels.h), at every CPU level that has
// them (kernel_levels.h), against decode_mxfp4
// (itself checked against hand-computed values in tests/unit/core/mxfp4_test.cpp): decoding to
// bf16 is exact, for every scale byte (including those that take the scalar path); the fused
// small-M products (bf16 and f32 activations) equal a double-precision product of the decoded
// weights within f32 summation error (relative 1e-5 of sum |x w|).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "runtime/core/dtype.h"
#include "tests/unit/backend/kernel_levels.h"

namespace moe {
namespace {

class Mxfp4Kernels : public KernelLevel {};
MOE_INSTANTIATE_FOR_KERNEL_LEVELS(Mxfp4Kernels);

struct RandomMxfp4 {
  int64_t N, K;
  std::vector<uint8_t> blocks, scales;
  RandomMxfp4(int64_t n, int64_t k, uint64_t seed, int lo, int hi) : N(n), K(k) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int> byte(0, 255), sc(lo, hi);
    blocks.resize(size_t(N * K / 2));
    scales.resize(size_t(N * K / 32));
    for (auto& b : blocks) b = uint8_t(byte(rng));
    for (auto& s : scales) s = uint8_t(sc(rng));
  }
  std::vector<float> row(int64_t n) const {
    std::vector<float> r(static_cast<size_t>(K));
    decode_mxfp4(blocks.data() + n * K / 2, scales.data() + n * K / 32, K, r.data());
    return r;
  }
};

TEST_P(Mxfp4Kernels, RowsDecodeToExactlyTheBf16OfEachValue) {
  for (auto [lo, hi] : {std::pair{110, 130}, std::pair{0, 3}, std::pair{250, 254}}) {
    const RandomMxfp4 w(7, 96, uint64_t(lo), lo, hi);
    std::vector<uint16_t> out(size_t(5 * 96));
    k->mxfp4_rows_to_bf16(w.blocks.data(), w.scales.data(), 96, 2, 7, out.data());
    for (int64_t n = 2; n < 7; ++n) {
      const std::vector<float> r = w.row(n);
      for (int64_t k = 0; k < 96; ++k)
        ASSERT_EQ(out[size_t((n - 2) * 96 + k)], f32_to_bf16(r[size_t(k)]))
            << "scales [" << lo << ", " << hi << "] row " << n << " col " << k;
    }
  }
}

// Runs the small product on bf16 activations (gemm_mxfp4_small) or on f32 ones
// (gemm_mxfp4_small_f32, whose inputs must not be rounded: they are drawn with full f32
// mantissas, so rounding them to bf16 would miss the bound by an order of magnitude).
void check_small_gemm(const cpu::Kernels& k, bool f32_inputs) {
  const int64_t N = 19, K = 160;
  const RandomMxfp4 w(N, K, 5, 118, 124);
  std::mt19937_64 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (int64_t M : {1, 2, 4, 5, 9}) {
    const int64_t ldx = K + 32, ldy = N + 3;
    std::vector<float> xf(size_t(M * ldx));
    std::vector<uint16_t> xb(size_t(M * ldx));
    for (size_t i = 0; i < xf.size(); ++i) {
      xb[i] = f32_to_bf16(nd(rng));
      xf[i] = f32_inputs ? nd(rng) : bf16_to_f32(xb[i]);
    }
    std::vector<float> y(size_t(M * ldy), -1.0f);
    if (f32_inputs)
      k.gemm_mxfp4_small_f32(xf.data(), M, K, ldx, w.blocks.data(), w.scales.data(), 3, N,
                             y.data(), ldy);
    else
      k.gemm_mxfp4_small(xb.data(), M, K, ldx, w.blocks.data(), w.scales.data(), 3, N,
                         y.data(), ldy);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        if (n < 3) {
          EXPECT_EQ(y[size_t(m * ldy + n)], -1.0f) << "row outside [n0, n1) written";
          continue;
        }
        const std::vector<float> r = w.row(n);
        double want = 0, mag = 0;
        for (int64_t k = 0; k < K; ++k) {
          const double p = double(xf[size_t(m * ldx + k)]) * r[size_t(k)];
          want += p;
          mag += std::fabs(p);
        }
        ASSERT_NEAR(y[size_t(m * ldy + n)], want, 1e-5 * mag) << "M " << M << " m " << m << " n " << n;
      }
  }
}

TEST_P(Mxfp4Kernels, SmallGemmMatchesTheDecodedProduct) {
  check_small_gemm(*k, false);
}

TEST_P(Mxfp4Kernels, SmallGemmOfF32ActivationsKeepsThemF32) {
  check_small_gemm(*k, true);
}

}  // namespace
}  // namespace moe
