// Toolchain canaries: wrong code that a compiler/flag combination is known to produce.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace moe {
namespace {

// GCC 12 with AVX-512 tuning broadcast the low half of these 32-byte constants into the upper
// half ({0.5, 0.5, 0.5, 0.5}); the top-level CMakeLists.txt works around it. noinline keeps the
// constants inside a function, where the bug showed.
__attribute__((noinline)) std::vector<double> doubles() {
  return {0.5, 0.5, 0, 0};
}
__attribute__((noinline)) std::vector<int64_t> int64s() {
  return {7, 7, 0, 0};
}
__attribute__((noinline)) std::vector<float> floats() {
  return {1, 1, 1, 1, 0, 0, 0, 0};
}

TEST(Toolchain, ThirtyTwoByteConstantsWithAZeroUpperHalfAreStoredIntact) {
  EXPECT_EQ(doubles(), (std::vector<double>{0.5, 0.5, 0.0, 0.0}));
  EXPECT_EQ(int64s()[2], 0);
  EXPECT_EQ(int64s()[3], 0);
  EXPECT_EQ(floats()[4], 0.0f);
  EXPECT_EQ(floats()[7], 0.0f);
}

}  // namespace
}  // namespace moe
