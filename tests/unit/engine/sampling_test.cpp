// Sampling: greedy/top-k/top-p edge cases and the sampled distribution against the softmax.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "runtime/engine/sampling.h"

namespace moe {
namespace {

TEST(Sampling, ArgmaxTakesTheLowestIdAmongEqualMaxima) {
  const std::vector<float> l{0.0f, 2.0f, 2.0f, 1.0f};
  EXPECT_EQ(argmax(l), 1);
}

TEST(Sampling, TopKOneAndTinyTopPAreGreedy) {
  const std::vector<float> l{0.1f, 0.3f, 0.2f, -1.0f};
  SamplerRng rng(7);
  SamplingOptions k1;
  k1.greedy = false;
  k1.top_k = 1;
  SamplingOptions p0;
  p0.greedy = false;
  p0.top_p = 1e-6f;
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(sample_token(l, k1, rng), 1);
    EXPECT_EQ(sample_token(l, p0, rng), 1);
  }
}

TEST(Sampling, FrequenciesFollowTheTemperedSoftmax) {
  const std::vector<float> l{1.0f, 0.0f, -1.0f};
  SamplingOptions o;
  o.greedy = false;
  o.temperature = 0.5f;
  SamplerRng rng(12345);
  std::vector<int> n(3, 0);
  const int N = 20000;
  for (int i = 0; i < N; ++i) ++n[size_t(sample_token(l, o, rng))];
  double z = 0;
  for (float v : l) z += std::exp(v / 0.5);
  for (int j = 0; j < 3; ++j) {
    const double p = std::exp(l[size_t(j)] / 0.5) / z;
    // 5 standard deviations of a binomial count (fixed seed: deterministic).
    EXPECT_NEAR(n[size_t(j)], N * p, 5 * std::sqrt(N * p * (1 - p))) << "token " << j;
  }
}

TEST(Sampling, TopPKeepsTheSmallestPrefixReachingTheMass) {
  // probabilities 0.5, 0.3, 0.2: top_p 0.7 keeps {0, 1} -> token 2 never drawn.
  const std::vector<float> l{std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  SamplingOptions o;
  o.greedy = false;
  o.top_p = 0.7f;
  SamplerRng rng(3);
  int ones = 0;
  for (int i = 0; i < 2000; ++i) {
    const int32_t t = sample_token(l, o, rng);
    ASSERT_NE(t, 2);
    ones += t == 1;
  }
  EXPECT_NEAR(ones, 2000 * 0.375, 5 * std::sqrt(2000 * 0.375 * 0.625));
}

TEST(Sampling, SameSeedSameStream) {
  SamplerRng a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 10; ++i) {
    const double x = a.uniform();
    EXPECT_EQ(x, b.uniform());
    differs = differs || x != c.uniform();
  }
  EXPECT_TRUE(differs);
}

TEST(Sampling, LogProbIsLogSoftmax) {
  const std::vector<float> l{1.0f, 2.0f, 3.0f};
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(log_prob(l, 1), 2.0 - std::log(z), 1e-12);
}

}  // namespace
}  // namespace moe
