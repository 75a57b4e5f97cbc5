// Phi-3.5-MoE's sparsemixer (inference branch) on its edge cases, against values computed by
// hand from the definition (runtime/models/README.md section 4); every case was also run through
// transformers 5.23's phimoe `sparsemixer` (f32 and bf16), which gives the same experts and
// weights.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "runtime/core/dtype.h"
#include "runtime/routing/routing.h"

namespace moe::routing {
namespace {

struct Routed {
  int32_t e[2];
  float w[2];
};

Routed mix(const std::vector<float>& s, bool bf16 = false) {
  Routed r;
  sparsemixer(s.data(), 1, int(s.size()), 0.01, r.e, r.w, bf16);
  return r;
}

TEST(Sparsemixer, TiedMaximaPickTheLowestIdFirstAndKeepTheTwinInTheMask) {
  // s = [1, 3, 3, 2]: i1 = 1 (lowest of the tied maxima); stage 1 keeps 1 and 2 (gap 0), masks
  // 0 and 3 (gaps 2/3, 1/3): w1 = 1/2. Stage 2 (1 removed): i2 = 2, everything else masked: 1.
  const Routed r = mix({1.0f, 3.0f, 3.0f, 2.0f});
  EXPECT_EQ(r.e[0], 1);
  EXPECT_EQ(r.e[1], 2);
  EXPECT_FLOAT_EQ(r.w[0], 0.5f);
  EXPECT_FLOAT_EQ(r.w[1], 1.0f);
}

TEST(Sparsemixer, AllEqualLogitsKeepEveryExpert) {
  // Gaps are 0: nothing masked. w1 = 1/E, w2 = 1/(E-1); experts 0 then 1.
  for (float v : {0.7f, -2.5f}) {
    const Routed r = mix({v, v, v, v});
    EXPECT_EQ(r.e[0], 0);
    EXPECT_EQ(r.e[1], 1);
    EXPECT_FLOAT_EQ(r.w[0], 0.25f) << v;
    EXPECT_FLOAT_EQ(r.w[1], 1.0f / 3.0f) << v;
  }
}

TEST(Sparsemixer, AllZeroLogitsGiveNanGapsThatDoNotMask) {
  // (0 - 0) / max(|0|, 0) = 0/0 = NaN, and NaN > 2 eps is false: every expert stays in.
  const Routed r = mix({0.0f, 0.0f, 0.0f, 0.0f});
  EXPECT_EQ(r.e[0], 0);
  EXPECT_EQ(r.e[1], 1);
  EXPECT_FLOAT_EQ(r.w[0], 0.25f);
  EXPECT_FLOAT_EQ(r.w[1], 1.0f / 3.0f);
}

TEST(Sparsemixer, NegativeMaximumDividesByTheMagnitudeOfEachLogit) {
  // m = -1: factor_j = max(|s_j|, -1) = |s_j|.
  // stage 1: j=1 0.01/1.01 kept; j=2 2/3 masked; j=3 0.03/1.03 = 0.029 masked -> w1 = 1/(1+e^-0.01)
  // stage 2: m2 = -1.01 (expert 1): j=3 0.02/1.03 = 0.0194 kept; j=2 masked -> 1/(1+e^-0.02)
  const Routed r = mix({-1.0f, -1.01f, -3.0f, -1.03f});
  EXPECT_EQ(r.e[0], 0);
  EXPECT_EQ(r.e[1], 1);
  EXPECT_NEAR(r.w[0], 1.0 / (1.0 + std::exp(-0.01)), 1e-6);
  EXPECT_NEAR(r.w[1], 1.0 / (1.0 + std::exp(-0.02)), 1e-6);
}

TEST(Sparsemixer, MaskKeepsSeveralExpertsWithinTheRelativeGap) {
  // m = 1: gaps 0.005, 0.01, 0.015 pass, 0.5 does not -> four experts share the softmax.
  // stage 2: m2 = 0.995: gaps 0.005/0.995 and 0.01/0.995 pass -> three experts.
  const Routed r = mix({1.0f, 0.995f, 0.99f, 0.985f, 0.5f});
  EXPECT_EQ(r.e[0], 0);
  EXPECT_EQ(r.e[1], 1);
  EXPECT_NEAR(r.w[0], 1.0 / (1 + std::exp(-0.005) + std::exp(-0.01) + std::exp(-0.015)), 1e-6);
  EXPECT_NEAR(r.w[1], 1.0 / (1 + std::exp(-0.005) + std::exp(-0.01)), 1e-6);
  EXPECT_LT(r.w[0], 0.3f);  // weights are not renormalised: w1 + w2 < 1
}

TEST(Sparsemixer, SecondStageMasksAgainstTheOriginalScores) {
  // s = [0, -1, -1, 0]: i1 = 0; stage 1 keeps 3 (gap 0/0 = NaN) -> w1 = 1/2. Stage 2: i2 = 3
  // (m2 = 0); experts 1 and 2: (0 + 1)/1 masked; expert 0 excluded -> w2 = 1.
  const Routed r = mix({0.0f, -1.0f, -1.0f, 0.0f});
  EXPECT_EQ(r.e[0], 0);
  EXPECT_EQ(r.e[1], 3);
  EXPECT_FLOAT_EQ(r.w[0], 0.5f);
  EXPECT_FLOAT_EQ(r.w[1], 1.0f);
}

TEST(Sparsemixer, Bf16MaskRoundsTheGapAndTheThreshold) {
  // s = [-0.4765625, -0.486328125, -5] (bf16 values). Gap of expert 1:
  // 0.009765625 / 0.486328125 = 0.020080...: above 0.02 in f32 (masked: w1 = 1), but in bf16 it
  // rounds to 0.02001953125 = bf16(0.02), not above the bf16 threshold (kept: w1 = 1/(1+e^-gap),
  // 0.50390625 once rounded to bf16), as transformers computes for a bf16 checkpoint.
  const std::vector<float> s{-0.4765625f, -0.486328125f, -5.0f};
  const Routed f32 = mix(s, false), b16 = mix(s, true);
  EXPECT_FLOAT_EQ(f32.w[0], 1.0f);
  EXPECT_EQ(round_bf16(b16.w[0]), 0.50390625f);
  EXPECT_EQ(b16.e[0], 0);
  EXPECT_EQ(b16.e[1], 1);
  EXPECT_FLOAT_EQ(b16.w[1], 1.0f);
}

TEST(Sparsemixer, RoutesEveryTokenOfABatchIndependently) {
  const std::vector<float> s{1.0f, 3.0f, 3.0f, 2.0f, /**/ 0.7f, 0.7f, 0.7f, 0.7f};
  int32_t e[4];
  float w[4];
  sparsemixer(s.data(), 2, 4, 0.01, e, w);
  EXPECT_EQ(e[0], 1);
  EXPECT_EQ(e[1], 2);
  EXPECT_EQ(e[2], 0);
  EXPECT_EQ(e[3], 1);
  EXPECT_FLOAT_EQ(w[2], 0.25f);
}

}  // namespace
}  // namespace moe::routing
