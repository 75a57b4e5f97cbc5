// Rotary tables against independent values: YaRN for the published gpt-oss-20b configuration
// (head_dim 64, theta 150000, factor 32, beta 32/1, original 4096, truncate false) against
// values worked out by hand in double and against transformers 5.23's f32 inv_freq
// (_compute_yarn_parameters, recorded below); LongRoPE against 1 / (ext_i theta^(2i/d)).
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/models/blocks.h"

namespace moe {
namespace {

io::RopeConfig gpt_oss_20b_rope() {
  io::RopeConfig r;
  r.kind = io::RopeConfig::Kind::kYarn;
  r.theta = 150000;
  r.factor = 32;
  r.beta_fast = 32;
  r.beta_slow = 1;
  r.truncate = false;
  r.original_max_position_embeddings = 4096;
  r.attention_factor = 1.3465735902799727;  // 0.1 ln(32) + 1, as the config parser derives it
  return r;
}

TEST(Rope, YarnCorrectionRangeIsNotRoundedWithoutTruncate) {
  // low  = 64 ln(4096 / (32 * 2 pi)) / (2 ln 150000) = 8.0927791155...
  // high = 64 ln(4096 / (1 * 2 pi))  / (2 ln 150000) = 17.398024501...
  const auto [low, high] = yarn_correction_range(gpt_oss_20b_rope(), 64);
  EXPECT_NEAR(low, 8.092779115512402, 1e-12);
  EXPECT_NEAR(high, 17.39802450158856, 1e-12);
  io::RopeConfig t = gpt_oss_20b_rope();
  t.truncate = true;
  const auto [tl, th] = yarn_correction_range(t, 64);
  EXPECT_EQ(tl, 8.0);
  EXPECT_EQ(th, 18.0);
}

TEST(Rope, YarnInverseFrequenciesMatchHandValuesAndTransformers) {
  const RopeTable t = make_rope_table(gpt_oss_20b_rope(), 64);
  ASSERT_EQ(t.inv_freq.size(), 32u);
  // By hand (double): inv_i = interp_i ramp_i + extrap_i (1 - ramp_i), pf_i = 150000^(2i/64),
  // extrap = 1/pf, interp = 1/(32 pf), ramp = clamp((i - low)/(high - low), 0, 1).
  const std::pair<int, double> hand[] = {{0, 1.0},
                                         {8, 0.050813274815461475},  // ramp 0: extrapolation
                                         {9, 0.03170569618466377},   // inside the ramp
                                         {12, 0.006794959489732219},
                                         {17, 0.00012931870124506317},
                                         {18, 3.8308812373753384e-05},  // ramp 1: interpolation
                                         {31, 3.0235114281192144e-07}};
  for (auto [i, v] : hand) EXPECT_NEAR(t.inv_freq[size_t(i)], v, 1e-6 * v) << "i = " << i;
  // transformers 5.23 (f32): ROPE_INIT_FUNCTIONS["yarn"] on the same configuration.
  const float tf[32] = {
      1.0f, 0.6890442967414856f, 0.4747820496559143f, 0.32714587450027466f,
      0.22541800141334534f, 0.15532298386096954f, 0.1070244237780571f, 0.07374456524848938f,
      0.05081327259540558f, 0.031705696135759354f, 0.019334999844431877f, 0.011592049151659012f,
      0.006794959306716919f, 0.0038603590801358223f, 0.002093792660161853f,
      0.00105260219424963f, 0.0004564839182421565f, 0.00012931869423482567f,
      3.830881178146228e-05f, 2.6396468456368893e-05f, 1.818833698052913e-05f,
      1.253256959898863e-05f, 8.635495760245249e-06f, 5.95023948335438e-06f,
      4.099978468730114e-06f, 2.8250667583051836e-06f, 1.9465962850517826e-06f,
      1.3412909538601525e-06f, 9.242089618055616e-07f, 6.368209142237902e-07f,
      4.38797854940276e-07f, 3.023511396804679e-07f};
  for (int i = 0; i < 32; ++i)  // within 2 f32 ulps (pow may differ in the last bit)
    EXPECT_NEAR(t.inv_freq[size_t(i)], tf[i], 2.5e-7f * tf[i]) << "i = " << i;
  // cos/sin scale: the attention factor.
  EXPECT_FLOAT_EQ(t.scale, 1.3465735902799727f);
}

TEST(Rope, LongRopeTablesUseTheChosenFactorsAndMscale) {
  io::RopeConfig r;
  r.kind = io::RopeConfig::Kind::kLongRope;
  r.theta = 10000;
  r.original_max_position_embeddings = 16;
  r.short_factor = {1.5, 2.0, 4.0, 8.0};
  r.long_factor = {3.0, 6.0, 12.0, 48.0};
  r.short_mscale = 1.1;
  r.long_mscale = 1.3;
  const RopeTable s = make_rope_table(r, 8, false, false);
  const RopeTable l = make_rope_table(r, 8, true, true);
  const RopeTable tf = make_rope_table(r, 8, false, true);  // transformers 5.23 beyond 16
  // 1 / (ext_i 10000^(2i/8)): 10000^(i/4) = 1, 10, 100, 1000.
  const double base[4] = {1, 10, 100, 1000};
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(s.inv_freq[size_t(i)], 1 / (r.short_factor[size_t(i)] * base[i]), 1e-6 / base[i]);
    EXPECT_NEAR(l.inv_freq[size_t(i)], 1 / (r.long_factor[size_t(i)] * base[i]), 1e-6 / base[i]);
    EXPECT_EQ(tf.inv_freq[size_t(i)], s.inv_freq[size_t(i)]);
  }
  EXPECT_FLOAT_EQ(s.scale, 1.1f);
  EXPECT_FLOAT_EQ(l.scale, 1.3f);
  EXPECT_FLOAT_EQ(tf.scale, 1.3f);
}

}  // namespace
}  // namespace moe
