// Every Backend op of the fast backends against the reference backend (cpu-ref), on the same
// random inputs, in the manner of llama.cpp's test-backend-ops: one suite, parameterised by the
// backend under test ("cpu" at the CPU level ctest runs it at: the entries "<test>@<level>",
// tests/CMakeLists.txt; "cuda" with and without the bf16 emulation, skipped, saying why, where
// the machine has no usable GPU). Every case prints its seed on failure; set MOE_TEST_SEED to
// replay one. Inputs that a bf16 GEMM or a bf16 cache rounds are drawn bf16-representable, so
// the comparison measures the kernels, not that rounding.
// Error measure per op: the scaled max error (op_test_util.h), within the bounds named below.
// With the bf16 emulation (BackendOptions::bf16_rounding) every activation is rounded to bf16
// like the reference; a 1-ulp flip of a rounding (summation order) is 2^-8 relative, so every
// bound becomes at least kBf16EmulationFloor.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "runtime/backend/cpu/reference.h"
#include "runtime/backend/cuda/cuda_backend.h"
#include "runtime/backend/kv_cache.h"
#include "tests/unit/backend/op_test_util.h"

namespace moe {
namespace {

// f32 GEMMs (f32 accumulation against the reference's double): per sqrt(K / 64).
constexpr double kGemmTolerancePer64 = 2e-6;
// The same formulas in f32 (norm, rope, glu; expf against std::exp).
constexpr double kElementwiseTolerance = 1e-5;
// One f32 operation per element (add, clamp).
constexpr double kAddTolerance = 1e-6;
// f32 attention (f32 dots against double) and experts with f32 or MXFP4 weights on f32
// activations (f32 GEMMs).
constexpr double kF32Tolerance = 1e-5;
// A bf16 cache (probabilities rounded to bf16) and bf16 experts (the intermediate activation
// rounded to bf16 before the down product).
constexpr double kBf16Tolerance = 1e-2;
// Routing weights (softmax of the same logits).
constexpr double kRoutingWeightTolerance = 1e-6;
constexpr double kBf16EmulationFloor = 1e-2;

struct Target {
  const char* backend;
  bool bf16_rounding;
};

void PrintTo(const Target& t, std::ostream* os) {
  *os << t.backend << (t.bf16_rounding ? " with bf16 rounding" : "");
}

class BackendConformance : public ::testing::TestWithParam<Target> {
 protected:
  void SetUp() override {
    std::string why;
    if (std::string(GetParam().backend) == "cuda" && cuda_device_count(&why) == 0)
      GTEST_SKIP() << "no usable GPU here, so the CUDA backend is compiled but not run: " << why;
    BackendOptions o;
    o.bf16_rounding = GetParam().bf16_rounding;
    o.name = "cpu-ref";
    ref = std::make_unique<CpuReferenceBackend>(o);
    o.name = GetParam().backend;
    be = make_backend(o);
  }
  double bound(double b) const {
    return GetParam().bf16_rounding ? std::max(b, kBf16EmulationFloor) : b;
  }
  Tensor dev(const Tensor& t) { return be->prepare_weight(t, WeightUse::kProduct); }
  Tensor host(const Tensor& t) { return be->to_host(t); }
  Tensor out(Shape s) { return be->alloc(DType::F32, std::move(s)); }

  std::unique_ptr<CpuReferenceBackend> ref;
  std::shared_ptr<Backend> be;
};

TEST_P(BackendConformance, LinearBf16AndF32WeightsAtEveryRowCount) {
  const uint64_t seed = base_seed() + 100;
  SCOPED_TRACE(::testing::Message() << "MOE_TEST_SEED=" << seed);
  Rand r(seed);
  struct Case {
    int64_t M, K, N;
    bool bias, bf16;
  };
  // Few rows (the streaming kernels), many (blocked kernels, oneDNN, cuBLAS), odd shapes.
  for (const Case c :
       {Case{1, 64, 48, false, true}, Case{3, 100, 37, true, true}, Case{16, 2048, 64, false, true},
        Case{17, 256, 96, false, true}, Case{17, 2048, 96, false, true},
        Case{64, 512, 128, true, true}, Case{200, 96, 33, false, true},
        Case{9, 130, 70, false, false}, Case{33, 256, 65, true, false}}) {
    SCOPED_TRACE(::testing::Message()
                 << "M=" << c.M << " K=" << c.K << " N=" << c.N << (c.bf16 ? " bf16" : " f32"));
    const Tensor x = r.f32({c.M, c.K}, 1.0f, true);
    const Tensor w = c.bf16 ? r.bf16({c.N, c.K}, 0.1f) : r.f32({c.N, c.K}, 0.1f);
    const Tensor b = r.bf16({c.N}, 0.1f);
    const Tensor dw = dev(w), db = dev(b);
    Tensor yd = out({c.M, c.N}), yr = Tensor::empty(DType::F32, {c.M, c.N});
    be->linear(dev(x), dw, c.bias ? &db : nullptr, yd);
    ref->linear(x, w, c.bias ? &b : nullptr, yr);
    EXPECT_LE(scaled_max_error(host(yd), yr),
              bound(kGemmTolerancePer64 * std::sqrt(double(c.K) / 64)));
  }
}

TEST_P(BackendConformance, NormKinds) {
  const uint64_t seed = base_seed() + 101;
  SCOPED_TRACE(::testing::Message() << "MOE_TEST_SEED=" << seed);
  Rand r(seed);
  const Tensor x = r.f32({33, 96}, 3.0f, true), w = r.bf16({96}, 1.0f), b = r.bf16({96}, 0.5f);
  const Tensor wf = r.f32({96}, 1.0f);
  using K = NormSpec::Kind;
  for (K kind : {K::kRmsCastThenScale, K::kRmsScaleThenCast, K::kLayerNorm})
    for (const Tensor* wt : {&w, &wf}) {
      SCOPED_TRACE(::testing::Message()
                   << "kind " << int(kind) << " weight " << dtype_name(wt->dtype()));
      const NormSpec spec{kind, 1e-5f};
      const Tensor* bias = kind == K::kLayerNorm ? (wt == &w ? &b : nullptr) : nullptr;
      const Tensor dw = dev(*wt), db = dev(b);
      Tensor yd = out({33, 96}), yr = Tensor::empty(DType::F32, {33, 96});
      be->norm(dev(x), dw, bias ? &db : nullptr, spec, yd);
      ref->norm(x, *wt, bias, spec, yr);
      EXPECT_LE(scaled_max_error(host(yd), yr), bound(kElementwiseTolerance));
    }
}

TEST_P(BackendConformance, RopeAddClampGlu) {
  const uint64_t seed = base_seed() + 102;
  SCOPED_TRACE(::testing::Message() << "MOE_TEST_SEED=" << seed);
  Rand r(seed);
  for (int D : {24, 64}) {
    SCOPED_TRACE(::testing::Message() << "head_dim " << D);
    RopeTable table;
    for (int i = 0; i < D / 2; ++i) table.inv_freq.push_back(std::pow(10000.0f, -2.0f * i / D));
    table.scale = 1.25f;
    std::vector<int32_t> pos;
    for (int t = 0; t < 33; ++t) pos.push_back(t * 37 % 5000);
    Tensor q = r.f32({33, 4, D}, 1.0f, true), qd = dev(q), qr = q.clone();
    be->rope(qd, pos, table);
    ref->rope(qr, pos, table);
    EXPECT_LE(scaled_max_error(host(qd), qr), bound(kElementwiseTolerance)) << "rope";
  }

  const Tensor x = r.f32({33, 40}, 3.0f, true), y = r.f32({33, 40}, 1.0f, true);
  Tensor ad = dev(x), ar = x.clone();
  be->add(dev(y), ad);
  ref->add(y, ar);
  EXPECT_LE(scaled_max_error(host(ad), ar), bound(kAddTolerance)) << "add";
  be->clamp(ad, 2.5f);
  ref->clamp(ar, 2.5f);
  EXPECT_LE(scaled_max_error(host(ad), ar), bound(kAddTolerance)) << "clamp";

  GluSpec swish;
  swish.kind = GluSpec::Kind::kClampedSwish;
  for (const GluSpec& spec : {GluSpec{}, swish}) {
    Tensor gd = out({33, 40}), gr = Tensor::empty(DType::F32, {33, 40});
    be->glu(dev(x), dev(y), spec, gd);
    ref->glu(x, y, spec, gr);
    EXPECT_LE(scaled_max_error(host(gd), gr), bound(kElementwiseTolerance))
        << "glu kind " << int(spec.kind);
  }
}

TEST_P(BackendConformance, EmbeddingAndGatherAreExact) {
  Rand r(base_seed() + 103);
  const Tensor table = r.bf16({50, 24});
  const std::vector<int32_t> ids{3, 0, 49, 3, 17};
  Tensor ed = out({5, 24}), er = Tensor::empty(DType::F32, {5, 24});
  be->embedding(dev(table), ids, ed);
  ref->embedding(table, ids, er);
  EXPECT_EQ(scaled_max_error(host(ed), er), 0.0);
  const std::vector<int32_t> rows{4, 4, 0, 2};
  Tensor gd = out({4, 24}), gr = Tensor::empty(DType::F32, {4, 24});
  be->gather_rows(ed, rows, gd);
  ref->gather_rows(er, rows, gr);
  EXPECT_EQ(scaled_max_error(host(gd), gr), 0.0);
}

// Several sequences with cached prefixes (a prefill of up to 140 rows, decode rows), GQA,
// sliding window and sinks, over the backend's own cache (`cache_dtype`) and the reference's
// f32 cache.
void attention_case(Backend& ref, Backend& be, Rand& r, DType cache_dtype, int D, int window,
                    bool sinks, double bound) {
  SCOPED_TRACE(::testing::Message() << "cache " << dtype_name(cache_dtype) << " head_dim " << D
                                    << " window " << window << " sinks " << sinks);
  const int nh = 8, nkv = 2;
  struct Seq {
    int cached, fresh;
  };
  const std::vector<Seq> seqs{{0, 7}, {20, 1}, {5, 30}, {140, 3}};
  KvCacheSpec spec;
  spec.num_layers = 1;
  spec.num_kv_heads = nkv;
  spec.head_dim = D;
  spec.max_seqs = 4;
  spec.max_tokens = 512;
  KvCache cref(ref, spec);
  spec.dtype = cache_dtype;
  KvCache cdev(be, spec);
  const Tensor sink_t = r.f32({nh}, 1.0f, true);
  const Tensor sink_d = be.prepare_weight(sink_t, WeightUse::kProduct);
  AttentionArgs args;
  args.scale = 1.0f / std::sqrt(float(D));
  args.sliding_window = window;
  for (int phase = 0; phase < 2; ++phase) {
    std::vector<AttentionSeq> as, ad;
    int32_t T = 0;
    for (size_t s = 0; s < seqs.size(); ++s) {
      const int n = phase == 0 ? seqs[s].cached : seqs[s].fresh;
      if (n == 0) continue;
      const int64_t len0 = cref.length(int(s));
      ASSERT_TRUE(cref.reserve(int(s), len0 + n) && cdev.reserve(int(s), len0 + n));
      as.push_back({T, n, len0 + n, cref.blocks(int(s)).data()});
      ad.push_back({T, n, len0 + n, cdev.blocks(int(s)).data()});
      T += n;
    }
    const Tensor k = r.f32({T, nkv, D}, 1.0f, true), v = r.f32({T, nkv, D}, 1.0f, true);
    ref.kv_store(k, v, as, cref.layer(0));
    be.kv_store(be.from_host(k), be.from_host(v), ad, cdev.layer(0));
    for (size_t s = 0; s < seqs.size(); ++s) {
      const int n = phase == 0 ? seqs[s].cached : seqs[s].fresh;
      cref.set_length(int(s), cref.length(int(s)) + n);
      cdev.set_length(int(s), cdev.length(int(s)) + n);
    }
    if (phase == 0) continue;
    const Tensor q = r.f32({T, nh, D}, 1.0f, true);
    Tensor od = be.alloc(DType::F32, {T, nh, D}), orf = Tensor::empty(DType::F32, {T, nh, D});
    args.sinks = sinks ? &sink_d : nullptr;
    be.attention(be.from_host(q), cdev.layer(0), ad, args, od);
    args.sinks = sinks ? &sink_t : nullptr;
    ref.attention(q, cref.layer(0), as, args, orf);
    EXPECT_LE(scaled_max_error(be.to_host(od), orf), bound);
  }
}

// Over an f32 cache and the cache a bf16 model gets on this backend (kv_dtype).
TEST_P(BackendConformance, AttentionOverPagedCache) {
  const uint64_t seed = base_seed() + 104;
  SCOPED_TRACE(::testing::Message() << "MOE_TEST_SEED=" << seed);
  Rand r(seed);
  std::vector<DType> caches{DType::F32};
  if (be->kv_dtype(DType::BF16) != DType::F32) caches.push_back(be->kv_dtype(DType::BF16));
  for (DType dt : caches)
    for (int D : {16, 24, 64, 128, 256})
      for (int window : {0, 16})
        for (bool sinks : {false, true})
          attention_case(*ref, *be, r, dt, D, window, sinks,
                         bound(dt == DType::F32 ? kF32Tolerance : kBf16Tolerance));
}

TEST_P(BackendConformance, RoutingKindsSelectTheSameExperts) {
  const uint64_t seed = base_seed() + 105;
  SCOPED_TRACE(::testing::Message() << "MOE_TEST_SEED=" << seed);
  Rand r(seed);
  using RK = io::RoutingKind;
  struct Case {
    RK kind;
    int E, k;
    bool renorm;
  };
  for (const Case c : {Case{RK::kSoftmaxTopK, 128, 8, true}, Case{RK::kSoftmaxTopK, 64, 8, false},
                       Case{RK::kTopKSoftmax, 32, 4, true}, Case{RK::kSparseMixer, 16, 2, false}}) {
    SCOPED_TRACE(::testing::Message() << "kind " << int(c.kind) << " E=" << c.E << " k=" << c.k);
    routing::RoutingSpec spec;
    spec.kind = c.kind;
    spec.num_experts = c.E;
    spec.top_k = c.k;
    spec.renormalize = c.renorm;
    const int64_t T = 57;
    const Tensor logits = r.f32({T, c.E}, 2.0f, true);
    Tensor ed = be->alloc(DType::I32, {T, c.k}), wd = out({T, c.k});
    Tensor er = Tensor::empty(DType::I32, {T, c.k}), wr = Tensor::empty(DType::F32, {T, c.k});
    be->route(dev(logits), spec, ed, wd);
    ref->route(logits, spec, er, wr);
    const Tensor eh = host(ed);
    for (int64_t i = 0; i < T * c.k; ++i)
      ASSERT_EQ(eh.data<int32_t>()[i], er.data<int32_t>()[i]) << "pair " << i;
    EXPECT_LE(scaled_max_error(host(wd), wr), bound(kRoutingWeightTolerance));
  }
}

ExpertWeights on_backend(Backend& be, ExpertWeights w) {
  for (auto* v : {&w.gate, &w.up, &w.gate_up, &w.down, &w.gate_up_scales, &w.down_scales,
                  &w.gate_up_bias, &w.down_bias})
    for (Tensor& t : *v) t = be.prepare_weight(t, WeightUse::kProduct);
  return w;
}

// Every layout and format the families use, from one token (decode: streaming and fused
// kernels) to 300 (prefill: blocked GEMMs, experts spread over threads). An MXFP4 model's
// activations are f32 or bf16 (ExpertWeights::activation): f32 ones must stay f32, so they are
// drawn with full f32 mantissas, which rounding them to bf16 (relative 2^-9) would put far
// outside kF32Tolerance.
TEST_P(BackendConformance, MoeExpertsInEveryLayoutAndFormat) {
  const uint64_t seed = base_seed() + 106;
  SCOPED_TRACE(::testing::Message() << "MOE_TEST_SEED=" << seed);
  Rand r(seed);
  using L = ExpertWeights::GateUp;
  using F = ExpertWeights::Format;
  struct Case {
    L layout;
    F format;
    DType dt, act;
    bool biases, swish;
  };
  const int E = 8, H = 64, I = 96, k = 3;
  for (const Case c :
       {Case{L::kSeparate, F::kFloat, DType::BF16, DType::BF16, false, false},
        Case{L::kSeparate, F::kFloat, DType::F32, DType::F32, false, false},
        Case{L::kFused, F::kFloat, DType::BF16, DType::BF16, false, false},
        Case{L::kInterleaved, F::kFloat, DType::F32, DType::F32, true, true},
        Case{L::kInterleaved, F::kFloatTransposed, DType::F32, DType::F32, true, true},
        Case{L::kInterleaved, F::kMxfp4, DType::U8, DType::F32, true, true},
        Case{L::kInterleaved, F::kMxfp4, DType::U8, DType::BF16, true, true},
        Case{L::kFused, F::kMxfp4, DType::U8, DType::F32, true, true},
        Case{L::kFused, F::kMxfp4, DType::U8, DType::BF16, true, true}}) {
    ExpertWeights w = random_experts(r, E, H, I, c.layout, c.format, c.dt, c.biases);
    w.activation = c.act;
    if (c.swish) w.glu.kind = GluSpec::Kind::kClampedSwish;
    const ExpertWeights wd = on_backend(*be, w);
    const bool bf16 = c.dt == DType::BF16 || c.act == DType::BF16;
    const double b = bound(bf16 ? kBf16Tolerance : kF32Tolerance);
    for (int64_t T : {1, 5, 40, 300}) {
      SCOPED_TRACE(::testing::Message()
                   << "T=" << T << " layout " << int(c.layout) << " format " << int(c.format) << " "
                   << dtype_name(c.dt) << " weights, " << dtype_name(c.act) << " activations");
      const Tensor x = r.f32({T, H}, 1.0f, bf16);
      Tensor ex = Tensor::empty(DType::I32, {T, k}), wt = Tensor::empty(DType::F32, {T, k});
      random_routing(r, E, k, ex, wt);
      Tensor od = out({T, H}), orf = Tensor::empty(DType::F32, {T, H});
      be->moe_experts(dev(x), be->from_host(ex), be->from_host(wt), wd, od);
      ref->moe_experts(x, ex, wt, w, orf);
      EXPECT_LE(scaled_max_error(host(od), orf), b);
    }
  }
}

// Token 0 adds rows 0 (expert 1), 3 (expert 5), 7 (expert 9) in that order, exactly as the
// reference does.
TEST_P(BackendConformance, CombineSumsInExpertOrderExactly) {
  Rand r(base_seed() + 107);
  const Tensor y = r.f32({12, 20}, 1.0f, true);
  const std::vector<int32_t> slot{3, 0, 7, 1, 11, 2, 5, 9, 4, 10, 6, 8};  // T = 4, k = 3
  const std::vector<int32_t> experts{5, 1, 9, 0, 2, 7, 3, 6, 4, 8, 2, 1};
  Tensor od = out({4, 20}), orf = Tensor::empty(DType::F32, {4, 20});
  be->combine(dev(y), slot, experts, 3, od);
  ref->combine(y, slot, experts, 3, orf);
  EXPECT_EQ(scaled_max_error(host(od), orf), 0.0);
  const float* yr = y.data<float>();
  for (int c = 0; c < 20; ++c)
    EXPECT_EQ(orf.data<float>()[c], (yr[0 * 20 + c] + yr[3 * 20 + c]) + yr[7 * 20 + c]);
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendConformance,
                         ::testing::Values(Target{"cpu", false}, Target{"cuda", false},
                                           Target{"cuda", true}),
                         [](const ::testing::TestParamInfo<Target>& i) {
                           return std::string(i.param.backend) +
                                  (i.param.bf16_rounding ? "_bf16_rounding" : "");
                         });

}  // namespace
}  // namespace moe
