// The fast CPU backend against the reference backend, op by op, on the same random inputs
// (llama.cpp test-backend-ops style). Every case prints its seed on failure; set MOE_TEST_SEED
// to replay one. Inputs that the fast path rounds to bf16 (GEMM inputs, q/k/v in a bf16 cache)
// are drawn bf16-representable so the comparison measures the kernels, not that rounding.
// Error measure per op: max |fast - ref| / max(1, max |ref|) (the "scaled max error"), bound:
//   linear, bf16 or f32 weights (f32 accumulation vs double):   2e-6 * sqrt(K / 64)
//   norm, rope, add, glu (same formulas in f32):                1e-5
//   attention, bf16 cache (probabilities rounded to bf16):      1e-2
//   MoE experts (intermediate activations rounded to bf16):     1e-2
//   MXFP4 experts of an f32 model (f32 sums vs double):         1e-5
//   combine (f32 sums in the same order):                       1e-6
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <numeric>
#include <random>
#include <vector>

#include "runtime/backend/cpu/fast.h"
#include "runtime/backend/cpu/reference.h"
#include "runtime/backend/kv_cache.h"
#include "tests/unit/backend/op_test_util.h"

namespace moe {
namespace {

class FastVsReference : public ::testing::Test {
 protected:
  BackendOptions opt(const char* name) {
    BackendOptions o;
    o.name = name;
    return o;
  }
  CpuReferenceBackend ref{opt("cpu-ref")};
  CpuFastBackend fast{opt("cpu")};
};

TEST_F(FastVsReference, LinearBf16WeightsAllRowCountsAndShapes) {
  const uint64_t seed = base_seed();
  SCOPED_TRACE(::testing::Message() << "MOE_TEST_SEED=" << seed);
  Rand r(seed);
  struct Case { int64_t M, K, N; bool bias; };
  for (const Case c : {Case{1, 64, 48, false}, Case{3, 100, 37, true}, Case{16, 2048, 64, false},
                       Case{17, 256, 96, false}, Case{64, 512, 128, true}, Case{200, 96, 33, false}}) {
    SCOPED_TRACE(::testing::Message() << "M=" << c.M << " K=" << c.K << " N=" << c.N);
    const Tensor x = r.f32({c.M, c.K}, 1.0f, true);
    const Tensor w = r.bf16({c.N, c.K}, 0.1f);
    const Tensor b = r.bf16({c.N}, 0.1f);
    Tensor yf = Tensor::empty(DType::F32, {c.M, c.N}), yr = Tensor::empty(DType::F32, {c.M, c.N});
    fast.linear(x, w, c.bias ? &b : nullptr, yf);
    ref.linear(x, w, c.bias ? &b : nullptr, yr);
    EXPECT_LE(scaled_max_error(yf, yr), 2e-6 * std::sqrt(double(c.K) / 64));
  }
}

TEST_F(FastVsReference, LinearF32Weights) {
  const uint64_t seed = base_seed() + 1;
  SCOPED_TRACE(::testing::Message() << "MOE_TEST_SEED=" << seed);
  Rand r(seed);
  const Tensor x = r.f32({9, 130}), w = r.f32({70, 130}, 0.1f);
  Tensor yf = Tensor::empty(DType::F32, {9, 70}), yr = Tensor::empty(DType::F32, {9, 70});
  fast.linear(x, w, nullptr, yf);
  ref.linear(x, w, nullptr, yr);
  EXPECT_LE(scaled_max_error(yf, yr), 2e-6 * std::sqrt(130.0 / 64));
}

TEST_F(FastVsReference, NormRopeAddGlu) {
  const uint64_t seed = base_seed() + 2;
  SCOPED_TRACE(::testing::Message() << "MOE_TEST_SEED=" << seed);
  Rand r(seed);
  const Tensor x = r.f32({33, 96}, 3.0f), w = r.bf16({96}, 1.0f);
  Tensor nf = Tensor::empty(DType::F32, {33, 96}), nr = Tensor::empty(DType::F32, {33, 96});
  const NormSpec rms{NormSpec::Kind::kRmsCastThenScale, 1e-6f};
  fast.norm(x, w, nullptr, rms, nf);
  ref.norm(x, w, nullptr, rms, nr);
  EXPECT_LE(scaled_max_error(nf, nr), 1e-5) << "norm";

  RopeTable table;
  for (int i = 0; i < 12; ++i) table.inv_freq.push_back(std::pow(10000.0f, -2.0f * i / 24));
  std::vector<int32_t> pos;
  for (int t = 0; t < 33; ++t) pos.push_back(t * 37 % 500);
  Tensor qf = r.f32({33, 4, 24}), qr = qf.clone();
  fast.rope(qf, pos, table);
  ref.rope(qr, pos, table);
  EXPECT_LE(scaled_max_error(qf, qr), 1e-5) << "rope";

  Tensor af = x.clone(), ar = x.clone();
  fast.add(nf, af);
  ref.add(nf, ar);
  EXPECT_LE(scaled_max_error(af, ar), 1e-6) << "add";

  const Tensor g = r.f32({33, 40}, 3.0f), u = r.f32({33, 40});
  Tensor gf = Tensor::empty(DType::F32, {33, 40}), gr = Tensor::empty(DType::F32, {33, 40});
  fast.glu(g, u, GluSpec{}, gf);
  ref.glu(g, u, GluSpec{}, gr);
  EXPECT_LE(scaled_max_error(gf, gr), 1e-5) << "glu";
}

// Several sequences with cached prefixes, GQA, optional sliding window and sinks; each backend
// stores the same k/v into its own cache layout, then attends.
void attention_case(CpuReferenceBackend& ref, CpuFastBackend& fast, Rand& r, int D, int window,
                    bool sinks) {
  SCOPED_TRACE(::testing::Message() << "head_dim " << D << " window " << window << " sinks " << sinks);
  const int nh = 4, nkv = 2;
  struct Seq { int cached, fresh; };
  const std::vector<Seq> seqs{{0, 7}, {20, 1}, {5, 30}, {40, 3}};
  KvCacheSpec spec;
  spec.num_layers = 1;
  spec.num_kv_heads = nkv;
  spec.head_dim = D;
  spec.max_seqs = 4;
  spec.max_tokens = 256;
  KvCache cref(ref, spec);
  spec.dtype = fast.kv_dtype(DType::BF16);
  KvCache cfast(fast, spec);
  const Tensor sink_t = r.f32({nh}, 1.0f);
  AttentionArgs args;
  args.scale = 1.0f / std::sqrt(float(D));
  args.sliding_window = window;
  args.sinks = sinks ? &sink_t : nullptr;
  // Fill the cached prefixes (one step per sequence), then one step with the fresh tokens.
  for (int phase = 0; phase < 2; ++phase) {
    std::vector<AttentionSeq> as;
    int32_t T = 0;
    for (size_t s = 0; s < seqs.size(); ++s) {
      const int n = phase == 0 ? seqs[s].cached : seqs[s].fresh;
      if (n == 0) continue;
      const int64_t len0 = cref.length(int(s));
      ASSERT_TRUE(cref.reserve(int(s), len0 + n) && cfast.reserve(int(s), len0 + n));
      as.push_back({T, n, len0 + n, nullptr});
      T += n;
    }
    size_t i = 0;
    for (size_t s = 0; s < seqs.size(); ++s) {
      const int n = phase == 0 ? seqs[s].cached : seqs[s].fresh;
      if (n == 0) continue;
      as[i++].blocks = cref.blocks(int(s)).data();
    }
    std::vector<AttentionSeq> af = as;
    i = 0;
    for (size_t s = 0; s < seqs.size(); ++s) {
      const int n = phase == 0 ? seqs[s].cached : seqs[s].fresh;
      if (n == 0) continue;
      af[i++].blocks = cfast.blocks(int(s)).data();
    }
    const Tensor k = r.f32({T, nkv, D}, 1.0f, true), v = r.f32({T, nkv, D}, 1.0f, true);
    ref.kv_store(k, v, as, cref.layer(0));
    fast.kv_store(k, v, af, cfast.layer(0));
    for (size_t s = 0; s < seqs.size(); ++s) {
      const int n = phase == 0 ? seqs[s].cached : seqs[s].fresh;
      cref.set_length(int(s), cref.length(int(s)) + n);
      cfast.set_length(int(s), cfast.length(int(s)) + n);
    }
    if (phase == 0) continue;
    const Tensor q = r.f32({T, nh, D}, 1.0f, true);
    Tensor of = Tensor::empty(DType::F32, {T, nh, D}), orf = Tensor::empty(DType::F32, {T, nh, D});
    fast.attention(q, cfast.layer(0), af, args, of);
    ref.attention(q, cref.layer(0), as, args, orf);
    EXPECT_LE(scaled_max_error(of, orf), 1e-2);
  }
}

TEST_F(FastVsReference, AttentionOverBf16Cache) {
  const uint64_t seed = base_seed() + 3;
  SCOPED_TRACE(::testing::Message() << "MOE_TEST_SEED=" << seed);
  Rand r(seed);
  attention_case(ref, fast, r, 128, 0, false);
  attention_case(ref, fast, r, 24, 0, false);
  attention_case(ref, fast, r, 64, 8, true);
  attention_case(ref, fast, r, 16, 0, true);
}

// Expert ids [T, k] (distinct per token, expert 2 taking about half the tokens) and weights.
void random_routing(Rand& r, int E, int k, Tensor& ex, Tensor& wt) {
  const int64_t T = ex.size(0);
  for (int64_t t = 0; t < T; ++t) {
    std::vector<int> ids(static_cast<size_t>(E));
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), r.g);
    // skew: expert 2 gets most tokens
    if (t % 2 == 0 && ids[1] != 2 && ids[2] != 2) ids[0] = 2;
    for (int j = 0; j < k; ++j) {
      ex.data<int32_t>()[t * k + j] = ids[size_t(j)];
      wt.data<float>()[t * k + j] = 0.2f + 0.1f * float(j);
    }
  }
}

TEST_F(FastVsReference, MoeExpertsBucketedGemmsMatchPerTokenExperts) {
  const uint64_t seed = base_seed() + 4;
  SCOPED_TRACE(::testing::Message() << "MOE_TEST_SEED=" << seed);
  Rand r(seed);
  const int E = 8, H = 64, I = 48, k = 3;
  for (auto layout : {ExpertWeights::GateUp::kSeparate, ExpertWeights::GateUp::kFused}) {
    const ExpertWeights w =
        random_experts(r, E, H, I, layout, ExpertWeights::Format::kFloat, DType::BF16, false);
    for (int64_t T : {1, 5, 40, 300}) {  // few rows per expert (streaming kernel) up to oneDNN GEMMs
      SCOPED_TRACE(::testing::Message() << "T=" << T << " layout " << int(layout));
      const Tensor x = r.f32({T, H}, 1.0f, true);
      Tensor ex = Tensor::empty(DType::I32, {T, k}), wt = Tensor::empty(DType::F32, {T, k});
      random_routing(r, E, k, ex, wt);
      Tensor of = Tensor::empty(DType::F32, {T, H}), orf = Tensor::empty(DType::F32, {T, H});
      fast.moe_experts(x, ex, wt, w, of);
      ref.moe_experts(x, ex, wt, w, orf);
      EXPECT_LE(scaled_max_error(of, orf), 1e-2);
    }
  }
}

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
  EXPECT_LE(scaled_max_error(one, orf), 1e-2);
}

// Many experts of many rows each (prefill) are spread over the OpenMP threads, each expert's
// products on one thread; with one thread they run one after another. Each expert's sums are
// then formed by the same single-threaded kernels either way, so the two must agree bitwise:
// a thread writing another's buffers, or an expert lost or done twice, breaks that. Also held
// against the reference backend (bound as above).
TEST_F(FastVsReference, MoeExpertsSpreadOverThreadsEqualOneThreadBitwise) {
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
TEST_F(FastVsReference, MoeExpertsOfFewRowsSplitOverThreadsEqualOneThreadBitwise) {
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

// gpt_oss experts (MXFP4 blocks/scales, biases, clamped SwiGLU) in both gate_up layouts. An f32
// model's expert inputs stay f32: x with full f32 mantissas, bound 1e-5 (f32 sums against
// double), which rounding any input to bf16 (relative 2^-9) would exceed. A bf16 model's are
// rounded to bf16 where an expert has more than 4 rows (bf16-valued x here; the intermediate
// activation is rounded too): bound 1e-2 as above. T = 1 and 5 give the experts few rows
// (mostly the fused kernel), 40 and 300 many (the decoded bf16 GEMM for bf16 models).
TEST_F(FastVsReference, Mxfp4ExpertsKeepF32ActivationsAndRoundBf16Ones) {
  const uint64_t seed = base_seed() + 6;
  SCOPED_TRACE(::testing::Message() << "MOE_TEST_SEED=" << seed);
  Rand r(seed);
  const int E = 8, H = 64, I = 96, k = 3;
  for (auto layout : {ExpertWeights::GateUp::kInterleaved, ExpertWeights::GateUp::kFused}) {
    ExpertWeights w =
        random_experts(r, E, H, I, layout, ExpertWeights::Format::kMxfp4, DType::U8, true);
    w.glu.kind = GluSpec::Kind::kClampedSwish;
    for (DType act : {DType::F32, DType::BF16}) {
      w.activation = act;
      for (int64_t T : {1, 5, 40, 300}) {
        SCOPED_TRACE(::testing::Message() << "T=" << T << " layout " << int(layout) << " "
                                          << dtype_name(act) << " activations");
        const Tensor x = r.f32({T, H}, 1.0f, act == DType::BF16);
        Tensor ex = Tensor::empty(DType::I32, {T, k}), wt = Tensor::empty(DType::F32, {T, k});
        random_routing(r, E, k, ex, wt);
        Tensor of = Tensor::empty(DType::F32, {T, H}), orf = Tensor::empty(DType::F32, {T, H});
        fast.moe_experts(x, ex, wt, w, of);
        ref.moe_experts(x, ex, wt, w, orf);
        EXPECT_LE(scaled_max_error(of, orf), act == DType::BF16 ? 1e-2 : 1e-5);
      }
    }
  }
}

TEST_F(FastVsReference, CombineSumsInExpertOrder) {
  Rand r(base_seed() + 5);
  const Tensor y = r.f32({12, 20});
  const std::vector<int32_t> slot{3, 0, 7, 1, 11, 2, 5, 9, 4, 10, 6, 8};  // T = 4, k = 3
  const std::vector<int32_t> experts{5, 1, 9, 0, 2, 7, 3, 6, 4, 8, 2, 1};
  Tensor of = Tensor::empty(DType::F32, {4, 20}), orf = Tensor::empty(DType::F32, {4, 20});
  fast.combine(y, slot, experts, 3, of);
  ref.combine(y, slot, experts, 3, orf);
  EXPECT_LE(scaled_max_error(of, orf), 1e-6);
  // Token 0 adds rows 0 (expert 1), 3 (expert 5), 7 (expert 9) in that order.
  const float* yr = y.data<float>();
  for (int c = 0; c < 20; ++c)
    EXPECT_EQ(orf.data<float>()[c], (yr[0 * 20 + c] + yr[3 * 20 + c]) + yr[7 * 20 + c]);
}

}  // namespace
}  // namespace moe
