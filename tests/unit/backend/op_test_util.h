// Helpers of the per-op backend tests: the replayable seed, random inputs (and random experts in
// every layout and format) and the scaled max error every op comparison uses. Header-only, for tests/unit/backend.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <random>
#include <vector>

#include "runtime/backend/backend.h"
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

// Random experts in every layout and format the families use, optionally with biases.
inline ExpertWeights random_experts(Rand& r, int E, int H, int I, ExpertWeights::GateUp layout,
                                    ExpertWeights::Format format, DType dt, bool biases) {
  using F = ExpertWeights::Format;
  ExpertWeights w;
  w.layout = layout;
  w.format = format;
  w.hidden = H;
  w.intermediate = I;
  const auto mat = [&](int64_t rows, int64_t cols, float std) {
    return dt == DType::BF16 ? r.bf16({rows, cols}, std) : r.f32({rows, cols}, std);
  };
  const auto mxfp4 = [&](int64_t rows, int64_t in, Tensor& scales) {
    Tensor b = Tensor::empty(DType::U8, {rows, in / 32, 16});
    for (int64_t i = 0; i < b.numel(); ++i) b.data<uint8_t>()[i] = uint8_t(r.g() & 0xff);
    scales = Tensor::empty(DType::U8, {rows, in / 32});
    for (int64_t i = 0; i < scales.numel(); ++i) scales.data<uint8_t>()[i] = uint8_t(121 + r.g() % 3);
    return b;
  };
  for (int e = 0; e < E; ++e) {
    const float sh = 1.0f / std::sqrt(float(H)), si = 1.0f / std::sqrt(float(I));
    if (layout == ExpertWeights::GateUp::kSeparate) {
      w.gate.push_back(mat(I, H, sh));
      w.up.push_back(mat(I, H, sh));
      w.down.push_back(mat(H, I, si));
    } else if (format == F::kMxfp4) {
      Tensor s1, s2;
      w.gate_up.push_back(mxfp4(2 * I, H, s1));
      w.gate_up_scales.push_back(s1);
      w.down.push_back(mxfp4(H, I, s2));
      w.down_scales.push_back(s2);
    } else if (format == F::kFloatTransposed) {
      w.gate_up.push_back(mat(H, 2 * I, sh));
      w.down.push_back(mat(I, H, si));
    } else {
      w.gate_up.push_back(mat(2 * I, H, sh));
      w.down.push_back(mat(H, I, si));
    }
    if (biases) {
      w.gate_up_bias.push_back(r.bf16({2 * I}, 0.1f));
      w.down_bias.push_back(r.bf16({H}, 0.1f));
    }
  }
  return w;
}

// Expert ids [T, k] (distinct per token; expert 2 taking about half the tokens, so one expert
// has many rows while others have few) and bf16-representable weights.
inline void random_routing(Rand& r, int E, int k, Tensor& ex, Tensor& wt) {
  const int64_t T = ex.size(0);
  for (int64_t t = 0; t < T; ++t) {
    std::vector<int> ids(static_cast<size_t>(E));
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), r.g);
    if (t % 2 == 0 && ids[1] != 2 && ids[2] != 2) ids[0] = 2;
    for (int j = 0; j < k; ++j) {
      ex.data<int32_t>()[t * k + j] = ids[size_t(j)];
      wt.data<float>()[t * k + j] = round_bf16(0.2f + 0.1f * float(j));
    }
  }
}

}  // namespace moe
