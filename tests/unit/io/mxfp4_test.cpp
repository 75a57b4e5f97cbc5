// MXFP4 encoding against hand-decoded values (runtime/models/README.md section 3: element 2b in
// the low nibble of byte b, scale 2^(s-127), FP4 E2M1 table), and round trips through the core
// decoder.
#include "runtime/io/mxfp4.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "runtime/core/dtype.h"

namespace moe::io {
namespace {

TEST(Mxfp4, EveryE2M1ValueEncodesToItsOwnCode) {
  for (uint8_t code = 0; code < 16; ++code) {
    if (code == 8) continue;  // -0 encodes as the code of its sign: checked below
    EXPECT_EQ(fp4_e2m1_from_f32(fp4_e2m1_to_f32(code)), code) << int(code);
  }
  EXPECT_EQ(fp4_e2m1_from_f32(-0.0f), 8);
}

TEST(Mxfp4, RoundsToNearestWithTiesToEvenCodeAndSaturates) {
  EXPECT_EQ(fp4_e2m1_from_f32(0.25f), 0);    // tie 0 | 0.5 -> code 0
  EXPECT_EQ(fp4_e2m1_from_f32(0.26f), 1);    // 0.5
  EXPECT_EQ(fp4_e2m1_from_f32(0.75f), 2);    // tie 0.5 | 1 -> code 2 (1.0)
  EXPECT_EQ(fp4_e2m1_from_f32(1.25f), 2);    // tie 1 | 1.5 -> code 2
  EXPECT_EQ(fp4_e2m1_from_f32(1.3f), 3);     // 1.5
  EXPECT_EQ(fp4_e2m1_from_f32(2.5f), 4);     // tie 2 | 3 -> code 4 (2.0)
  EXPECT_EQ(fp4_e2m1_from_f32(5.0f), 6);     // tie 4 | 6 -> code 6 (4.0)
  EXPECT_EQ(fp4_e2m1_from_f32(5.1f), 7);     // 6
  EXPECT_EQ(fp4_e2m1_from_f32(100.0f), 7);   // saturates at 6
  EXPECT_EQ(fp4_e2m1_from_f32(-100.0f), 15); // -6
  EXPECT_EQ(fp4_e2m1_from_f32(-1.0f), 10);
  EXPECT_EQ(fp4_e2m1_from_f32(NAN), 0);
}

TEST(Mxfp4, BlockWithUnitScaleMatchesHandEncoding) {
  std::vector<float> x(32, 0.0f);
  x[0] = 0.5f;   // code 1
  x[1] = -1.0f;  // code 8 | 2 = 10
  x[2] = 3.0f;   // code 5
  x[3] = 6.0f;   // code 7: amax 6 -> scale 2^(floor(log2 6) - 2) = 2^0
  uint8_t blocks[16], scale;
  encode_mxfp4_block(x.data(), blocks, &scale);
  EXPECT_EQ(scale, 127);
  EXPECT_EQ(blocks[0], 0xA1);  // element 0 low nibble (1), element 1 high nibble (10)
  EXPECT_EQ(blocks[1], 0x75);  // element 2 low (5), element 3 high (7)
  for (int b = 2; b < 16; ++b) EXPECT_EQ(blocks[b], 0) << b;
}

TEST(Mxfp4, SmallValuesDecodeToHandComputedWeights) {
  std::vector<float> x(32, 0.0f);
  x[5] = 0.1f;     // amax: floor(log2 0.1) = -4 -> scale 2^-6, byte 121; 0.1 * 64 = 6.4 -> 6
  x[6] = 0.05f;    // 3.2 -> 3
  x[7] = -0.02f;   // -1.28 -> -1.5
  x[31] = 0.004f;  // 0.256 -> 0.5
  uint8_t blocks[16], scale;
  encode_mxfp4_block(x.data(), blocks, &scale);
  ASSERT_EQ(scale, 121);
  // W[c] = LUT[nibble(blocks[c / 2], c % 2)] * 2^(scale - 127), decoded by hand from the bytes.
  auto w = [&](int c) {
    const uint8_t byte = blocks[c / 2];
    return fp4_e2m1_to_f32(c % 2 ? byte >> 4 : byte & 0xf) * e8m0_to_f32(scale);
  };
  EXPECT_EQ(w(5), 0.09375f);     // 6 / 64
  EXPECT_EQ(w(6), 0.046875f);    // 3 / 64
  EXPECT_EQ(w(7), -0.0234375f);  // -1.5 / 64
  EXPECT_EQ(w(31), 0.0078125f);  // 0.5 / 64
  EXPECT_EQ(w(0), 0.0f);
  EXPECT_EQ(blocks[2] & 0xf, 0);    // element 4
  EXPECT_EQ(blocks[2] >> 4, 7);     // element 5: 6.0
  EXPECT_EQ(blocks[3], 0xB5);       // element 6 low (5 = 3.0), element 7 high (11 = -1.5)
}

TEST(Mxfp4, ZeroBlockHasTheSmallestScale) {
  std::vector<float> x(32, 0.0f);
  uint8_t blocks[16], scale;
  encode_mxfp4_block(x.data(), blocks, &scale);
  EXPECT_EQ(scale, 0);
  for (uint8_t b : blocks) EXPECT_EQ(b, 0);
}

}  // namespace
}  // namespace moe::io
