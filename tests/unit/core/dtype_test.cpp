// dtype conversions against hand-computed bit patterns.
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/core/dtype.h"
#include "runtime/core/tensor.h"

namespace moe {

TEST(DType, Bf16RoundTripAndRoundingToNearestEven) {
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  // 1 + 2^-8 is exactly halfway between bf16 1.0 and 1.0078125: ties to even -> 1.0.
  EXPECT_EQ(f32_to_bf16(1.00390625f), 0x3f80);
  // 1 + 3*2^-8 is halfway between 1.0078125 (odd mantissa) and 1.015625: -> even 1.015625.
  EXPECT_EQ(f32_to_bf16(1.01171875f), 0x3f82);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
}

TEST(DType, F16KnownValues) {
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(1e6f), 0x7c00);
  for (uint32_t h = 0; h < 0x7c00; ++h) ASSERT_EQ(f32_to_f16(f16_to_f32(uint16_t(h))), h) << h;
}

TEST(DType, Fp4AndE8m0MatchTheMxfp4Table) {
  EXPECT_EQ(fp4_e2m1_to_f32(0x7), 6.0f);
  EXPECT_EQ(fp4_e2m1_to_f32(0x9), -0.5f);
  EXPECT_EQ(e8m0_to_f32(127), 1.0f);
  EXPECT_EQ(e8m0_to_f32(130), 8.0f);
}

TEST(DType, ParseNamesAndSizes) {
  EXPECT_EQ(parse_dtype("BF16"), DType::BF16);
  EXPECT_EQ(parse_dtype("F8_E4M3FNUZ"), DType::F8_E4M3FNUZ);
  EXPECT_FALSE(parse_dtype("bf16").has_value());
  EXPECT_EQ(dtype_bytes(DType::F4, 32), 16u);
  EXPECT_FALSE(dtype_bytes(DType::F6_E2M3, 3).has_value());
  EXPECT_EQ(dtype_bytes(DType::F6_E2M3, 4), 3u);
}

TEST(Tensor, SliceRowsSharesStorage) {
  Tensor t = Tensor::from_f32({3, 2}, {0, 1, 2, 3, 4, 5});
  Tensor s = t.slice_rows(1, 3);
  EXPECT_EQ(s.shape(), (Shape{2, 2}));
  EXPECT_EQ(s.data<float>()[0], 2.0f);
  s.data<float>()[0] = 9;
  EXPECT_EQ(t.data<float>()[2], 9.0f);
}

}  // namespace moe
