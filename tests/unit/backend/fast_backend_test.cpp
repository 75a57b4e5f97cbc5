// What the fast CPU backend promises beyond agreeing with the reference op by op (that is
// backend_conformance_test.cpp's): its MoE experts give every output bitwise the same whatever
// the number of OpenMP threads, however the experts and their rows are split over them. Runs at
// the CPU level ctest runs it at (the entries "<test>@<level>"). Set MOE_TEST_SEED to replay.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <vector>

#include "runtime/backend/cpu/fast.h"
#include "runtime/backend/cpu/kernels.h"
#include "runtime/backend/cpu/reference.h"
#include "tests/unit/backend/op_test_util.h"

namespace moe {
namespace {

// The MoE experts' bound against the reference (bf16 intermediate activations), as in
// backend_conformance_test.cpp.
constexpr double kBf16Tolerance = 1e-2;

class FastBackend : public ::testing::Test {
 protected:
  BackendOptions opt(const char* name) {
    BackendOptions o;
    o.name = name;
    return o;
  }
  CpuReferenceBackend ref{opt("cpu-ref")};
  CpuFastBackend fast{opt("cpu")};
};

// Runs the fast backend's MoE experts on T random tokens (top-k of the E experts of w) with 1,
// then 2 and 3 OpenMP threads, and expects every output bitwise equal to one thread's, and one
// thread's within the MoE bound of the reference backend's.
void expect_threads_agree_bitwise(CpuFastBackend& fast, CpuReferenceBackend& ref, Rand& r,
                                  const ExpertWeights& w, int64_t T, int k) {
  const int64_t H = w.hidden;
  const Tensor x = r.f32({T, H}, 1.0f, true);
  Tensor ex = Tensor::empty(DType::I32, {T, k}), wt = Tensor::empty(DType::F32, {T, k});
  random_routing(r, w.num_experts(), k, ex, wt);
  Tensor one = Tensor::empty(DType::F32, {T, H}), orf = Tensor::empty(DType::F32, {T, H});
  const int threads_before = omp_get_max_threads();
  omp_set_num_threads(1);
  fast.moe_experts(x, ex, wt, w, one);
  for (int threads : {2, 3}) {
    SCOPED_TRACE(::testing::Message() << threads << " threads");
    omp_set_num_threads(threads);
    Tensor many = Tensor::empty(DType::F32, {T, H});
    fast.moe_experts(x, ex, wt, w, many);
    int64_t differ = 0;
    for (int64_t i = 0; i < T * H; ++i) differ += one.data<float>()[i] != many.data<float>()[i];
    EXPECT_EQ(differ, 0) << "of " << T * H << " outputs";
  }
  omp_set_num_threads(threads_before);
  ref.moe_experts(x, ex, wt, w, orf);
  EXPECT_LE(scaled_max_error(one, orf), kBf16Tolerance);
}

// Many experts of many rows each (prefill) are spread over the OpenMP threads, each expert's
// products on one thread; with one thread they run one after another. Each expert's sums are
// then formed by the same single-threaded kernels either way, so the two must agree bitwise:
// a thread writing another's buffers, or an expert lost or done twice, breaks that. Also held
// against the reference backend (bound as above).
TEST_F(FastBackend, MoeExpertsSpreadOverThreadsEqualOneThreadBitwise) {
  const uint64_t seed = base_seed() + 7;
  SCOPED_TRACE(::testing::Message() << "MOE_TEST_SEED=" << seed);
  Rand r(seed);
  for (auto layout : {ExpertWeights::GateUp::kSeparate, ExpertWeights::GateUp::kFused}) {
    SCOPED_TRACE(::testing::Message() << "layout " << int(layout));
    const ExpertWeights w = random_experts(r, /*E=*/16, /*H=*/64, /*I=*/48, layout,
                                           ExpertWeights::Format::kFloat, DType::BF16, false);
    expect_threads_agree_bitwise(fast, ref, r, w, /*T=*/400, /*k=*/4);  // ~100 rows per expert
  }
}

// Experts of few rows each (decode: about 10 per expert at most on average here, within the
// streaming kernel's expert limit of 64 without AMX; with AMX, whose limit is 16, a layer with an
// expert above it takes the per-expert path) run as one parallel region: every thread takes a
// share (multiples of 16) of each expert's intermediate indices, then of its outputs. Each output's sum is
// formed by the same kernel over the whole K whatever the share, so 2 and 3 threads must equal
// 1 bitwise; I = 40 and H = 72 leave partial and empty shares. A share handed to two threads or
// to none, or a SwiGLU reading another thread's indices, breaks that; held against the
// reference backend too (bound as above).
TEST_F(FastBackend, MoeExpertsOfFewRowsSplitOverThreadsEqualOneThreadBitwise) {
  const uint64_t seed = base_seed() + 8;
  SCOPED_TRACE(::testing::Message() << "MOE_TEST_SEED=" << seed);
  Rand r(seed);
  for (auto layout : {ExpertWeights::GateUp::kSeparate, ExpertWeights::GateUp::kFused}) {
    const ExpertWeights w = random_experts(r, /*E=*/16, /*H=*/72, /*I=*/40, layout,
                                           ExpertWeights::Format::kFloat, DType::BF16, false);
    for (int64_t T : {1, 5, 40}) {  // 4, 20 and 160 rows over 16 experts
      SCOPED_TRACE(::testing::Message() << "T=" << T << " layout " << int(layout));
      expect_threads_agree_bitwise(fast, ref, r, w, T, /*k=*/4);
    }
  }
}

// prepare_weight re-lays a bf16 product weight in panels where the level's kernels read them
// (kernels.h; avx2), and leaves a table (embedding) as it is; the linears and MoE experts on the
// prepared weights then give every output bitwise what the same weights' rows give, for token
// counts of decode and prefill and row counts that are not multiples of a panel.
TEST_F(FastBackend, PreparedWeightsGiveTheRowsBits) {
  const uint64_t seed = base_seed() + 9;
  SCOPED_TRACE(::testing::Message() << "MOE_TEST_SEED=" << seed);
  Rand r(seed);
  const cpu::Kernels* k = cpu::kernels();
  const bool panels = k && k->gemm_bf16_small_panels;
  const Tensor w = r.bf16({45, 100}, 0.1f);
  EXPECT_EQ(fast.prepare_weight(w, WeightUse::kProduct).layout() != nullptr, panels);
  EXPECT_EQ(fast.prepare_weight(w, WeightUse::kTable).layout(), nullptr);
  EXPECT_EQ(fast.prepare_weight(r.f32({45, 100}), WeightUse::kProduct).layout(), nullptr);
  if (!panels) GTEST_SKIP() << "the kernels of this level read W's rows as they are";
  const Tensor prepared = fast.prepare_weight(w, WeightUse::kProduct);
  for (int64_t T : {1, 3, 5, 16, 40}) {
    SCOPED_TRACE(::testing::Message() << "T=" << T);
    const Tensor x = r.f32({T, 100});
    Tensor rows = Tensor::empty(DType::F32, {T, 45}), pan = Tensor::empty(DType::F32, {T, 45});
    fast.linear(x, w, nullptr, rows);
    fast.linear(x, prepared, nullptr, pan);
    int64_t differ = 0;
    for (int64_t i = 0; i < T * 45; ++i) differ += rows.data<float>()[i] != pan.data<float>()[i];
    EXPECT_EQ(differ, 0) << "of " << T * 45 << " outputs";
  }
  for (auto layout : {ExpertWeights::GateUp::kSeparate, ExpertWeights::GateUp::kFused}) {
    const ExpertWeights ew = random_experts(r, /*E=*/8, /*H=*/72, /*I=*/40, layout,
                                            ExpertWeights::Format::kFloat, DType::BF16, false);
    ExpertWeights ep = ew;
    for (auto* v : {&ep.gate, &ep.up, &ep.gate_up, &ep.down})
      for (Tensor& t : *v) t = fast.prepare_weight(t, WeightUse::kProduct);
    for (int64_t T : {1, 6, 200}) {  // few rows per expert, and many (the blocked kernel)
      SCOPED_TRACE(::testing::Message() << "T=" << T << " layout " << int(layout));
      const Tensor x = r.f32({T, 72}, 1.0f, true);
      Tensor ex = Tensor::empty(DType::I32, {T, 2}), wt = Tensor::empty(DType::F32, {T, 2});
      random_routing(r, 8, 2, ex, wt);
      Tensor a = Tensor::empty(DType::F32, {T, 72}), b = Tensor::empty(DType::F32, {T, 72});
      fast.moe_experts(x, ex, wt, ew, a);
      fast.moe_experts(x, ex, wt, ep, b);
      int64_t differ = 0;
      for (int64_t i = 0; i < T * 72; ++i) differ += a.data<float>()[i] != b.data<float>()[i];
      EXPECT_EQ(differ, 0) << "of " << T * 72 << " outputs";
    }
  }
}

}  // namespace
}  // namespace moe
