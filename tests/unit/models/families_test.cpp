// gpt_oss and phimoe on the reference backend, on tiny in-memory models (tiny_families.h):
// the MXFP4 expert path against a hand computation from runtime/models/README.md section 3, the
// sliding-window KV cache (bounded, and equal to a full recompute), what the router hooks see,
// LongRoPE's two modes, and the step invariants (batching, chunking, incremental decoding).
// Parity with transformers itself is checked on the golden fixtures (tests/unit/golden).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/core/error.h"
#include "tests/unit/models/tiny_families.h"

namespace moe {
namespace {

using testing::TinyFamilySpec;

std::shared_ptr<Model> gpt_oss(const TinyFamilySpec& s = {}) {
  ModelLoadOptions o;
  o.backend.name = "cpu-ref";
  return build_model(testing::tiny_gpt_oss_config(s), testing::tiny_gpt_oss_weights(s), o);
}

std::shared_ptr<Model> phimoe(ModelLoadOptions::LongRope mode, const TinyFamilySpec& s = {}) {
  ModelLoadOptions o;
  o.backend.name = "cpu-ref";
  o.longrope = mode;
  return build_model(testing::tiny_phimoe_config(s), testing::tiny_phimoe_weights(s), o);
}

std::vector<int32_t> prompt(int n, int seed) { return testing::tiny_prompt(n, seed, 96); }

// Logits of each step when `ids` is fed in `chunks` through `cache` (slot 0), concatenated.
std::vector<float> fed_in_chunks(Model& m, KvCache& cache, const std::vector<int32_t>& ids,
                                 const std::vector<int>& chunks) {
  std::vector<float> out;
  size_t fed = 0;
  for (int c : chunks) {
    ForwardBatch b;
    b.add(0, std::span<const int32_t>(ids.data() + fed, size_t(c)), 0, true,
          ForwardBatch::Logits::kAll);
    Tensor l;
    m.forward(b, cache, {}, &l);
    out.insert(out.end(), l.data<float>(), l.data<float>() + l.numel());
    fed += size_t(c);
  }
  return out;
}

// ---- gpt_oss ------------------------------------------------------------------------------

// Output of one gpt_oss expert for one token, in double, straight from runtime/models/README.md
// section 3 with an independent nibble decoder: h = W_gu x + b_gu; g = min(h[2i], L);
// u = clamp(h[2i+1], -L, L); a = (u + 1) g sigmoid(1.702 g); y = W_d a + b_d. `clamped` counts
// values the limit changed.
std::vector<double> hand_expert(const MapWeights& w, const std::string& p, int e, int64_t H,
                                int64_t I, const float* x, int* clamped) {
  const float lut[16] = {0, .5, 1, 1.5, 2, 3, 4, 6, -0.0f, -.5, -1, -1.5, -2, -3, -4, -6};
  auto weight = [&](const std::string& name, int64_t rows, int64_t cols, int64_t r, int64_t c) {
    const uint8_t* b = w.tensors().at(name + "_blocks").data<uint8_t>();
    const uint8_t* s = w.tensors().at(name + "_scales").data<uint8_t>();
    const int64_t nb = cols / 32, row = e * rows + r;
    const uint8_t byte = b[(row * nb + c / 32) * 16 + (c % 32) / 2];
    const int nib = c % 2 == 0 ? (byte & 15) : (byte >> 4);
    return double(lut[nib]) * std::pow(2.0, int(s[row * nb + c / 32]) - 127);
  };
  auto bias = [&](const std::string& name, int64_t n, int64_t i) {
    return double(w.tensors().at(name).data<float>()[e * n + i]);
  };
  std::vector<double> a(static_cast<size_t>(I)), y(static_cast<size_t>(H));
  for (int64_t i = 0; i < I; ++i) {
    double g = bias(p + "gate_up_proj_bias", 2 * I, 2 * i);
    double u = bias(p + "gate_up_proj_bias", 2 * I, 2 * i + 1);
    for (int64_t c = 0; c < H; ++c) {
      g += weight(p + "gate_up_proj", 2 * I, H, 2 * i, c) * x[c];
      u += weight(p + "gate_up_proj", 2 * I, H, 2 * i + 1, c) * x[c];
    }
    *clamped += (g > 7.0) + (std::fabs(u) > 7.0);
    g = std::min(g, 7.0);
    u = std::clamp(u, -7.0, 7.0);
    a[size_t(i)] = (u + 1) * g / (1 + std::exp(-1.702 * g));
  }
  for (int64_t r = 0; r < H; ++r) {
    y[size_t(r)] = bias(p + "down_proj_bias", H, r);
    for (int64_t i = 0; i < I; ++i) y[size_t(r)] += weight(p + "down_proj", H, I, r, i) * a[size_t(i)];
  }
  return y;
}

TEST(GptOss, Mxfp4ExpertsMatchAHandComputationFromThePublishedLayout) {
  const TinyFamilySpec s;
  const MapWeights w = testing::tiny_gpt_oss_weights(s);
  ModelLoadOptions o;
  o.backend.name = "cpu-ref";
  auto m = build_model(testing::tiny_gpt_oss_config(s), w, o);
  const ExpertWeights& ex = m->experts(0);
  ASSERT_EQ(ex.format, ExpertWeights::Format::kMxfp4);
  // Zero-copy: expert 3's gate_up is a view into the stacked U8 blocks, not a decoded copy.
  ASSERT_EQ(ex.gate_up[3].dtype(), DType::U8);
  EXPECT_EQ(ex.gate_up[3].raw(),
            w.tensors().at("model.layers.0.mlp.experts.gate_up_proj_blocks").data<uint8_t>() +
                3 * 2 * s.moe_inter * (s.hidden / 32) * 16);
  // Eight tokens, each routed to experts {5, 1} with weights {0.75, 0.25}.
  const int64_t T = 8, H = s.hidden, I = s.moe_inter;
  std::mt19937_64 rng(3);
  Tensor x = testing::tiny_tensor(rng, DType::F32, {T, H}, 0.0f, 2.0f);
  Tensor sel = Tensor::empty(DType::I32, {T, 2}), wt = Tensor::empty(DType::F32, {T, 2});
  for (int t = 0; t < T; ++t) {
    sel.data<int32_t>()[2 * t] = 5;
    sel.data<int32_t>()[2 * t + 1] = 1;
    wt.data<float>()[2 * t] = 0.75f;
    wt.data<float>()[2 * t + 1] = 0.25f;
  }
  Tensor out = Tensor::empty(DType::F32, {T, H});
  m->backend().moe_experts(x, sel, wt, ex, out);
  int clamped = 0;
  const std::string p = "model.layers.0.mlp.experts.";
  for (int t = 0; t < T; ++t) {
    const auto y5 = hand_expert(w, p, 5, H, I, x.data<float>() + t * H, &clamped);
    const auto y1 = hand_expert(w, p, 1, H, I, x.data<float>() + t * H, &clamped);
    for (int64_t c = 0; c < H; ++c) {
      const double want = 0.75 * y5[size_t(c)] + 0.25 * y1[size_t(c)];
      ASSERT_NEAR(out.data<float>()[t * H + c], want, 1e-5 * (1 + std::fabs(want)))
          << "token " << t << " unit " << c;
    }
  }
  EXPECT_GT(clamped, 0) << "no gate/up value reached the swiglu limit: the case is not sharp";
}

TEST(GptOss, RouterHookSeesTheLogitsWithTheRouterBias) {
  // With a zero router matrix the logits are exactly the bias, for every token.
  TinyFamilySpec s;
  const io::ModelConfig c = testing::tiny_gpt_oss_config(s);
  MapWeights w = testing::tiny_gpt_oss_weights(s);
  w.put("model.layers.1.mlp.router.weight", Tensor::zeros(DType::F32, {s.experts, s.hidden}));
  ModelLoadOptions o;
  o.backend.name = "cpu-ref";
  auto m = build_model(c, w, o);
  struct Record : RouterHook {
    std::vector<std::vector<float>> logits;  // [moe layer][T * E]
    std::vector<std::vector<int32_t>> experts;
    void on_routed(const RouterContext& ctx, const Tensor& l, const Tensor& e, const Tensor&) override {
      logits.emplace_back(l.data<float>(), l.data<float>() + l.numel());
      experts.emplace_back(e.data<int32_t>(), e.data<int32_t>() + e.numel());
    }
  } rec;
  RouterHook* hooks[] = {&rec};
  auto cache = m->make_cache(1, 32);
  ForwardBatch b;
  b.add(0, prompt(5, 2), 0, true, ForwardBatch::Logits::kLast);
  m->forward(b, *cache, hooks, nullptr);
  ASSERT_EQ(rec.logits.size(), 2u);
  const float* bias = w.tensors().at("model.layers.1.mlp.router.bias").data<float>();
  std::vector<int32_t> top(size_t(s.top_k));
  routing::topk_indices(bias, s.experts, s.top_k, top.data());
  for (int t = 0; t < 5; ++t) {
    for (int e = 0; e < s.experts; ++e)
      EXPECT_EQ(rec.logits[1][size_t(t * s.experts + e)], bias[e]) << "token " << t;
    for (int j = 0; j < s.top_k; ++j)
      EXPECT_EQ(rec.experts[1][size_t(t * s.top_k + j)], top[size_t(j)]);
  }
}

TEST(GptOss, SlidingWindowCacheStaysBoundedAndMatchesAFullRecompute) {
  // Window 4 on layer 0, block size 2: after every step layer 0's group holds at most
  // ceil((4 - 1) / 2) + 1 = 3 blocks, while the full-attention layer keeps every position.
  auto m = gpt_oss();
  const std::vector<int32_t> ids = prompt(40, 9);
  const Tensor full = testing::all_logits(*m, ids);
  KvCacheSpec spec = m->kv_spec();
  spec.block_size = 2;
  spec.max_seqs = 1;
  spec.max_tokens = 64;
  KvCache cache(m->backend(), spec);
  ASSERT_EQ(cache.num_groups(), 2);
  ASSERT_EQ(cache.layer_group(0), 1);
  ASSERT_EQ(cache.layer_group(1), 0);
  ASSERT_EQ(cache.group_window(1), 4);
  std::vector<int> chunks{7, 5};  // two prompt chunks longer than the window, then decoding
  chunks.resize(chunks.size() + 28, 1);
  size_t fed = 0;
  for (int chunk : chunks) {
    const std::vector<float> got = fed_in_chunks(
        *m, cache, std::vector<int32_t>(ids.begin() + long(fed), ids.begin() + long(fed) + chunk), {chunk});
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_EQ(got[i], full.data<float>()[fed * 96 + i]) << "position " << fed + i / 96;
    fed += size_t(chunk);
    EXPECT_LE(cache.blocks_in_use(1), 3) << "after " << fed << " tokens";
    EXPECT_EQ(cache.blocks_in_use(0), int64_t(fed + 1) / 2) << "after " << fed << " tokens";
    const auto table = cache.blocks(0, 1);
    const int64_t live = std::count_if(table.begin(), table.end(), [](int32_t b) { return b >= 0; });
    EXPECT_EQ(live, cache.blocks_in_use(1));
  }
  EXPECT_EQ(cache.length(0), 40);
  cache.release(0);
  EXPECT_EQ(cache.blocks_in_use(0), 0);
  EXPECT_EQ(cache.blocks_in_use(1), 0);
}

TEST(GptOss, BatchedSequencesOfDifferentLengthsEqualEachAlone) {
  auto m = gpt_oss();
  const std::vector<std::vector<int32_t>> seqs{prompt(3, 1), prompt(13, 2), prompt(9, 3)};
  auto cache = m->make_cache(3, 64);
  ForwardBatch b;
  for (int i = 0; i < 3; ++i) b.add(i, seqs[size_t(i)], uint64_t(i), true, ForwardBatch::Logits::kAll);
  Tensor batched;
  m->forward(b, *cache, {}, &batched);
  int64_t row = 0;
  for (const auto& ids : seqs) {
    const Tensor alone = testing::all_logits(*m, ids);
    for (int64_t i = 0; i < alone.numel(); ++i)
      ASSERT_EQ(batched.data<float>()[row * 96 + i], alone.data<float>()[i]);
    row += int64_t(ids.size());
  }
}

// transformers' dequantised layout: float [E, in, out] per matrix, decoded from the MXFP4 blocks.
Tensor dequantised_transposed(const MapWeights& w, const std::string& name, int64_t E, int64_t rows,
                              int64_t cols) {
  const Tensor& b = w.tensors().at(name + "_blocks");
  const Tensor& s = w.tensors().at(name + "_scales");
  Tensor out = Tensor::empty(DType::F32, {E, cols, rows});
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t e = 0; e < E; ++e)
    for (int64_t r = 0; r < rows; ++r) {
      decode_mxfp4(b.data<uint8_t>() + (e * rows + r) * cols / 2,
                   s.data<uint8_t>() + (e * rows + r) * cols / 32, cols, row.data());
      for (int64_t c = 0; c < cols; ++c) out.data<float>()[(e * cols + c) * rows + r] = row[size_t(c)];
    }
  return out;
}

TEST(GptOss, DequantisedTransposedExpertsGiveTheSameLogitsAsMxfp4) {
  const TinyFamilySpec s;
  const MapWeights w = testing::tiny_gpt_oss_weights(s);
  MapWeights deq;
  for (const auto& [name, t] : w.tensors())
    if (name.find("_blocks") == std::string::npos && name.find("_scales") == std::string::npos)
      deq.put(name, t);
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.mlp.experts.", l);
    deq.put(p + "gate_up_proj",
            dequantised_transposed(w, p + "gate_up_proj", s.experts, 2 * s.moe_inter, s.hidden));
    deq.put(p + "down_proj", dequantised_transposed(w, p + "down_proj", s.experts, s.hidden, s.moe_inter));
  }
  ModelLoadOptions o;
  o.backend.name = "cpu-ref";
  auto a = build_model(testing::tiny_gpt_oss_config(s), w, o);
  auto b = build_model(testing::tiny_gpt_oss_config(s), deq, o);
  EXPECT_EQ(b->experts(0).format, ExpertWeights::Format::kFloatTransposed);
  const auto ids = prompt(11, 6);
  const Tensor la = testing::all_logits(*a, ids), lb = testing::all_logits(*b, ids);
  for (int64_t i = 0; i < la.numel(); ++i) ASSERT_EQ(la.data<float>()[i], lb.data<float>()[i]) << i;
}

TEST(GptOss, FloatExpertTensorsAreRejectedWithTheTensorName) {
  TinyFamilySpec s;
  MapWeights w = testing::tiny_gpt_oss_weights(s);
  MapWeights bad;
  for (const auto& [name, t] : w.tensors())
    if (name.find("gate_up_proj_blocks") == std::string::npos) bad.put(name, t);
  ModelLoadOptions o;
  o.backend.name = "cpu-ref";
  try {
    build_model(testing::tiny_gpt_oss_config(s), bad, o);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.0.mlp.experts.gate_up_proj_blocks"),
              std::string::npos)
        << e.what();
  }
  MapWeights wrong = w;
  wrong.put("model.layers.1.mlp.experts.down_proj_scales",
            Tensor::zeros(DType::F32, {s.experts, s.hidden, s.moe_inter / 32}));
  try {
    build_model(testing::tiny_gpt_oss_config(s), wrong, o);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("model.layers.1.mlp.experts.down_proj_scales"), std::string::npos) << msg;
    EXPECT_NE(msg.find("expected dtype U8"), std::string::npos) << msg;
  }
}

// ---- phimoe -------------------------------------------------------------------------------

TEST(Phimoe, LongRopeModesAgreeUpToTheOriginalLengthAndDifferBeyond) {
  auto ref = phimoe(ModelLoadOptions::LongRope::kReference);
  auto tf = phimoe(ModelLoadOptions::LongRope::kTransformers);
  EXPECT_EQ(ref->description(), "longrope=reference");
  EXPECT_EQ(tf->description(), "longrope=transformers");
  for (int n : {1, 5, 8}) {  // original_max_position_embeddings = 8
    const Tensor a = testing::all_logits(*ref, prompt(n, n)), b = testing::all_logits(*tf, prompt(n, n));
    for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a.data<float>()[i], b.data<float>()[i]) << n;
  }
  const Tensor a = testing::all_logits(*ref, prompt(12, 4)), b = testing::all_logits(*tf, prompt(12, 4));
  double diff = 0;
  for (int64_t i = 0; i < a.numel(); ++i)
    diff = std::max(diff, double(std::fabs(a.data<float>()[i] - b.data<float>()[i])));
  EXPECT_GT(diff, 1e-3) << "long factors made no difference beyond the original length";
}

TEST(Phimoe, LongRopeIsChosenPerSequenceInsideABatch) {
  // A 5-token and a 12-token prompt in one step: each gets the table of its own length.
  for (auto mode : {ModelLoadOptions::LongRope::kReference, ModelLoadOptions::LongRope::kTransformers}) {
    auto m = phimoe(mode);
    const std::vector<std::vector<int32_t>> seqs{prompt(5, 1), prompt(12, 2)};
    auto cache = m->make_cache(2, 64);
    ForwardBatch b;
    for (int i = 0; i < 2; ++i) b.add(i, seqs[size_t(i)], uint64_t(i), true, ForwardBatch::Logits::kAll);
    Tensor batched;
    m->forward(b, *cache, {}, &batched);
    int64_t row = 0;
    for (const auto& ids : seqs) {
      const Tensor alone = testing::all_logits(*m, ids);
      for (int64_t i = 0; i < alone.numel(); ++i)
        ASSERT_EQ(batched.data<float>()[row * 96 + i], alone.data<float>()[i]) << m->description();
      row += int64_t(ids.size());
    }
  }
}

TEST(Phimoe, CachedKeysKeepTheirRotationWhenASequenceCrossesTheOriginalLength) {
  // Prefilling 6 tokens then decoding to 11 equals one pass over the first 8 tokens while the
  // sequence is short; once it is longer than 8, the new token's q/k use the long table but
  // cached keys keep the short one, so step logits differ from one uncached pass over all 11
  // (which rotates everything with the long table), as in transformers and vLLM.
  auto m = phimoe(ModelLoadOptions::LongRope::kReference);
  const std::vector<int32_t> ids = prompt(11, 5);
  const Tensor full = testing::all_logits(*m, ids);
  const Tensor short8 = testing::all_logits(*m, std::vector<int32_t>(ids.begin(), ids.begin() + 8));
  auto cache = m->make_cache(1, 32);
  const std::vector<float> got = fed_in_chunks(*m, *cache, ids, {6, 1, 1, 1, 1, 1});
  for (size_t i = 0; i < 8 * 96; ++i)
    ASSERT_EQ(got[i], short8.data<float>()[i]) << "position " << i / 96;
  double diff = 0;
  for (size_t i = 8 * 96; i < got.size(); ++i)
    diff = std::max(diff, double(std::fabs(got[i] - full.data<float>()[i])));
  EXPECT_GT(diff, 1e-4);
}

TEST(Phimoe, RouterHookSeesRawGateLogitsAndSparsemixerRoutesThem) {
  // A zero gate matrix gives all-zero logits: the sparsemixer keeps every expert (0/0 gaps do not
  // mask), picks experts 0 then 1 with weights 1/E and 1/(E-1).
  TinyFamilySpec s;
  MapWeights w = testing::tiny_phimoe_weights(s);
  w.put("model.layers.0.block_sparse_moe.gate.weight", Tensor::zeros(DType::F32, {s.experts, s.hidden}));
  ModelLoadOptions o;
  o.backend.name = "cpu-ref";
  auto m = build_model(testing::tiny_phimoe_config(s), w, o);
  struct Record : RouterHook {
    std::vector<float> logits, weights;
    std::vector<int32_t> experts;
    void on_routed(const RouterContext& ctx, const Tensor& l, const Tensor& e, const Tensor& wt) override {
      if (ctx.moe_layer != 0) return;
      logits.assign(l.data<float>(), l.data<float>() + l.numel());
      experts.assign(e.data<int32_t>(), e.data<int32_t>() + e.numel());
      weights.assign(wt.data<float>(), wt.data<float>() + wt.numel());
    }
  } rec;
  RouterHook* hooks[] = {&rec};
  auto cache = m->make_cache(1, 32);
  ForwardBatch b;
  b.add(0, prompt(4, 1), 0, true, ForwardBatch::Logits::kLast);
  m->forward(b, *cache, hooks, nullptr);
  ASSERT_EQ(rec.logits.size(), size_t(4 * s.experts));
  for (float v : rec.logits) EXPECT_EQ(v, 0.0f);
  for (int t = 0; t < 4; ++t) {
    EXPECT_EQ(rec.experts[size_t(2 * t)], 0);
    EXPECT_EQ(rec.experts[size_t(2 * t + 1)], 1);
    EXPECT_FLOAT_EQ(rec.weights[size_t(2 * t)], 1.0f / float(s.experts));
    EXPECT_FLOAT_EQ(rec.weights[size_t(2 * t + 1)], 1.0f / float(s.experts - 1));
  }
}

}  // namespace
}  // namespace moe
