// Routing functions against hand-computed values (runtime/models/README.md section 7).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "runtime/routing/routing.h"

namespace moe::routing {
namespace {

TEST(Routing, TopkIndicesDescendingWithTiesToLowerId) {
  const std::vector<float> row{0.5f, 2.0f, -1.0f, 2.0f, 1.0f};
  int32_t out[3];
  topk_indices(row.data(), 5, 3, out);
  EXPECT_EQ(out[0], 1);
  EXPECT_EQ(out[1], 3);
  EXPECT_EQ(out[2], 4);
}

TEST(Routing, TopkIndicesFillsAllSlotsWhenEverythingIsMinusInfinity) {
  const float ninf = -std::numeric_limits<float>::infinity();
  const std::vector<float> row{ninf, ninf, ninf};
  int32_t out[2];
  topk_indices(row.data(), 3, 2, out);
  EXPECT_EQ(out[0], 0);
  EXPECT_EQ(out[1], 1);
}

TEST(Routing, SoftmaxTopkWithoutRenormalisationKeepsRawProbabilities) {
  // logits ln(1), ln(2), ln(3), ln(4): softmax = 0.1, 0.2, 0.3, 0.4
  const std::vector<float> l{0.0f, std::log(2.0f), std::log(3.0f), std::log(4.0f)};
  int32_t e[2];
  float w[2];
  softmax_topk(l.data(), 1, 4, 2, /*renormalize=*/false, e, w);
  EXPECT_EQ(e[0], 3);
  EXPECT_EQ(e[1], 2);
  EXPECT_NEAR(w[0], 0.4f, 1e-6);
  EXPECT_NEAR(w[1], 0.3f, 1e-6);
}

TEST(Routing, SoftmaxTopkWithRenormalisationSumsToOne) {
  const std::vector<float> l{0.0f, std::log(2.0f), std::log(3.0f), std::log(4.0f),
                             std::log(4.0f), 0.0f, 0.0f, 0.0f};  // two tokens
  int32_t e[4];
  float w[4];
  softmax_topk(l.data(), 2, 4, 2, /*renormalize=*/true, e, w);
  EXPECT_EQ(e[0], 3);
  EXPECT_EQ(e[1], 2);
  EXPECT_NEAR(w[0], 4.0f / 7.0f, 1e-6);
  EXPECT_NEAR(w[1], 3.0f / 7.0f, 1e-6);
  // second token: probs 4/7, 1/7, 1/7, 1/7 -> experts 0 then 1 (tie to lower id)
  EXPECT_EQ(e[2], 0);
  EXPECT_EQ(e[3], 1);
  EXPECT_NEAR(w[2], 0.8f, 1e-6);
  EXPECT_NEAR(w[3], 0.2f, 1e-6);
}

TEST(Routing, TopkSoftmaxIsSoftmaxOverTheSelectedRawLogits) {
  const std::vector<float> l{1.0f, 3.0f, -2.0f, 2.0f};
  int32_t e[2];
  float w[2];
  topk_softmax(l.data(), 1, 4, 2, e, w);
  EXPECT_EQ(e[0], 1);
  EXPECT_EQ(e[1], 3);
  const float a = 1.0f / (1.0f + std::exp(-1.0f));  // softmax([3, 2])[0]
  EXPECT_NEAR(w[0], a, 1e-6);
  EXPECT_NEAR(w[1], 1.0f - a, 1e-6);
}

TEST(Routing, SparsemixerMasksFarLogitsAndDoesNotRenormalise) {
  // eps = 0.01 -> threshold 0.02 on (max - s_j) / max(|s_j|, max).
  // s = [2.0, 1.99, 1.0, 1.975]: stage 1: max 2.0 (expert 0).
  //   j=1: 0.01/2 = 0.005 kept; j=2: 1/2 = 0.5 masked; j=3: 0.025/2 = 0.0125 kept.
  //   w1 = e^0 / (e^0 + e^-0.01 + e^-0.025)
  // stage 2 (expert 0 removed): max 1.99 (expert 1).
  //   j=2: 0.99/1.99 masked; j=3: 0.015/1.99 = 0.0075 kept; j=0 excluded.
  //   w2 = 1 / (1 + e^-0.015)
  const std::vector<float> s{2.0f, 1.99f, 1.0f, 1.975f};
  int32_t e[2];
  float w[2];
  sparsemixer(s.data(), 1, 4, 0.01, e, w);
  EXPECT_EQ(e[0], 0);
  EXPECT_EQ(e[1], 1);
  EXPECT_NEAR(w[0], 1.0 / (1.0 + std::exp(-0.01) + std::exp(-0.025)), 1e-6);
  EXPECT_NEAR(w[1], 1.0 / (1.0 + std::exp(-0.015)), 1e-6);
}

TEST(Routing, SparsemixerWithEverythingMaskedGivesWeightOne) {
  const std::vector<float> s{5.0f, 1.0f, 0.0f};
  int32_t e[2];
  float w[2];
  sparsemixer(s.data(), 1, 3, 0.01, e, w);
  EXPECT_EQ(e[0], 0);
  EXPECT_FLOAT_EQ(w[0], 1.0f);
  EXPECT_EQ(e[1], 1);
  EXPECT_FLOAT_EQ(w[1], 1.0f);  // (1 - 0) / max(0, 1) = 1 > 0.02: expert 2 masked
}

TEST(Routing, RouteDispatchesOnTheKind) {
  const std::vector<float> l{1.0f, 3.0f, -2.0f, 2.0f};
  int32_t e1[2], e2[2];
  float w1[2], w2[2];
  RoutingSpec spec{io::RoutingKind::kTopKSoftmax, 4, 2, false, 0.0};
  route(spec, l.data(), 1, e1, w1);
  topk_softmax(l.data(), 1, 4, 2, e2, w2);
  EXPECT_EQ(e1[0], e2[0]);
  EXPECT_EQ(w1[1], w2[1]);
}

}  // namespace
}  // namespace moe::routing
