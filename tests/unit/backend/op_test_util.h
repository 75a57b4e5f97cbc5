// Helpers of the per-op backend tests: the replayable seed, random inputs and the scaled max
// error every op comparison uses. Header-only, for tests/unit/backend.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>

#include "runtime/core/tensor.h"

namespace moe {

// The base seed of a run: MOE_TEST_SEED replays one.
inline uint64_t base_seed() {
  const char* s = std::getenv("MOE_TEST_SEED");
  return s ? std::strtoull(s, nullptr, 10) : 20260101;
}

struct Rand {
  std::mt19937_64 g;
  explicit Rand(uint64_t seed) : g(seed) {}
  float normal() { return std::normal_distribution<float>(0.0f, 1.0f)(g); }
  // f32 tensor of N(0, std), optionally rounded to bf16 values.
  Tensor f32(Shape s, float std = 1.0f, bool bf16_values = false) {
    Tensor t = Tensor::empty(DType::F32, std::move(s));
    for (int64_t i = 0; i < t.numel(); ++i) {
      const float v = normal() * std;
      t.data<float>()[i] = bf16_values ? round_bf16(v) : v;
    }
    return t;
  }
  Tensor bf16(Shape s, float std = 1.0f) {
    Tensor t = Tensor::empty(DType::BF16, std::move(s));
    for (int64_t i = 0; i < t.numel(); ++i) t.data<uint16_t>()[i] = f32_to_bf16(normal() * std);
    return t;
  }
};

// max |got - ref| / max(1, max |ref|) over two CPU f32 tensors; NaN counts as infinite.
inline double scaled_max_error(const Tensor& fast, const Tensor& ref) {
  EXPECT_EQ(fast.shape(), ref.shape());
  double m = 0, scale = 1;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    scale = std::max(scale, double(std::fabs(ref.data<float>()[i])));
    const double d = std::fabs(double(fast.data<float>()[i]) - ref.data<float>()[i]);
    m = std::max(m, std::isnan(d) ? INFINITY : d);
  }
  return m / scale;
}

}  // namespace moe
