// MXFP4 row decoding (decode_mxfp4) against values worked out by hand from
// runtime/models/README.md section 3: element 2b is the LOW nibble of byte b, element 2b+1 the
// HIGH nibble, FP4 E2M1 table
// [0, .5, 1, 1.5, 2, 3, 4, 6, -0, -.5, -1, -1.5, -2, -3, -4, -6], one E8M0 scale 2^(s-127) per 32.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "runtime/core/dtype.h"

namespace moe {
namespace {

TEST(Mxfp4, DecodesLowNibbleFirstWithTheBlockScale) {
  std::vector<uint8_t> blocks(32, 0x00);
  const uint8_t scales[2] = {126, 130};  // 2^-1, 2^3
  blocks[0] = 0x71;   // el 0: nibble 1 = 0.5;  el 1: nibble 7 = 6
  blocks[1] = 0x9F;   // el 2: nibble F = -6;   el 3: nibble 9 = -0.5
  blocks[15] = 0xC5;  // el 30: nibble 5 = 3;   el 31: nibble C = -2
  blocks[16] = 0x28;  // el 32: nibble 8 = -0;  el 33: nibble 2 = 1   (second block: x 8)
  blocks[31] = 0xE3;  // el 62: nibble 3 = 1.5; el 63: nibble E = -4
  std::vector<float> out(64, 99.0f);
  decode_mxfp4(blocks.data(), scales, 64, out.data());
  EXPECT_EQ(out[0], 0.25f);
  EXPECT_EQ(out[1], 3.0f);
  EXPECT_EQ(out[2], -3.0f);
  EXPECT_EQ(out[3], -0.25f);
  EXPECT_EQ(out[4], 0.0f);
  EXPECT_EQ(out[30], 1.5f);
  EXPECT_EQ(out[31], -1.0f);
  EXPECT_EQ(out[32], 0.0f);
  EXPECT_TRUE(std::signbit(out[32]));  // nibble 8 is -0
  EXPECT_EQ(out[33], 8.0f);
  EXPECT_EQ(out[62], 12.0f);
  EXPECT_EQ(out[63], -32.0f);
  for (int i = 34; i < 62; ++i) EXPECT_EQ(out[size_t(i)], 0.0f) << i;
}

TEST(Mxfp4, EveryNibbleTimesEveryScaleMatchesTheTable) {
  const float table[16] = {0, .5, 1, 1.5, 2, 3, 4, 6, -0.0f, -.5, -1, -1.5, -2, -3, -4, -6};
  std::vector<uint8_t> blocks(16);
  std::vector<float> out(32);
  for (int s : {0, 1, 100, 127, 128, 200, 254}) {
    const uint8_t scale = uint8_t(s);
    for (int lo = 0; lo < 16; ++lo) {
      for (int b = 0; b < 16; ++b) blocks[size_t(b)] = uint8_t(lo | (((lo + b) & 15) << 4));
      decode_mxfp4(blocks.data(), &scale, 32, out.data());
      for (int b = 0; b < 16; ++b) {
        ASSERT_EQ(out[size_t(2 * b)], std::ldexp(table[lo], s - 127)) << s << " " << lo;
        ASSERT_EQ(out[size_t(2 * b + 1)], std::ldexp(table[(lo + b) & 15], s - 127)) << s << " " << lo;
      }
    }
  }
}

}  // namespace
}  // namespace moe
