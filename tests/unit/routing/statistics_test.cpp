// Routing statistics collector against hand-computed values (sweeps/METHODS.md A): tiny logits with
// known softmax, known top-k, known Jaccard pairs; plus engine runs showing the statistics do not
// depend on batching or prompt chunking.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>
#include <vector>

#include "runtime/core/error.h"
#include "runtime/engine/engine.h"
#include "runtime/routing/statistics.h"
#include "tests/unit/models/tiny_model.h"

namespace moe::routing {
namespace {

// One forward step as the model would present it to the hooks (host arrays).
struct FakeStep {
  std::vector<int32_t> token_seq, token_pos;
  std::vector<uint64_t> tags;
  std::vector<uint8_t> prefill;
  std::vector<float> logits;      // [T, E]
  std::vector<int32_t> experts;   // [T, k]
  std::vector<float> weights;     // [T, k]

  // Adds one token of slot `slot` at `pos`.
  void token(int slot, int pos, std::vector<float> z, std::vector<int32_t> sel,
             std::vector<float> w = {}) {
    token_seq.push_back(slot);
    token_pos.push_back(pos);
    logits.insert(logits.end(), z.begin(), z.end());
    if (w.empty()) w.assign(sel.size(), 1.0f / float(sel.size()));
    experts.insert(experts.end(), sel.begin(), sel.end());
    weights.insert(weights.end(), w.begin(), w.end());
  }

  void run(RouterHook& hook, int moe_layer, int E, int k) {
    RouterContext ctx;
    ctx.layer = moe_layer + 1;
    ctx.moe_layer = moe_layer;
    ctx.num_experts = E;
    ctx.top_k = k;
    ctx.num_tokens = int(token_seq.size());
    ctx.num_seqs = int(tags.size());
    ctx.token_seq = token_seq.data();
    ctx.token_pos = token_pos.data();
    ctx.seq_tag = tags.data();
    ctx.seq_prefill = prefill.data();
    const int64_t T = int64_t(token_seq.size());
    Tensor z = Tensor::from_f32({T, E}, logits);
    Tensor sel = Tensor::empty(DType::I32, {T, k});
    std::copy(experts.begin(), experts.end(), sel.data<int32_t>());
    Tensor w = Tensor::from_f32({T, k}, weights);
    hook.on_logits(ctx, z);
    hook.on_routed(ctx, z, sel, w);
  }
};

std::vector<float> log_of(std::vector<float> v) {
  for (float& x : v) x = std::log(x);
  return v;
}

CollectedSequence seq(uint64_t tag, int64_t n, uint64_t stream = 0) {
  CollectedSequence s;
  s.tag = tag;
  s.num_tokens = n;
  s.pair_stream = stream;
  return s;
}

// Runs a one-sequence, one-layer collection of the given tokens.
results::RoutingStats collect_one(Importance variant, int E, int k,
                              const std::vector<std::vector<float>>& z,
                              const std::vector<std::vector<int32_t>>& sel,
                              const std::vector<std::vector<float>>& w = {}) {
  CollectorOptions o;
  o.importance = variant;
  RoutingStatsCollector c(1, E, k, o);
  const std::vector<CollectedSequence> s{seq(7, int64_t(z.size()))};
  c.add(s);
  FakeStep st;
  st.tags = {7};
  st.prefill = {1};
  for (size_t t = 0; t < z.size(); ++t)
    st.token(0, int(t), z[t], sel[t], w.empty() ? std::vector<float>{} : w[t]);
  st.run(c, 0, E, k);
  return c.finish();
}

TEST(RoutingStatistics, TopkRenormKeepsTheTopKProbabilitiesRenormalised) {
  // p = (0.1, 0.2, 0.3, 0.4), k = 2: q = (0, 0, 3/7, 4/7). Second token p = (0.4, 0.3, 0.2,
  // 0.1): q = (4/7, 3/7, 0, 0). Mean: (2/7, 1.5/7, 1.5/7, 2/7).
  const auto st = collect_one(Importance::kTopkRenorm, 4, 2,
                              {log_of({0.1f, 0.2f, 0.3f, 0.4f}), log_of({0.4f, 0.3f, 0.2f, 0.1f})},
                              {{3, 2}, {0, 1}});
  const std::vector<double> want{2.0 / 7, 1.5 / 7, 1.5 / 7, 2.0 / 7};
  for (int e = 0; e < 4; ++e) EXPECT_NEAR(st.importance_q[size_t(e)], want[size_t(e)], 1e-6);
}

TEST(RoutingStatistics, TopkRenormKeepsEveryExpertTiedWithTheKthLargest) {
  // p = (0.2, 0.2, 0.2, 0.4), k = 2: the k-th largest is 0.2, so all four are kept: q = p.
  const auto st = collect_one(Importance::kTopkRenorm, 4, 2, {log_of({0.2f, 0.2f, 0.2f, 0.4f})},
                              {{3, 0}});
  const std::vector<double> want{0.2, 0.2, 0.2, 0.4};
  for (int e = 0; e < 4; ++e) EXPECT_NEAR(st.importance_q[size_t(e)], want[size_t(e)], 1e-6);
}

TEST(RoutingStatistics, SoftmaxImportanceIsTheMeanFullSoftmax) {
  const auto st = collect_one(Importance::kSoftmax, 4, 2,
                              {log_of({0.1f, 0.2f, 0.3f, 0.4f}), log_of({0.25f, 0.25f, 0.25f, 0.25f})},
                              {{3, 2}, {0, 1}});
  const std::vector<double> want{0.175, 0.225, 0.275, 0.325};
  for (int e = 0; e < 4; ++e) EXPECT_NEAR(st.importance_q[size_t(e)], want[size_t(e)], 1e-6);
}

TEST(RoutingStatistics, RouterWeightsImportanceNormalisesTheFamilysWeights) {
  // OLMoE-style unnormalised weights 0.4, 0.3 on experts 3, 2: q = (0, 0, 3/7, 4/7).
  const auto st = collect_one(Importance::kRouterWeights, 4, 2, {log_of({0.1f, 0.2f, 0.3f, 0.4f})},
                              {{3, 2}}, {{0.4f, 0.3f}});
  const std::vector<double> want{0.0, 0.0, 3.0 / 7, 4.0 / 7};
  for (int e = 0; e < 4; ++e) EXPECT_NEAR(st.importance_q[size_t(e)], want[size_t(e)], 1e-6);
}

TEST(RoutingStatistics, EntropyIsTheMeanPerTokenEntropyAndOfTheImportance) {
  // Token 1 uniform over 4: H = ln 4. Token 2 one-hot (others masked at -1e9): H = 0.
  // Softmax importance q = (0.625, 0.125, 0.125, 0.125).
  const float m = -1e9f;
  const auto st = collect_one(Importance::kSoftmax, 4, 2, {{0, 0, 0, 0}, {5.0f, m, m, m}},
                              {{0, 1}, {0, 1}});
  EXPECT_NEAR(st.entropy[0], 0.5 * std::log(4.0), 1e-6);
  const double hq = -(0.625 * std::log(0.625 + 1e-10) + 3 * 0.125 * std::log(0.125 + 1e-10));
  EXPECT_NEAR(st.importance_entropy[0], hq, 1e-6);
}

TEST(RoutingStatistics, FrequencyAndPooledCountsFollowTheSelectedExperts) {
  RoutingStatsCollector c(1, 4, 2);
  const std::vector<CollectedSequence> s{seq(10, 3), seq(20, 1)};
  c.add(s);
  FakeStep st;
  st.tags = {10, 20};
  st.prefill = {1, 1};
  const std::vector<float> z{0, 0, 0, 0};
  st.token(0, 0, z, {0, 1});
  st.token(1, 0, z, {2, 3});
  st.token(0, 1, z, {1, 2});
  st.token(0, 2, z, {1, 3});
  st.run(c, 0, 4, 2);
  const auto r = c.finish();
  ASSERT_EQ(r.num_seqs, 2);
  const std::vector<float> f0{1.0f / 3, 1.0f, 1.0f / 3, 1.0f / 3}, f1{0, 0, 1, 1};
  for (int e = 0; e < 4; ++e) {
    EXPECT_FLOAT_EQ(r.frequency[size_t(e)], f0[size_t(e)]);
    EXPECT_FLOAT_EQ(r.frequency[size_t(4 + e)], f1[size_t(e)]);
  }
  EXPECT_EQ(r.activation_tokens, (std::vector<int64_t>{1, 3, 2, 2}));
  EXPECT_EQ(r.total_tokens, (std::vector<int64_t>{4}));
  EXPECT_EQ(r.counted_tokens, (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(r.layers, (std::vector<int32_t>{1}));
}

TEST(RoutingStatistics, ConsistencyOfTwoTokensIsTheirJaccard) {
  // n = 2: the only pair is (0, 1), drawn 500 times: {0,1} vs {1,2} -> 1/3; one token: NaN.
  RoutingStatsCollector c(1, 4, 2);
  const std::vector<CollectedSequence> s{seq(1, 2), seq(2, 1)};
  c.add(s);
  FakeStep st;
  st.tags = {1, 2};
  st.prefill = {1, 1};
  const std::vector<float> z{0, 0, 0, 0};
  st.token(0, 0, z, {0, 1});
  st.token(0, 1, z, {2, 1});
  st.token(1, 0, z, {2, 1});
  st.run(c, 0, 4, 2);
  const auto r = c.finish();
  EXPECT_NEAR(r.consistency[0], 1.0 / 3, 1e-7);
  EXPECT_TRUE(std::isnan(r.consistency[1]));
}

TEST(RoutingStatistics, ConsistencyAveragesTheSeededPairs) {
  // Three tokens: A = {0,1}, B = {0,1}, C = {2,3}. J(0,1) = 1, J(0,2) = J(1,2) = 0, so the
  // consistency is the share of pair (0, 1) among the pairs drawn for this seed and stream.
  CollectorOptions o;
  o.seed = 1234;
  o.consistency_pairs = 7;
  RoutingStatsCollector c(1, 4, 2, o);
  const std::vector<CollectedSequence> s{seq(5, 3, /*stream=*/9)};
  c.add(s);
  FakeStep st;
  st.tags = {5};
  st.prefill = {1};
  const std::vector<float> z{0, 0, 0, 0};
  st.token(0, 0, z, {0, 1});
  st.token(0, 1, z, {1, 0});
  st.token(0, 2, z, {2, 3});
  st.run(c, 0, 4, 2);
  const auto pairs = draw_token_pairs(3, 7, 1234, 9);
  ASSERT_EQ(pairs.size(), 7u);  // M = 3 < 7: drawn with replacement
  int same = 0;
  for (auto [a, b] : pairs) same += (a == 0 && b == 1);
  EXPECT_NEAR(c.finish().consistency[0], same / 7.0, 1e-7);
}

TEST(RoutingStatistics, TokenPairsAreDistinctWhenEnoughAndOrdered) {
  const auto p = draw_token_pairs(40, 500, 0, 3);  // M = 780 >= 500
  ASSERT_EQ(p.size(), 500u);
  std::set<std::pair<int64_t, int64_t>> uniq(p.begin(), p.end());
  EXPECT_EQ(uniq.size(), 500u);
  for (auto [a, b] : p) {
    EXPECT_GE(a, 0);
    EXPECT_LT(a, b);
    EXPECT_LT(b, 40);
  }
  // Exactly M = 500 pairs: every pair once.
  const auto all = draw_token_pairs(32, 496, 5, 0);
  EXPECT_EQ((std::set<std::pair<int64_t, int64_t>>(all.begin(), all.end()).size()), 496u);
  EXPECT_TRUE(draw_token_pairs(1, 500, 0, 0).empty());
  EXPECT_EQ(draw_token_pairs(40, 500, 0, 3), p);   // deterministic
  EXPECT_NE(draw_token_pairs(40, 500, 0, 4), p);   // streams differ
  EXPECT_NE(draw_token_pairs(40, 500, 1, 3), p);   // seeds differ
}

TEST(RoutingStatistics, TokenPairsEqualAnIndependentPythonImplementation) {
  // Values printed by token_pairs() of tests/integration/routing/check_routing_stats.py, which
  // implements MT19937-64, Lemire's below() and the pair unranking on its own.
  using P = std::vector<std::pair<int64_t, int64_t>>;
  EXPECT_EQ(draw_token_pairs(40, 5, 1234, 9), (P{{7, 18}, {18, 36}, {3, 32}, {4, 30}, {9, 19}}));
  EXPECT_EQ(draw_token_pairs(3, 7, 1234, 9),
            (P{{0, 1}, {1, 2}, {0, 2}, {0, 2}, {0, 1}, {0, 1}, {0, 1}}));
  EXPECT_EQ(draw_token_pairs(4, 10, 0, 0), (P{{1, 2}, {0, 1}, {1, 2}, {1, 2}, {0, 1}, {0, 2},
                                              {1, 3}, {0, 3}, {1, 3}, {0, 1}}));
}

TEST(RoutingStatistics, TokenPairsWithReplacementCoverEveryPairOfAShortSequence) {
  const auto p = draw_token_pairs(4, 500, 0, 0);  // M = 6 < 500
  ASSERT_EQ(p.size(), 500u);
  std::set<std::pair<int64_t, int64_t>> uniq(p.begin(), p.end());
  EXPECT_EQ(uniq.size(), 6u);
}

TEST(RoutingStatistics, ContentSpanCountsOnlyItsTokens) {
  RoutingStatsCollector c(1, 4, 2);
  CollectedSequence s = seq(3, 4);
  s.count_begin = 1;
  s.count_end = 3;
  c.add(std::span(&s, 1));
  FakeStep st;
  st.tags = {3};
  st.prefill = {1};
  const std::vector<float> z{0, 0, 0, 0};
  st.token(0, 0, z, {0, 1});
  st.token(0, 1, z, {2, 3});
  st.token(0, 2, z, {2, 1});
  st.token(0, 3, z, {0, 1});
  st.run(c, 0, 4, 2);
  const auto r = c.finish();
  EXPECT_EQ(r.counted_tokens[0], 2);
  EXPECT_EQ(r.activation_tokens, (std::vector<int64_t>{0, 1, 2, 1}));
  EXPECT_NEAR(r.consistency[0], 1.0 / 3, 1e-7);  // {2,3} vs {1,2}
}

TEST(RoutingStatistics, UnregisteredTagsAndGeneratedTokensAreIgnored) {
  RoutingStatsCollector c(1, 4, 2);
  const std::vector<CollectedSequence> s{seq(1, 1)};
  c.add(s);
  FakeStep st;
  st.tags = {1, 99};  // 99 was never registered
  st.prefill = {1, 1};
  const std::vector<float> z{0, 0, 0, 0};
  st.token(0, 0, z, {0, 1});
  st.token(1, 0, z, {2, 3});
  st.run(c, 0, 4, 2);
  FakeStep dec;  // a later step: the sequence decodes (generated tokens do not count)
  dec.tags = {1};
  dec.prefill = {0};
  dec.token(0, 1, z, {2, 3});
  dec.run(c, 0, 4, 2);
  const auto r = c.finish();
  EXPECT_EQ(r.activation_tokens, (std::vector<int64_t>{1, 1, 0, 0}));
}

TEST(RoutingStatistics, FinishRefusesASequenceWhoseTokensDidNotAllPass) {
  RoutingStatsCollector c(2, 4, 2);
  const std::vector<CollectedSequence> s{seq(1, 2)};
  c.add(s);
  FakeStep st;
  st.tags = {1};
  st.prefill = {1};
  st.token(0, 0, {0, 0, 0, 0}, {0, 1});
  st.token(0, 1, {0, 0, 0, 0}, {0, 1});
  st.run(c, 0, 4, 2);  // layer 1 never sees them
  EXPECT_THROW(c.finish(), Error);
}

TEST(RoutingStatistics, RawLogitsAreKeptAsBf16PerCountedToken) {
  CollectorOptions o;
  o.raw_logits = true;
  RoutingStatsCollector c(1, 2, 1, o);
  const std::vector<CollectedSequence> s{seq(1, 2), seq(2, 1)};
  c.add(s);
  FakeStep st;
  st.tags = {1, 2};
  st.prefill = {1, 1};
  st.token(0, 0, {1.0f, -2.0f}, {0});
  st.token(1, 0, {0.5f, 3.0f}, {1});
  st.token(0, 1, {1.00390625f, 0.25f}, {0});
  st.run(c, 0, 2, 1);
  const auto r = c.finish();
  EXPECT_EQ(r.raw_offsets, (std::vector<int64_t>{0, 2, 3}));
  std::vector<float> got;
  for (uint16_t b : r.raw_logits) got.push_back(bf16_to_f32(b));
  EXPECT_EQ(got, (std::vector<float>{1.0f, -2.0f, 1.0f, 0.25f, 0.5f, 3.0f}));
}

TEST(RoutingStatistics, UnknownImportanceNameIsAnInputError) {
  EXPECT_EQ(parse_importance("softmax", "x"), Importance::kSoftmax);
  EXPECT_THROW(parse_importance("topk", "statistics.importance"), InputError);
}

// ---- through the engine and a tiny model -----------------------------------------------------

results::RoutingStats collect_with_engine(const std::vector<std::vector<int32_t>>& prompts,
                                      int max_batch_tokens, bool one_at_a_time) {
  testing::TinySpec spec;
  spec.layers = 3;
  auto model = testing::tiny_model(spec);
  EngineOptions eo;
  eo.max_batch_tokens = max_batch_tokens;
  Engine engine(model, TextDecoder{}, eo);
  RoutingStatsCollector c(model->num_moe_layers(), spec.experts, spec.top_k);
  std::vector<CollectedSequence> seqs;
  std::vector<PrefillRequest> reqs;
  for (size_t i = 0; i < prompts.size(); ++i) {
    seqs.push_back(seq(100 + i, int64_t(prompts[i].size()), i));
    reqs.push_back(PrefillRequest{prompts[i], 100 + i});
  }
  c.add(seqs);
  RouterHook* hooks[] = {&c};
  if (one_at_a_time)
    for (const auto& r : reqs) engine.prefill(std::span(&r, 1), hooks);
  else
    engine.prefill(reqs, hooks);
  return c.finish();
}

TEST(RoutingStatistics, EngineResultsDoNotDependOnBatchingOrChunking) {
  const std::vector<std::vector<int32_t>> prompts{testing::tiny_prompt(23, 1),
                                                  testing::tiny_prompt(9, 2),
                                                  testing::tiny_prompt(31, 3)};
  const auto a = collect_with_engine(prompts, 4096, false);
  const auto b = collect_with_engine(prompts, 8, true);  // long prompts split across steps
  ASSERT_EQ(a.num_layers, 2);  // layer 0 of the tiny qwen3 is dense
  EXPECT_EQ(a.layers, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(a.activation_tokens, b.activation_tokens);
  EXPECT_EQ(a.frequency, b.frequency);
  ASSERT_EQ(a.importance_q.size(), b.importance_q.size());
  for (size_t i = 0; i < a.importance_q.size(); ++i)
    EXPECT_NEAR(a.importance_q[i], b.importance_q[i], 1e-5) << i;
  for (size_t i = 0; i < a.consistency.size(); ++i) {
    EXPECT_FLOAT_EQ(a.consistency[i], b.consistency[i]) << i;
    EXPECT_NEAR(a.entropy[i], b.entropy[i], 1e-5) << i;
  }
  EXPECT_EQ(a.total_tokens, (std::vector<int64_t>{63, 63}));
}

}  // namespace
}  // namespace moe::routing
