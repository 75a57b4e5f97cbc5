// The CUDA backend against the reference backend, op by op, on the same random inputs, with and
// without the bf16 emulation (BackendOptions::bf16_rounding). Every test is skipped, saying why,
// where the machine has no usable GPU (the backend is then compiled but not run). Set
// MOE_TEST_SEED to replay a case. Inputs that a bf16 GEMM rounds are drawn bf16-representable.
// Error measure: scaled max error (op_test_util.h). Bounds without the emulation:
//   linear, f32 or bf16 weights (cuBLAS f32 accumulation vs double):  2e-6 * sqrt(K / 64)
//   norm, rope, add, glu (same formulas; expf vs std::exp):            1e-5
//   embedding, gather, clamp, combine (same operations):               exact
//   attention, f32 cache (f32 dots vs double):                         1e-5
//   attention, bf16 cache:                                             1e-2
//   routing: identical experts; weights                                1e-6
//   experts with f32 or MXFP4 weights (f32 GEMMs):                     1e-5
//   experts with bf16 weights (the down GEMM's input rounded to bf16): 1e-2
// With the emulation every activation is rounded to bf16 like the reference; a 1-ulp flip of a
// rounding (summation order) is 2^-8 relative, so the bounds become max(bound, 1e-2).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "runtime/backend/cpu/reference.h"
#include "runtime/backend/cuda/cuda_backend.h"
#include "runtime/backend/kv_cache.h"
#include "tests/unit/backend/op_test_util.h"

namespace moe {
namespace {

class CudaVsReference : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    std::string why;
    if (cuda_device_count(&why) == 0)
      GTEST_SKIP() << "no usable GPU here, so the CUDA backend is compiled but not run: " << why;
    BackendOptions o;
    o.bf16_rounding = GetParam();
    o.name = "cpu-ref";
    ref = std::make_unique<CpuReferenceBackend>(o);
    o.name = "cuda";
    cuda = make_backend(o);
  }
  double bound(double b) const { return GetParam() ? std::max(b, 1e-2) : b; }
  Tensor dev(const Tensor& t) { return cuda->prepare_weight(t); }
  Tensor host(const Tensor& t) { return cuda->to_host(t); }
  Tensor out(Shape s) { return cuda->alloc(DType::F32, std::move(s)); }

  std::unique_ptr<CpuReferenceBackend> ref;
  std::shared_ptr<Backend> cuda;
};

TEST_P(CudaVsReference, LinearBf16AndF32Weights) {
  const uint64_t seed = base_seed() + 100;
  SCOPED_TRACE(::testing::Message() << "MOE_TEST_SEED=" << seed);
  Rand r(seed);
  struct Case { int64_t M, K, N; bool bias, bf16; };
  for (const Case c : {Case{1, 64, 48, false, true}, Case{3, 100, 37, true, true},
                       Case{17, 2048, 96, false, true}, Case{64, 512, 128, true, true},
                       Case{9, 130, 70, false, false}, Case{33, 256, 65, true, false}}) {
    SCOPED_TRACE(::testing::Message() << "M=" << c.M << " K=" << c.K << " N=" << c.N
                                      << (c.bf16 ? " bf16" : " f32"));
    const Tensor x = r.f32({c.M, c.K}, 1.0f, true);
    const Tensor w = c.bf16 ? r.bf16({c.N, c.K}, 0.1f) : r.f32({c.N, c.K}, 0.1f);
    const Tensor b = r.bf16({c.N}, 0.1f);
    const Tensor dw = dev(w), db = dev(b);
    Tensor yd = out({c.M, c.N}), yr = Tensor::empty(DType::F32, {c.M, c.N});
    cuda->linear(dev(x), dw, c.bias ? &db : nullptr, yd);
    ref->linear(x, w, c.bias ? &b : nullptr, yr);
    EXPECT_LE(scaled_max_error(host(yd), yr), bound(2e-6 * std::sqrt(double(c.K) / 64)));
  }
}

TEST_P(CudaVsReference, NormKinds) {
  const uint64_t seed = base_seed() + 101;
  SCOPED_TRACE(::testing::Message() << "MOE_TEST_SEED=" << seed);
  Rand r(seed);
  const Tensor x = r.f32({33, 96}, 3.0f, true), w = r.bf16({96}, 1.0f), b = r.bf16({96}, 0.5f);
  const Tensor wf = r.f32({96}, 1.0f);
  using K = NormSpec::Kind;
  for (K kind : {K::kRmsCastThenScale, K::kRmsScaleThenCast, K::kLayerNorm})
    for (const Tensor* wt : {&w, &wf}) {
      SCOPED_TRACE(::testing::Message() << "kind " << int(kind) << " weight " << dtype_name(wt->dtype()));
      const NormSpec spec{kind, 1e-5f};
      const Tensor* bias = kind == K::kLayerNorm ? (wt == &w ? &b : nullptr) : nullptr;
      const Tensor dw = dev(*wt), db = dev(b);
      Tensor yd = out({33, 96}), yr = Tensor::empty(DType::F32, {33, 96});
      cuda->norm(dev(x), dw, bias ? &db : nullptr, spec, yd);
      ref->norm(x, *wt, bias, spec, yr);
      EXPECT_LE(scaled_max_error(host(yd), yr), bound(1e-5));
    }
}

TEST_P(CudaVsReference, RopeAddClampGlu) {
  const uint64_t seed = base_seed() + 102;
  SCOPED_TRACE(::testing::Message() << "MOE_TEST_SEED=" << seed);
  Rand r(seed);
  RopeTable table;
  for (int i = 0; i < 32; ++i) table.inv_freq.push_back(std::pow(10000.0f, -2.0f * i / 64));
  table.scale = 1.25f;
  std::vector<int32_t> pos;
  for (int t = 0; t < 33; ++t) pos.push_back(t * 37 % 5000);
  Tensor q = r.f32({33, 4, 64}, 1.0f, true), qd = dev(q), qr = q.clone();
  cuda->rope(qd, pos, table);
  ref->rope(qr, pos, table);
  EXPECT_LE(scaled_max_error(host(qd), qr), bound(1e-5)) << "rope";

  const Tensor x = r.f32({33, 40}, 3.0f, true), y = r.f32({33, 40}, 1.0f, true);
  Tensor ad = dev(x), ar = x.clone();
  cuda->add(dev(y), ad);
  ref->add(y, ar);
  EXPECT_LE(scaled_max_error(host(ad), ar), bound(1e-6)) << "add";
  cuda->clamp(ad, 2.5f);
  ref->clamp(ar, 2.5f);
  EXPECT_LE(scaled_max_error(host(ad), ar), bound(1e-6)) << "clamp";

  GluSpec swish;
  swish.kind = GluSpec::Kind::kClampedSwish;
  for (const GluSpec& spec : {GluSpec{}, swish}) {
    Tensor gd = out({33, 40}), gr = Tensor::empty(DType::F32, {33, 40});
    cuda->glu(dev(x), dev(y), spec, gd);
    ref->glu(x, y, spec, gr);
    EXPECT_LE(scaled_max_error(host(gd), gr), bound(1e-5)) << "glu kind " << int(spec.kind);
  }
}

TEST_P(CudaVsReference, EmbeddingAndGatherAreExact) {
  Rand r(base_seed() + 103);
  const Tensor table = r.bf16({50, 24});
  const std::vector<int32_t> ids{3, 0, 49, 3, 17};
  Tensor ed = out({5, 24}), er = Tensor::empty(DType::F32, {5, 24});
  cuda->embedding(dev(table), ids, ed);
  ref->embedding(table, ids, er);
  EXPECT_EQ(scaled_max_error(host(ed), er), 0.0);
  const std::vector<int32_t> rows{4, 4, 0, 2};
  Tensor gd = out({4, 24}), gr = Tensor::empty(DType::F32, {4, 24});
  cuda->gather_rows(ed, rows, gd);
  ref->gather_rows(er, rows, gr);
  EXPECT_EQ(scaled_max_error(host(gd), gr), 0.0);
}

// Several sequences with cached prefixes, GQA, sliding window and sinks, over the CUDA
// backend's own cache (f32 or bf16) and the reference's f32 cache.
void attention_case(Backend& ref, Backend& cuda, Rand& r, DType cache_dtype, int D, int window,
                    bool sinks, double bound) {
  SCOPED_TRACE(::testing::Message() << "cache " << dtype_name(cache_dtype) << " head_dim " << D
                                    << " window " << window << " sinks " << sinks);
  const int nh = 8, nkv = 2;
  struct Seq { int cached, fresh; };
  const std::vector<Seq> seqs{{0, 7}, {20, 1}, {5, 30}, {140, 3}};
  KvCacheSpec spec;
  spec.num_layers = 1;
  spec.num_kv_heads = nkv;
  spec.head_dim = D;
  spec.max_seqs = 4;
  spec.max_tokens = 512;
  KvCache cref(ref, spec);
  spec.dtype = cache_dtype;
  KvCache cdev(cuda, spec);
  const Tensor sink_t = r.f32({nh}, 1.0f, true);
  const Tensor sink_d = cuda.prepare_weight(sink_t);
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
    cuda.kv_store(cuda.from_host(k), cuda.from_host(v), ad, cdev.layer(0));
    for (size_t s = 0; s < seqs.size(); ++s) {
      const int n = phase == 0 ? seqs[s].cached : seqs[s].fresh;
      cref.set_length(int(s), cref.length(int(s)) + n);
      cdev.set_length(int(s), cdev.length(int(s)) + n);
    }
    if (phase == 0) continue;
    const Tensor q = r.f32({T, nh, D}, 1.0f, true);
    Tensor od = cuda.alloc(DType::F32, {T, nh, D}), orf = Tensor::empty(DType::F32, {T, nh, D});
    args.sinks = sinks ? &sink_d : nullptr;
    cuda.attention(cuda.from_host(q), cdev.layer(0), ad, args, od);
    args.sinks = sinks ? &sink_t : nullptr;
    ref.attention(q, cref.layer(0), as, args, orf);
    EXPECT_LE(scaled_max_error(cuda.to_host(od), orf), bound);
  }
}

TEST_P(CudaVsReference, AttentionOverPagedCache) {
  const uint64_t seed = base_seed() + 104;
  SCOPED_TRACE(::testing::Message() << "MOE_TEST_SEED=" << seed);
  Rand r(seed);
  for (DType dt : {DType::F32, DType::BF16})
    for (int D : {64, 128, 256})
      for (int window : {0, 16})
        for (bool sinks : {false, true})
          attention_case(*ref, *cuda, r, dt, D, window, sinks,
                         bound(dt == DType::F32 ? 1e-5 : 1e-2));
}

TEST_P(CudaVsReference, RoutingKindsSelectTheSameExperts) {
  const uint64_t seed = base_seed() + 105;
  SCOPED_TRACE(::testing::Message() << "MOE_TEST_SEED=" << seed);
  Rand r(seed);
  using RK = io::RoutingKind;
  struct Case { RK kind; int E, k; bool renorm; };
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
    Tensor ed = cuda->alloc(DType::I32, {T, c.k}), wd = out({T, c.k});
    Tensor er = Tensor::empty(DType::I32, {T, c.k}), wr = Tensor::empty(DType::F32, {T, c.k});
    cuda->route(dev(logits), spec, ed, wd);
    ref->route(logits, spec, er, wr);
    const Tensor eh = host(ed);
    for (int64_t i = 0; i < T * c.k; ++i)
      ASSERT_EQ(eh.data<int32_t>()[i], er.data<int32_t>()[i]) << "pair " << i;
    EXPECT_LE(scaled_max_error(host(wd), wr), bound(1e-6));
  }
}

ExpertWeights on_device(Backend& be, ExpertWeights w) {
  for (auto* v : {&w.gate, &w.up, &w.gate_up, &w.down, &w.gate_up_scales, &w.down_scales,
                  &w.gate_up_bias, &w.down_bias})
    for (Tensor& t : *v) t = be.prepare_weight(t);
  return w;
}

TEST_P(CudaVsReference, MoeExpertsInEveryLayoutAndFormat) {
  const uint64_t seed = base_seed() + 106;
  SCOPED_TRACE(::testing::Message() << "MOE_TEST_SEED=" << seed);
  Rand r(seed);
  using L = ExpertWeights::GateUp;
  using F = ExpertWeights::Format;
  struct Case { L layout; F format; DType dt; bool biases, swish; };
  const int E = 8, H = 64, I = 32, k = 3;
  for (const Case c : {Case{L::kSeparate, F::kFloat, DType::BF16, false, false},
                       Case{L::kSeparate, F::kFloat, DType::F32, false, false},
                       Case{L::kFused, F::kFloat, DType::BF16, false, false},
                       Case{L::kInterleaved, F::kFloat, DType::F32, true, true},
                       Case{L::kInterleaved, F::kFloatTransposed, DType::F32, true, true},
                       Case{L::kInterleaved, F::kMxfp4, DType::U8, true, true}}) {
    ExpertWeights w = random_experts(r, E, H, I, c.layout, c.format, c.dt, c.biases);
    if (c.swish) w.glu.kind = GluSpec::Kind::kClampedSwish;
    const ExpertWeights wd = on_device(*cuda, w);
    const double b = bound(c.dt == DType::BF16 ? 1e-2 : 1e-5);
    for (int64_t T : {1, 5, 40}) {
      SCOPED_TRACE(::testing::Message() << "T=" << T << " layout " << int(c.layout) << " format "
                                        << int(c.format) << " " << dtype_name(c.dt));
      const Tensor x = r.f32({T, H}, 1.0f, true);
      Tensor ex = Tensor::empty(DType::I32, {T, k}), wt = Tensor::empty(DType::F32, {T, k});
      for (int64_t t = 0; t < T; ++t) {
        std::vector<int> ids{0, 1, 2, 3, 4, 5, 6, 7};
        std::shuffle(ids.begin(), ids.end(), r.g);
        for (int j = 0; j < k; ++j) {
          ex.data<int32_t>()[t * k + j] = ids[size_t(j)];
          wt.data<float>()[t * k + j] = round_bf16(0.2f + 0.1f * float(j));
        }
      }
      Tensor od = out({T, H}), orf = Tensor::empty(DType::F32, {T, H});
      cuda->moe_experts(dev(x), cuda->from_host(ex), cuda->from_host(wt), wd, od);
      ref->moe_experts(x, ex, wt, w, orf);
      EXPECT_LE(scaled_max_error(host(od), orf), b);
    }
  }
}

TEST_P(CudaVsReference, CombineIsExact) {
  Rand r(base_seed() + 107);
  const Tensor y = r.f32({12, 20}, 1.0f, true);
  const std::vector<int32_t> slot{3, 0, 7, 1, 11, 2, 5, 9, 4, 10, 6, 8};  // T = 4, k = 3
  const std::vector<int32_t> experts{5, 1, 9, 0, 2, 7, 3, 6, 4, 8, 2, 1};
  Tensor od = out({4, 20}), orf = Tensor::empty(DType::F32, {4, 20});
  cuda->combine(dev(y), slot, experts, 3, od);
  ref->combine(y, slot, experts, 3, orf);
  EXPECT_EQ(scaled_max_error(host(od), orf), 0.0);
}

INSTANTIATE_TEST_SUITE_P(Bf16Emulation, CudaVsReference, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return std::string(i.param ? "bf16_rounding" : "f32_activations");
                         });

}  // namespace
}  // namespace moe
