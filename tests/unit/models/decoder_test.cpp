// The decoder (qwen3_moe, olmoe) on the reference backend against a naive, independent
// implementation (naive_model.h), and the step invariants the engine relies on: results do not
// depend on how sequences are batched, chunked or decoded incrementally through the KV cache.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "runtime/models/model.h"
#include "tests/unit/models/naive_model.h"
#include "tests/unit/models/tiny_model.h"

namespace moe {
namespace {

using testing::NaiveModel;
using testing::TinySpec;

using testing::tiny_model;

std::vector<int32_t> prompt(int n, int seed, int vocab) { return testing::tiny_prompt(n, seed, vocab); }
Tensor run_all(Model& m, const std::vector<int32_t>& ids) { return testing::all_logits(m, ids); }

class DecoderVsNaive : public ::testing::TestWithParam<io::Family> {};

TEST_P(DecoderVsNaive, LogitsAndRoutingMatchTheNaiveModel) {
  TinySpec s;
  s.family = GetParam();
  auto m = tiny_model(s);
  const auto weights = testing::tiny_weights(s);
  const auto config = testing::tiny_config(s);
  const std::vector<int32_t> ids = prompt(13, 3, s.vocab);

  // Record routing through a hook.
  struct Rec : RouterHook {
    std::vector<std::vector<int32_t>> experts;
    void on_routed(const RouterContext& ctx, const Tensor&, const Tensor& e, const Tensor&) override {
      experts.emplace_back(e.data<int32_t>(), e.data<int32_t>() + e.numel());
    }
  } rec;
  RouterHook* hooks[] = {&rec};
  auto cache = m->make_cache(1, 64);
  ForwardBatch b;
  b.add(0, ids, 0, true, ForwardBatch::Logits::kAll);
  Tensor logits;
  m->forward(b, *cache, hooks, &logits);

  const testing::NaiveOutput ref = NaiveModel(config, weights).run(ids);
  ASSERT_EQ(rec.experts.size(), ref.experts.size());
  for (size_t l = 0; l < ref.experts.size(); ++l)
    for (size_t t = 0; t < ids.size(); ++t)
      for (int j = 0; j < s.top_k; ++j)
        EXPECT_EQ(rec.experts[l][t * size_t(s.top_k) + size_t(j)], ref.experts[l][t][size_t(j)])
            << "moe layer " << l << " token " << t << " slot " << j;
  // f32 activations vs double: |diff| <= 1e-4 on logits of magnitude ~1.
  for (size_t t = 0; t < ids.size(); ++t)
    for (int v = 0; v < s.vocab; ++v)
      EXPECT_NEAR(logits.data<float>()[int64_t(t) * s.vocab + v], ref.logits[t][size_t(v)], 1e-4)
          << "token " << t << " vocab " << v;
}

INSTANTIATE_TEST_SUITE_P(Families, DecoderVsNaive,
                         ::testing::Values(io::Family::kQwen3Moe, io::Family::kOlmoe),
                         [](const auto& info) {
                           return info.param == io::Family::kOlmoe ? "olmoe" : "qwen3_moe";
                         });

TEST(Decoder, BatchedVariableLengthPrefillEqualsEachSequenceAlone) {
  auto m = tiny_model(TinySpec{});
  const std::vector<std::vector<int32_t>> seqs{prompt(5, 1, 96), prompt(11, 2, 96),
                                               prompt(1, 3, 96)};
  auto cache = m->make_cache(3, 256);
  ForwardBatch b;
  for (int s = 0; s < 3; ++s) b.add(s, seqs[size_t(s)], 0, true, ForwardBatch::Logits::kAll);
  Tensor batched;
  m->forward(b, *cache, {}, &batched);
  int64_t row = 0;
  for (const auto& ids : seqs) {
    const Tensor alone = run_all(*m, ids);
    for (int64_t i = 0; i < alone.numel(); ++i)
      ASSERT_EQ(batched.data<float>()[row * 96 + i], alone.data<float>()[i]) << "element " << i;
    row += int64_t(ids.size());
  }
}

TEST(Decoder, IncrementalDecodingThroughTheCacheEqualsFullRecompute) {
  for (io::Family f : {io::Family::kQwen3Moe, io::Family::kOlmoe}) {
    TinySpec s;
    s.family = f;
    auto m = tiny_model(s);
    const std::vector<int32_t> ids = prompt(20, 5, s.vocab);
    const Tensor full = run_all(*m, ids);
    auto cache = m->make_cache(2, 64);
    // prompt of 7 in chunks of 4 + 3, then one token per step
    int64_t fed = 0;
    std::vector<int64_t> chunks{4, 3};
    chunks.resize(chunks.size() + 13, 1);
    for (int64_t chunk : chunks) {
      ForwardBatch b;
      b.add(1, std::span<const int32_t>(ids.data() + fed, size_t(chunk)), 0, fed < 7,
            ForwardBatch::Logits::kAll);
      Tensor logits;
      m->forward(b, *cache, {}, &logits);
      for (int64_t r = 0; r < chunk; ++r)
        for (int v = 0; v < s.vocab; ++v)
          ASSERT_EQ(logits.data<float>()[r * s.vocab + v], full.data<float>()[(fed + r) * s.vocab + v])
              << "position " << fed + r << " vocab " << v;
      fed += chunk;
    }
    EXPECT_EQ(cache->length(1), 20);
  }
}

TEST(Decoder, HookSeesTokenToSequenceMapAndCanInterveneOnOneSequence) {
  auto m = tiny_model(TinySpec{});
  const auto a = prompt(6, 1, 96), b2 = prompt(4, 2, 96);
  struct ForceExpert : RouterHook {
    uint64_t tag = 7;
    int calls = 0;
    std::vector<int32_t> seq_of_token;
    void on_logits(const RouterContext& ctx, Tensor& logits) override {
      ++calls;
      seq_of_token.assign(ctx.token_seq, ctx.token_seq + ctx.num_tokens);
      for (int t = 0; t < ctx.num_tokens; ++t)
        if (ctx.seq_tag[ctx.token_seq[t]] == tag) logits.data<float>()[t * ctx.num_experts + 5] = 1e4f;
    }
    std::vector<int32_t> experts;
    void on_routed(const RouterContext&, const Tensor&, const Tensor& e, const Tensor&) override {
      experts.assign(e.data<int32_t>(), e.data<int32_t>() + e.numel());
    }
  } hook;
  RouterHook* hooks[] = {&hook};
  auto cache = m->make_cache(2, 64);
  ForwardBatch batch;
  batch.add(0, a, 3, true, ForwardBatch::Logits::kAll);
  batch.add(1, b2, 7, true, ForwardBatch::Logits::kAll);
  Tensor logits;
  m->forward(batch, *cache, hooks, &logits);
  EXPECT_EQ(hook.calls, 1);  // one MoE layer (layer 0 is dense)
  EXPECT_EQ(hook.seq_of_token, (std::vector<int32_t>{0, 0, 0, 0, 0, 0, 1, 1, 1, 1}));
  for (int t = 6; t < 10; ++t) EXPECT_EQ(hook.experts[size_t(t) * 3], 5) << "token " << t;
  // The untouched sequence's logits are those it gets without any hook.
  const Tensor alone = run_all(*m, a);
  for (int64_t i = 0; i < alone.numel(); ++i) ASSERT_EQ(logits.data<float>()[i], alone.data<float>()[i]);
}

TEST(Decoder, Bf16EmulationProducesBf16ValuesCloseToF32) {
  TinySpec s;
  s.dtype = DType::BF16;
  auto m = tiny_model(s);
  ModelLoadOptions off;
  off.bf16_emulation = ModelLoadOptions::Bf16Emulation::kOff;
  off.backend.name = "cpu-ref";
  auto m32 = build_model(testing::tiny_config(s), testing::tiny_weights(s), off);
  const auto ids = prompt(9, 4, s.vocab);
  const Tensor lb = run_all(*m, ids), lf = run_all(*m32, ids);
  double max_diff = 0;
  for (int64_t i = 0; i < lb.numel(); ++i) {
    const float v = lb.data<float>()[i];
    ASSERT_EQ(v, round_bf16(v)) << "logit " << i << " is not a bf16 value";
    max_diff = std::max(max_diff, double(std::fabs(v - lf.data<float>()[i])));
  }
  EXPECT_GT(max_diff, 0.0);   // the rounding is really applied
  EXPECT_LT(max_diff, 0.25);  // and stays a rounding-sized perturbation
}

}  // namespace
}  // namespace moe
