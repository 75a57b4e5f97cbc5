// Router interventions (sweeps/METHODS.md C) on hand-made logits, routed by each family's routing
// function, against values computed by hand from the definitions; the hook's per-sequence
// application, its before/after selection counts, and independence from batch composition.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <vector>

#include "runtime/core/error.h"
#include "runtime/engine/engine.h"
#include "runtime/routing/intervention.h"
#include "runtime/routing/routing.h"
#include "tests/unit/models/tiny_model.h"

namespace moe::routing {
namespace {

using io::RoutingKind;

struct Routed {
  std::vector<int32_t> experts;
  std::vector<float> weights;
};

Routed route_row(const std::vector<float>& z, RoutingKind kind, int k, bool renormalize = true) {
  RoutingSpec spec;
  spec.kind = kind;
  spec.num_experts = int(z.size());
  spec.top_k = k;
  spec.renormalize = renormalize;
  spec.sparsemixer_eps = 0.01;
  Routed r{std::vector<int32_t>(size_t(k)), std::vector<float>(size_t(k))};
  route(spec, z.data(), 1, r.experts.data(), r.weights.data());
  return r;
}

LayerExperts at_layer(int L, int l, std::vector<ExpertScore> experts) {
  LayerExperts s(static_cast<size_t>(L));
  s[size_t(l)] = std::move(experts);
  return s;
}

InterventionEdit edit(InterventionMethod m, LayerRange layers, double lambda = 0.0) {
  InterventionEdit e;
  e.method = m;
  e.layers = layers;
  e.lambda = lambda;
  return e;
}

// Applies one edit at MoE layer 0 of a 1-layer model with E = z.size().
std::vector<float> applied(const InterventionEdit& e, std::vector<float> z, int k = 2,
                           uint64_t stream = 0, int64_t position = 0) {
  Intervention iv{"test", {e}};
  PreparedIntervention p(iv, RouterShape{1, int(z.size()), k});
  p.apply(0, z.data(), stream, position);
  return z;
}

const std::vector<float> kRow{1, 2, 3, 4, 5, 6};  // mean 3.5, sum of squares 17.5

// ---- soft -----------------------------------------------------------------------------------

TEST(SoftIntervention, AddsLambdaTimesTheSampleStdToBoostedAndSubtractsItFromSuppressed) {
  InterventionEdit e = edit(InterventionMethod::kSoft, {0, 0}, 0.5);
  e.boost = at_layer(1, 0, {{0, 1.0}});
  e.suppress = at_layer(1, 0, {{5, 1.0}});
  const double s = std::sqrt(17.5 / 5.0);  // sample std of 1..6
  const auto z = applied(e, kRow);
  EXPECT_FLOAT_EQ(z[0], float(1.0 + 0.5 * s));
  EXPECT_FLOAT_EQ(z[5], float(6.0 - 0.5 * s));
  for (int i = 1; i < 5; ++i) EXPECT_EQ(z[size_t(i)], kRow[size_t(i)]);
}

TEST(SoftIntervention, PopulationStdDividesByE) {
  InterventionEdit e = edit(InterventionMethod::kSoft, {0, 0}, 1.0);
  e.std_kind = StdKind::kPopulation;
  e.boost = at_layer(1, 0, {{2, 0.0}});
  EXPECT_FLOAT_EQ(applied(e, kRow)[2], float(3.0 + std::sqrt(17.5 / 6.0)));
}

// Soft lambda 3 on expert 0 of 1..6: z0 = 1 + 3 sqrt(3.5) = 6.6125 > 6 > 5: experts 0, 5.
TEST(SoftIntervention, EachFamilysRoutingSelectsTheBoostedExpertWithItsOwnWeights) {
  InterventionEdit e = edit(InterventionMethod::kSoft, {0, 0}, 3.0);
  e.boost = at_layer(1, 0, {{0, 1.0}});
  const auto z = applied(e, kRow);
  const double z0 = 1.0 + 3.0 * std::sqrt(3.5);
  double total = std::exp(z0);
  for (int i = 1; i < 6; ++i) total += std::exp(double(i + 1));

  // qwen3_moe: softmax over E, top-2, renormalised.
  Routed q = route_row(z, RoutingKind::kSoftmaxTopK, 2, true);
  EXPECT_EQ(q.experts, (std::vector<int32_t>{0, 5}));
  EXPECT_NEAR(q.weights[0], 1.0 / (1.0 + std::exp(6.0 - z0)), 1e-6);
  EXPECT_NEAR(q.weights[1], 1.0 / (1.0 + std::exp(z0 - 6.0)), 1e-6);
  // olmoe: the same experts, the raw probabilities (not renormalised: sum < 1).
  Routed o = route_row(z, RoutingKind::kSoftmaxTopK, 2, false);
  EXPECT_EQ(o.experts, (std::vector<int32_t>{0, 5}));
  EXPECT_NEAR(o.weights[0], std::exp(z0) / total, 1e-6);
  EXPECT_NEAR(o.weights[1], std::exp(6.0) / total, 1e-6);
  EXPECT_LT(o.weights[0] + o.weights[1], 0.95f);
  // gpt_oss: top-2 of the raw logits, softmax over the two (same as qwen3 here).
  Routed g = route_row(z, RoutingKind::kTopKSoftmax, 2);
  EXPECT_EQ(g.experts, (std::vector<int32_t>{0, 5}));
  EXPECT_NEAR(g.weights[0], q.weights[0], 1e-6);
  // phimoe sparsemixer: i1 = 0 (z0 = 6.6125); mask (z0 - z_j) / max(|z_j|, z0) > 0.02 drops every
  // other expert (expert 5: 0.6125 / 6.6125 = 0.093), so w1 = 1. Stage 2 without expert 0: i2 = 5,
  // max 6; expert 4: 1/6 > 0.02 masked; w2 = 1.
  Routed p = route_row(z, RoutingKind::kSparseMixer, 2);
  EXPECT_EQ(p.experts, (std::vector<int32_t>{0, 5}));
  EXPECT_FLOAT_EQ(p.weights[0], 1.0f);
  EXPECT_FLOAT_EQ(p.weights[1], 1.0f);
}

// The sparsemixer is not shift-invariant: the same soft edit applied to a row near 0 and to the
// row + 100 selects the same first expert but with different weights; a softmax router gives
// the same weights for both.
TEST(SoftIntervention, SparsemixerWeightsChangeUnderAShiftWhereSoftmaxWeightsDoNot) {
  InterventionEdit e = edit(InterventionMethod::kSoft, {0, 0}, 2.0);
  e.boost = at_layer(1, 0, {{3, 1.0}});
  // Sample std 0.0081650: z3 = 0.016330 (low) and 100.016330 (high), above z1 = 0.01 / 100.01.
  const std::vector<float> low{0.0f, 0.01f, -0.01f, 0.0f};
  std::vector<float> high = low;
  for (float& v : high) v += 100.0f;
  const auto zl = applied(e, low), zh = applied(e, high);
  const Routed pl = route_row(zl, RoutingKind::kSparseMixer, 2);
  const Routed ph = route_row(zh, RoutingKind::kSparseMixer, 2);
  EXPECT_EQ(pl.experts[0], 3);
  EXPECT_EQ(ph.experts[0], 3);
  // Low row: relative gaps (z3 - z_j) / z3 are 0.39 and more, all above 2 eps = 0.02, so every
  // other expert is masked and w1 = 1. High row: gaps of ~1e-4 mask nothing: w1 ~ 1/4.
  EXPECT_FLOAT_EQ(pl.weights[0], 1.0f);
  EXPECT_LT(ph.weights[0], 0.3f);
  const Routed ql = route_row(zl, RoutingKind::kSoftmaxTopK, 2);
  const Routed qh = route_row(zh, RoutingKind::kSoftmaxTopK, 2);
  EXPECT_EQ(ql.experts, qh.experts);
  EXPECT_NEAR(ql.weights[0], qh.weights[0], 1e-4);
}

// ---- hard -----------------------------------------------------------------------------------

TEST(HardIntervention, WithoutNoiseForcesBoostedToTheMaximumAndSuppressedToTheMinimum) {
  InterventionEdit e = edit(InterventionMethod::kHard, {0, 0});
  e.hard_eps = 0.0;
  e.boost = at_layer(1, 0, {{0, 1.0}, {2, 1.0}});
  e.suppress = at_layer(1, 0, {{5, 1.0}});
  const auto z = applied(e, kRow);
  EXPECT_EQ(z, (std::vector<float>{6, 2, 6, 4, 5, 1}));
  // qwen3: experts 0 and 2 tie at 6: top-2 = {0, 2} with equal weights.
  const Routed q = route_row(z, RoutingKind::kSoftmaxTopK, 2);
  EXPECT_EQ(q.experts, (std::vector<int32_t>{0, 2}));
  EXPECT_FLOAT_EQ(q.weights[0], 0.5f);
  // olmoe (unnormalised): each gets e^6 / (2 e^6 + e^2 + e^4 + e^5 + e^1).
  const double tot =
      2 * std::exp(6.0) + std::exp(2.0) + std::exp(4.0) + std::exp(5.0) + std::exp(1.0);
  const Routed o = route_row(z, RoutingKind::kSoftmaxTopK, 2, false);
  EXPECT_EQ(o.experts, (std::vector<int32_t>{0, 2}));
  EXPECT_NEAR(o.weights[0], std::exp(6.0) / tot, 1e-6);
  // sparsemixer: i1 = 0, expert 2 ties (gap 0, kept), expert 4 (1/6 > 0.02) masked: w1 = 1/2.
  const Routed p = route_row(z, RoutingKind::kSparseMixer, 2);
  EXPECT_EQ(p.experts, (std::vector<int32_t>{0, 2}));
  EXPECT_FLOAT_EQ(p.weights[0], 0.5f);
  EXPECT_FLOAT_EQ(p.weights[1], 1.0f);
}

TEST(HardIntervention, NoiseIsNormalWithStandardDeviationHardEps) {
  // Row maximum 0: z_e = eps exactly representable around 0, so the draws can be read back.
  InterventionEdit e = edit(InterventionMethod::kHard, {0, 0});
  e.seed = 11;
  e.boost = at_layer(1, 0, {{1, 1.0}});
  std::vector<double> eps;
  for (int64_t pos = 0; pos < 4000; ++pos)
    eps.push_back(applied(e, {0.0f, -3.0f, -1.0f, -2.0f}, 2, 5, pos)[1]);
  const double mean = std::accumulate(eps.begin(), eps.end(), 0.0) / double(eps.size());
  double ss = 0;
  for (double v : eps) ss += (v - mean) * (v - mean);
  const double sd = std::sqrt(ss / double(eps.size() - 1));
  // 4000 draws: the sample sd is within 5% of 1e-6 and the mean within 5 standard errors of 0.
  EXPECT_NEAR(sd, 1e-6, 0.05e-6);
  EXPECT_NEAR(mean, 0.0, 5e-6 / std::sqrt(4000.0));
}

TEST(HardIntervention, NoiseDependsOnlyOnSeedStreamLayerAndPosition) {
  InterventionEdit e = edit(InterventionMethod::kHard, {0, 0});
  e.seed = 3;
  e.boost = at_layer(1, 0, {{0, 1.0}});
  e.suppress = at_layer(1, 0, {{5, 1.0}});
  const auto a = applied(e, kRow, 2, 7, 4), b = applied(e, kRow, 2, 7, 4);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, applied(e, kRow, 2, 8, 4));  // another sequence
  EXPECT_NE(a, applied(e, kRow, 2, 7, 5));  // another token
  InterventionEdit e2 = e;
  e2.seed = 4;
  EXPECT_NE(a, applied(e2, kRow, 2, 7, 4));
  EXPECT_NEAR(a[0], 6.0f, 1e-5);
  EXPECT_NEAR(a[5], 1.0f, 1e-5);
}

// ---- hard_logsoftmax --------------------------------------------------------------------------

TEST(HardLogSoftmaxIntervention, RoutesOnTheEditedLogSoftmax) {
  InterventionEdit e = edit(InterventionMethod::kHardLogSoftmax, {0, 0});
  e.boost = at_layer(1, 0, {{0, 1.0}});
  e.suppress = at_layer(1, 0, {{5, 1.0}});
  const auto z = applied(e, kRow);
  double lse = 0;
  for (float v : kRow) lse += std::exp(double(v));
  lse = std::log(lse);
  EXPECT_NEAR(z[0], 6.0 - lse + 0.01, 1e-5);
  EXPECT_NEAR(z[5], 1.0 - lse - 0.01, 1e-5);
  EXPECT_NEAR(z[3], 4.0 - lse, 1e-5);
  // softmax_topk on s: expert 0 (s_max + 0.01) then expert 4 (5 - lse); weights in ratio e^{1.01}.
  const Routed q = route_row(z, RoutingKind::kSoftmaxTopK, 2);
  EXPECT_EQ(q.experts, (std::vector<int32_t>{0, 4}));
  EXPECT_NEAR(q.weights[0] / q.weights[1], std::exp(1.01), 1e-4);
  // sparsemixer on s (all negative): expert 0 first; the gap to expert 4, 1.01 / |5 - lse| =
  // 0.69 > 0.02, masks it, as every other expert: w1 = 1.
  const Routed p = route_row(z, RoutingKind::kSparseMixer, 2);
  EXPECT_EQ(p.experts[0], 0);
  EXPECT_FLOAT_EQ(p.weights[0], 1.0f);
}

TEST(HardLogSoftmaxIntervention, MoreBoostedExpertsThanKKeepsTheHighestScoringAndRecordsIt) {
  InterventionEdit e = edit(InterventionMethod::kHardLogSoftmax, {0, 1});
  e.boost = LayerExperts{{{0, 0.5}, {1, 0.9}, {2, 0.7}}, {{3, 0.2}}};
  PreparedIntervention p(Intervention{"trunc", {e}}, RouterShape{2, 6, 2});
  ASSERT_EQ(p.truncations().size(), 1u);
  EXPECT_EQ(p.truncations()[0].layer, 0);
  EXPECT_EQ(p.truncations()[0].kept, (std::vector<int>{1, 2}));
  EXPECT_EQ(p.truncations()[0].dropped, (std::vector<int>{0}));
  std::vector<float> z = kRow;
  p.apply(0, z.data(), 0, 0);
  const Routed q = route_row(z, RoutingKind::kSoftmaxTopK, 2);
  EXPECT_EQ(q.experts, (std::vector<int32_t>{1, 2}));
  EXPECT_FLOAT_EQ(q.weights[0], 0.5f);
}

// Plain hard: without the truncation the noise would pick 2 of the 3 forced experts per token.
TEST(HardIntervention, MoreBoostedExpertsThanKKeepsTheHighestScoringForEveryToken) {
  InterventionEdit e = edit(InterventionMethod::kHard, {0, 0});
  e.seed = 5;
  e.boost = at_layer(1, 0, {{4, 0.3}, {0, 0.8}, {2, 0.3}});  // 2 and 4 tie: the lower id stays
  // The row's maximum (expert 5) is suppressed: the forced experts, at 6 + eps with eps of either
  // sign, are then the top 2.
  e.suppress = at_layer(1, 0, {{5, 1.0}});
  PreparedIntervention p(Intervention{"trunc", {e}}, RouterShape{1, 6, 2});
  ASSERT_EQ(p.truncations().size(), 1u);
  EXPECT_EQ(p.truncations()[0].kept, (std::vector<int>{0, 2}));
  EXPECT_EQ(p.truncations()[0].dropped, (std::vector<int>{4}));
  for (int64_t pos = 0; pos < 20; ++pos) {
    std::vector<float> z = kRow;
    p.apply(0, z.data(), 1, pos);
    EXPECT_EQ(z[4], 5.0f);  // dropped: left as it was
    for (RoutingKind kind :
         {RoutingKind::kSoftmaxTopK, RoutingKind::kTopKSoftmax, RoutingKind::kSparseMixer}) {
      std::vector<int32_t> sel = route_row(z, kind, 2).experts;
      std::sort(sel.begin(), sel.end());
      EXPECT_EQ(sel, (std::vector<int32_t>{0, 2})) << io::routing_name(kind) << " token " << pos;
    }
  }
}

// ---- mask -----------------------------------------------------------------------------------

TEST(MaskIntervention, MaskedExpertsAreNeverSelectedByAnyFamily) {
  InterventionEdit e = edit(InterventionMethod::kMask, {0, 0});
  e.suppress = at_layer(1, 0, {{5, 1.0}, {4, 1.0}});
  const auto z = applied(e, kRow);
  EXPECT_EQ(z[5], kMaskLogit);
  EXPECT_EQ(z[4], kMaskLogit);
  for (RoutingKind kind :
       {RoutingKind::kSoftmaxTopK, RoutingKind::kTopKSoftmax, RoutingKind::kSparseMixer}) {
    const Routed r = route_row(z, kind, 2);
    EXPECT_EQ(r.experts, (std::vector<int32_t>{3, 2})) << io::routing_name(kind);
  }
  // olmoe: the masked probability mass is gone, the rest is softmax over 1..4.
  const Routed o = route_row(z, RoutingKind::kSoftmaxTopK, 2, false);
  const double tot = std::exp(1.0) + std::exp(2.0) + std::exp(3.0) + std::exp(4.0);
  EXPECT_NEAR(o.weights[0], std::exp(4.0) / tot, 1e-6);
}

// ---- steer ----------------------------------------------------------------------------------

const std::vector<float> kSteerRow{3.0f, -1.7f, 0.33f, 2.71828f, -0.05f, 1.1f};

InterventionEdit steer_edit(SteerPrecision precision) {
  InterventionEdit e = edit(InterventionMethod::kSteer, {0, 0}, 0.022);
  e.steer_precision = precision;
  e.boost = at_layer(1, 0, {{0, 0.9}, {2, 0.75}, {3, 0.5}, {4, 1.0}});
  return e;
}

TEST(SteerIntervention, AddsLambdaTimesCoefficientTimesAbsoluteLogitInFp32) {
  const auto z = applied(steer_edit(SteerPrecision::kFp32), kSteerRow);
  // Values from torch float32: z + (0.022 c) * |z|.
  EXPECT_FLOAT_EQ(z[0], 3.0594000816345215f);
  EXPECT_FLOAT_EQ(z[1], -1.7f);
  EXPECT_FLOAT_EQ(z[2], 0.33544501662254333f);
  EXPECT_FLOAT_EQ(z[3], 2.748181104660034f);
  EXPECT_FLOAT_EQ(z[4], -0.048900000751018524f);
  EXPECT_FLOAT_EQ(z[5], 1.1f);
}

TEST(SteerIntervention, Bf16PrecisionReproducesTorchBf16Arithmetic) {
  const auto z = applied(steer_edit(SteerPrecision::kBf16), kSteerRow);
  // torch: z = tensor(row, bfloat16); coef = tensor(0.022 c, bfloat16); z + coef * z.abs().
  EXPECT_EQ(z[0], 3.0625f);
  EXPECT_EQ(z[2], 0.3359375f);
  EXPECT_EQ(z[3], 2.75f);
  EXPECT_EQ(z[4], -0.048828125f);
  // Experts outside the set keep their f32 value (the hook does not round the whole row).
  EXPECT_EQ(z[1], -1.7f);
}

// Steering expert 1 of (2, 1.97, -0.5, 0.3) by 0.022 * 1 * |z1|: z1 = 1.97 * 1.022 = 2.01334 now
// leads expert 0 (2.0), and each family routes the steered row with its own weights.
TEST(SteerIntervention, EachFamilysRoutingOfTheSteeredRow) {
  InterventionEdit e = edit(InterventionMethod::kSteer, {0, 0}, 0.022);
  e.boost = at_layer(1, 0, {{1, 1.0}});
  const std::vector<float> row{2.0f, 1.97f, -0.5f, 0.3f};
  const auto z = applied(e, row);
  const double z1 = 1.97 * 1.022;
  EXPECT_NEAR(z[1], z1, 1e-6);
  const double pair = 1.0 / (1.0 + std::exp(2.0 - z1));  // softmax of (z1, 2) at z1
  const double all = std::exp(z1) + std::exp(2.0) + std::exp(-0.5) + std::exp(0.3);
  const Routed q = route_row(z, RoutingKind::kSoftmaxTopK, 2, true);
  EXPECT_EQ(q.experts, (std::vector<int32_t>{1, 0}));
  EXPECT_NEAR(q.weights[0], pair, 1e-6);
  EXPECT_NEAR(q.weights[1], 1.0 - pair, 1e-6);
  const Routed o = route_row(z, RoutingKind::kSoftmaxTopK, 2, false);
  EXPECT_EQ(o.experts, (std::vector<int32_t>{1, 0}));
  EXPECT_NEAR(o.weights[0], std::exp(z1) / all, 1e-6);
  EXPECT_NEAR(o.weights[1], std::exp(2.0) / all, 1e-6);
  const Routed g = route_row(z, RoutingKind::kTopKSoftmax, 2);
  EXPECT_EQ(g.experts, (std::vector<int32_t>{1, 0}));
  EXPECT_NEAR(g.weights[0], pair, 1e-6);
  // sparsemixer: i1 = 1; expert 0's relative gap 0.01334 / 2.01334 = 0.0066 < 0.02 keeps it in
  // the softmax (w1 = pair), experts 2 and 3 are masked. Stage 2: i2 = 0, every other expert
  // masked or removed: w2 = 1. Unsteered, expert 0 led (gap 0.03 / 2 = 0.015, also kept).
  const Routed p = route_row(z, RoutingKind::kSparseMixer, 2);
  EXPECT_EQ(p.experts, (std::vector<int32_t>{1, 0}));
  EXPECT_NEAR(p.weights[0], pair, 1e-6);
  EXPECT_FLOAT_EQ(p.weights[1], 1.0f);
  const Routed p0 = route_row(row, RoutingKind::kSparseMixer, 2);
  EXPECT_EQ(p0.experts, (std::vector<int32_t>{0, 1}));
  EXPECT_NEAR(p0.weights[0], 1.0 / (1.0 + std::exp(1.97 - 2.0)), 1e-6);
}

// The families not covered above, on the rows of the hard, hard_logsoftmax and mask tests.
TEST(InterventionRouting, GptOssAndOlmoeWeightsOnTheHardAndMaskedRows) {
  // hard without noise: (6, 2, 6, 4, 5, 1): gpt_oss picks the tie 0, 2 and splits evenly.
  InterventionEdit hard = edit(InterventionMethod::kHard, {0, 0});
  hard.hard_eps = 0.0;
  hard.boost = at_layer(1, 0, {{0, 1.0}, {2, 1.0}});
  hard.suppress = at_layer(1, 0, {{5, 1.0}});
  const Routed gh = route_row(applied(hard, kRow), RoutingKind::kTopKSoftmax, 2);
  EXPECT_EQ(gh.experts, (std::vector<int32_t>{0, 2}));
  EXPECT_FLOAT_EQ(gh.weights[0], 0.5f);
  // hard_logsoftmax: s = log_softmax(1..6) with s0 = s_max + 0.01, s5 = s_min - 0.01, i.e. the
  // logits (6.01, 2, 3, 4, 5, 0.99) shifted by -lse: experts 0, 4.
  InterventionEdit hls = edit(InterventionMethod::kHardLogSoftmax, {0, 0});
  hls.boost = at_layer(1, 0, {{0, 1.0}});
  hls.suppress = at_layer(1, 0, {{5, 1.0}});
  const auto s = applied(hls, kRow);
  const Routed gs = route_row(s, RoutingKind::kTopKSoftmax, 2);
  EXPECT_EQ(gs.experts, (std::vector<int32_t>{0, 4}));
  EXPECT_NEAR(gs.weights[0], 1.0 / (1.0 + std::exp(-1.01)), 1e-5);
  const double tot = std::exp(6.01) + std::exp(2.0) + std::exp(3.0) + std::exp(4.0) +
                     std::exp(5.0) + std::exp(0.99);
  const Routed os = route_row(s, RoutingKind::kSoftmaxTopK, 2, false);
  EXPECT_EQ(os.experts, (std::vector<int32_t>{0, 4}));
  EXPECT_NEAR(os.weights[0], std::exp(6.01) / tot, 1e-5);
  EXPECT_NEAR(os.weights[1], std::exp(5.0) / tot, 1e-5);
  // mask 4, 5: (1, 2, 3, 4, -1e9, -1e9): gpt_oss softmax over (4, 3); the sparsemixer masks every
  // gap of at least 1 / 4 > 0.02: w1 = w2 = 1.
  InterventionEdit mask = edit(InterventionMethod::kMask, {0, 0});
  mask.suppress = at_layer(1, 0, {{5, 1.0}, {4, 1.0}});
  const auto zm = applied(mask, kRow);
  const Routed gm = route_row(zm, RoutingKind::kTopKSoftmax, 2);
  EXPECT_NEAR(gm.weights[0], 1.0 / (1.0 + std::exp(-1.0)), 1e-6);
  const Routed pm = route_row(zm, RoutingKind::kSparseMixer, 2);
  EXPECT_FLOAT_EQ(pm.weights[0], 1.0f);
  EXPECT_FLOAT_EQ(pm.weights[1], 1.0f);
}

// ---- order, ranges, validation ----------------------------------------------------------------

TEST(InterventionOrder, SteerThenSoftThenMaskWhateverTheListOrder) {
  InterventionEdit mask = edit(InterventionMethod::kMask, {0, 0});
  mask.suppress = at_layer(1, 0, {{1, 0.0}});
  InterventionEdit soft = edit(InterventionMethod::kSoft, {0, 0}, 0.5);
  soft.boost = at_layer(1, 0, {{2, 0.0}});
  InterventionEdit steer = edit(InterventionMethod::kSteer, {0, 0}, 0.1);
  steer.boost = at_layer(1, 0, {{5, 1.0}});
  Intervention listed{"mixed", {mask, soft, steer}};
  PreparedIntervention p(listed, RouterShape{1, 6, 2});
  std::vector<float> z = kRow;
  p.apply(0, z.data(), 0, 0);
  // By hand: steer z5 = 6 + 0.1 * 6 = 6.6; soft uses the std of the steered row; then mask.
  std::vector<float> h = kRow;
  h[5] = 6.0f + float(0.1) * 6.0f;
  double mean = 0, ss = 0;
  for (float v : h) mean += v;
  mean /= 6;
  for (float v : h) ss += (v - mean) * (v - mean);
  h[2] += float(0.5 * std::sqrt(ss / 5));
  h[1] = kMaskLogit;
  EXPECT_EQ(z, h);
}

TEST(InterventionRanges, EditsActOnlyInsideTheirInclusiveLayerRange) {
  InterventionEdit e = edit(InterventionMethod::kMask, {1, 2});
  e.suppress = LayerExperts(4, std::vector<ExpertScore>{{0, 0.0}});
  PreparedIntervention p(Intervention{"r", {e}}, RouterShape{4, 6, 2});
  for (int l = 0; l < 4; ++l) {
    std::vector<float> z = kRow;
    p.apply(l, z.data(), 0, 0);
    EXPECT_EQ(z[0] == kMaskLogit, l == 1 || l == 2) << "layer " << l;
    EXPECT_EQ(p.active(l), l == 1 || l == 2);
  }
}

TEST(InterventionRanges, OneBasedRangesShiftByOneAndEmptyRangesAreTheBaseline) {
  EXPECT_EQ(layer_range_from_one_based(8, 35, "x"), (LayerRange{7, 34}));
  EXPECT_TRUE(layer_range_from_one_based(1, 0, "x").empty());
  EXPECT_THROW(layer_range_from_one_based(0, 3, "x"), InputError);
  InterventionEdit e = edit(InterventionMethod::kMask, LayerRange{});
  e.suppress = at_layer(2, 0, {{0, 0.0}});
  PreparedIntervention p(Intervention{"empty", {e}}, RouterShape{2, 6, 2});
  std::vector<float> z = kRow;
  p.apply(0, z.data(), 0, 0);
  EXPECT_EQ(z, kRow);
}

TEST(InterventionValidation, BadSetsAndRangesAreInputErrorsNamingTheIntervention) {
  const RouterShape shape{2, 6, 2};
  auto bad = [&](InterventionEdit e) {
    try {
      PreparedIntervention(Intervention{"bad_one", {e}}, shape);
    } catch (const InputError& err) {
      return std::string(err.what());
    }
    return std::string("no error");
  };
  InterventionEdit e = edit(InterventionMethod::kSoft, {0, 2}, 0.5);
  EXPECT_NE(bad(e).find("bad_one"), std::string::npos);
  EXPECT_NE(bad(e).find("0-1"), std::string::npos);
  e.layers = {0, 1};
  e.boost = at_layer(2, 0, {{6, 0.0}});
  EXPECT_NE(bad(e).find("[0, 6)"), std::string::npos);
  e.boost = at_layer(2, 0, {{1, 0.0}});
  e.suppress = at_layer(2, 0, {{1, 0.0}});
  EXPECT_NE(bad(e).find("both boosted and suppressed"), std::string::npos);
  InterventionEdit m = edit(InterventionMethod::kMask, {0, 1});
  m.boost = at_layer(2, 0, {{1, 0.0}});
  EXPECT_NE(bad(m).find("masked"), std::string::npos);
  InterventionEdit w = edit(InterventionMethod::kSoft, {0, 1}, 1.0);
  w.boost = at_layer(3, 0, {{1, 0.0}});
  EXPECT_NE(bad(w).find("at most 2"), std::string::npos);
}

TEST(InterventionNotes, SparsemixerAndUnnormalisedRoutingAreStated) {
  EXPECT_NE(routing_note(RoutingKind::kSparseMixer, false).find("not shift-invariant"),
            std::string::npos);
  EXPECT_NE(routing_note(RoutingKind::kSoftmaxTopK, false).find("not renormalised"),
            std::string::npos);
  EXPECT_EQ(routing_note(RoutingKind::kSoftmaxTopK, true), "");
}

// ---- the hook -------------------------------------------------------------------------------

// One hand-made step: tokens of several sequences (slot per token), each slot with a tag.
struct Step {
  std::vector<int32_t> token_seq, token_pos;
  std::vector<uint64_t> tags;
  std::vector<uint8_t> prefill;
  std::vector<float> logits;  // [T, E]
};

// Runs the hook over one layer of `step` like MoeBlock::forward; returns the edited logits.
std::vector<float> run_layer(InterventionHook& hook, Step step, int layer, int L, int E, int k,
                             RoutingKind kind = RoutingKind::kSoftmaxTopK) {
  RouterContext ctx;
  ctx.layer = layer;
  ctx.moe_layer = layer;
  ctx.num_layers = L;
  ctx.num_experts = E;
  ctx.top_k = k;
  ctx.routing = kind;
  ctx.sparsemixer_eps = 0.01;
  ctx.num_tokens = int(step.token_seq.size());
  ctx.num_seqs = int(step.tags.size());
  ctx.token_seq = step.token_seq.data();
  ctx.token_pos = step.token_pos.data();
  ctx.seq_tag = step.tags.data();
  step.prefill.assign(step.tags.size(), 1);
  ctx.seq_prefill = step.prefill.data();
  const int64_t T = ctx.num_tokens;
  Tensor logits = Tensor::view(DType::F32, {T, E}, step.logits.data(), nullptr);
  hook.on_logits(ctx, logits);
  std::vector<int32_t> sel(size_t(T * k));
  std::vector<float> w(size_t(T * k));
  RoutingSpec spec{kind, E, k, true, 0.01, false};
  route(spec, step.logits.data(), T, sel.data(), w.data());
  Tensor st = Tensor::view(DType::I32, {T, k}, sel.data(), nullptr);
  Tensor wt = Tensor::view(DType::F32, {T, k}, w.data(), nullptr);
  hook.on_routed(ctx, logits, st, wt);
  return step.logits;
}

// Deterministic logits of token `pos` of sequence `seq`.
std::vector<float> token_row(int seq, int pos, int E) {
  std::vector<float> r(static_cast<size_t>(E));
  for (int e = 0; e < E; ++e) r[size_t(e)] = float(std::sin(1.3 * seq + 0.7 * pos + 0.37 * e));
  return r;
}

Intervention boost_hard(const std::string& name, int L, int expert, uint64_t seed) {
  InterventionEdit e = edit(InterventionMethod::kHard, {0, L - 1});
  e.seed = seed;
  e.boost = LayerExperts(size_t(L), std::vector<ExpertScore>{{expert, 1.0}});
  return Intervention{name, {e}};
}

TEST(InterventionHook, EditsOnlyTheTokensOfBoundTagsWithTheirOwnIntervention) {
  const int L = 2, E = 6, k = 2;
  InterventionHook hook(RouterShape{L, E, k});
  const int a = hook.add(boost_hard("a", L, 0, 1));
  const int b = hook.add(boost_hard("b", L, 5, 1));
  hook.bind(100, a, 0);
  hook.bind(200, b, 1);
  Step s;
  s.tags = {100, 999, 200};  // 999 unbound
  for (int q = 0; q < 3; ++q)
    for (int p = 0; p < 2; ++p) {
      s.token_seq.push_back(q);
      s.token_pos.push_back(p);
      const auto r = token_row(q, p, E);
      s.logits.insert(s.logits.end(), r.begin(), r.end());
    }
  const auto out = run_layer(hook, s, 1, L, E, k);
  for (int t = 0; t < 6; ++t) {
    const int q = t / 2;
    const auto orig = token_row(q, t % 2, E);
    const float* row = out.data() + t * E;
    const float mx = *std::max_element(orig.begin(), orig.end());
    for (int e = 0; e < E; ++e) {
      const bool edited = (q == 0 && e == 0) || (q == 2 && e == 5);
      if (edited)
        EXPECT_NEAR(row[e], mx, 1e-5) << "token " << t << " expert " << e;
      else
        EXPECT_EQ(row[e], orig[size_t(e)]) << "token " << t << " expert " << e;
    }
  }
}

TEST(InterventionHook, CountsSelectionsBeforeAndAfterPerLayerAndExpert) {
  const int L = 2, E = 4, k = 1;
  InterventionHook hook(RouterShape{L, E, k});
  InterventionEdit m = edit(InterventionMethod::kMask, {1, 1});
  m.suppress = LayerExperts{{}, {{3, 0.0}}};
  const int idx = hook.add(Intervention{"mask3", {m}});
  hook.bind(7, idx, 0);
  Step s;
  s.tags = {7};
  // Three tokens; expert 3 is the argmax of the first two, expert 0 of the third.
  s.logits = {0, 1, 2, 3, 0, 1, 2, 3, 3, 1, 2, 0};
  s.token_seq = {0, 0, 0};
  s.token_pos = {0, 1, 2};
  run_layer(hook, s, 0, L, E, k);  // layer 0: no edit
  run_layer(hook, s, 1, L, E, k);  // layer 1: expert 3 masked
  const SelectionCounts& c = hook.counts(idx);
  EXPECT_EQ(c.tokens, (std::vector<int64_t>{3, 3}));
  // Layer 0: untouched, before = after = {0: 1, 3: 2}.
  EXPECT_EQ(c.before_at(0, 3), 2);
  EXPECT_EQ(c.after_at(0, 3), 2);
  EXPECT_EQ(c.before_at(0, 0), 1);
  EXPECT_EQ(c.after_at(0, 0), 1);
  // Layer 1: before {3: 2, 0: 1}; after: expert 3 masked, tokens 1-2 go to expert 2.
  EXPECT_EQ(c.before_at(1, 3), 2);
  EXPECT_EQ(c.after_at(1, 3), 0);
  EXPECT_EQ(c.after_at(1, 2), 2);
  EXPECT_EQ(c.after_at(1, 0), 1);
  hook.reset_counts();
  EXPECT_EQ(hook.counts(idx).before_at(1, 3), 0);
}

// A sequence's edited logits and counts are the same whether it runs alone or batched with
// sequences under other interventions, in another slot, with its tokens split across steps.
TEST(InterventionHook, ResultsDoNotDependOnBatchComposition) {
  const int L = 3, E = 8, k = 2;
  auto make = [&] {
    auto h = std::make_unique<InterventionHook>(RouterShape{L, E, k});
    h->add(boost_hard("x", L, 2, 9));
    InterventionEdit soft = edit(InterventionMethod::kSoft, {0, 2}, 0.5);
    soft.boost = LayerExperts(size_t(L), std::vector<ExpertScore>{{1, 1.0}});
    h->add(Intervention{"y", {soft}});
    h->add(boost_hard("z", L, 7, 9));
    return h;
  };
  const int n = 5;  // tokens of the observed sequence (stream 42, intervention x)
  // Alone: one step with all its tokens.
  auto alone = make();
  alone->bind(1, 0, 42);
  Step s1;
  s1.tags = {1};
  for (int p = 0; p < n; ++p) {
    s1.token_seq.push_back(0);
    s1.token_pos.push_back(p);
    const auto r = token_row(0, p, E);
    s1.logits.insert(s1.logits.end(), r.begin(), r.end());
  }
  std::vector<std::vector<float>> ref;
  for (int l = 0; l < L; ++l) ref.push_back(run_layer(*alone, s1, l, L, E, k));

  // Batched: two steps; the sequence sits in slot 2 after sequences under y and z.
  auto batched = make();
  batched->bind(5, 1, 0);
  batched->bind(6, 2, 1);
  batched->bind(9, 0, 42);
  std::vector<std::vector<float>> got(static_cast<size_t>(L));
  for (auto [p0, p1] : {std::pair{0, 2}, std::pair{2, 5}}) {
    Step s;
    s.tags = {5, 6, 9};
    for (int q = 0; q < 2; ++q)
      for (int p = 0; p < 3; ++p) {
        s.token_seq.push_back(q);
        s.token_pos.push_back(p);
        const auto r = token_row(q + 10, p, E);
        s.logits.insert(s.logits.end(), r.begin(), r.end());
      }
    for (int p = p0; p < p1; ++p) {
      s.token_seq.push_back(2);
      s.token_pos.push_back(p);
      const auto r = token_row(0, p, E);
      s.logits.insert(s.logits.end(), r.begin(), r.end());
    }
    for (int l = 0; l < L; ++l) {
      const auto out = run_layer(*batched, s, l, L, E, k);
      got[size_t(l)].insert(got[size_t(l)].end(), out.begin() + 6 * E, out.end());
    }
  }
  for (int l = 0; l < L; ++l) EXPECT_EQ(got[size_t(l)], ref[size_t(l)]) << "layer " << l;
  EXPECT_EQ(batched->counts(0).before, alone->counts(0).before);
  EXPECT_EQ(batched->counts(0).after, alone->counts(0).after);
  EXPECT_EQ(batched->counts(0).tokens, alone->counts(0).tokens);
}

// End to end through the engine: a sequence under a hard intervention generates the same tokens
// alone and batched with sequences under other interventions and the baseline.
TEST(InterventionHook, EngineGenerationUnderInterventionsIsIndependentOfBatching) {
  testing::TinySpec spec;
  spec.family = io::Family::kOlmoe;
  spec.layers = 3;
  auto model = testing::tiny_model(spec);
  const RouterShape shape{model->num_moe_layers(), spec.experts, spec.top_k};
  auto make_hook = [&] {
    auto h = std::make_unique<InterventionHook>(shape);
    h->add(boost_hard("hard3", shape.num_layers, 3, 5));
    InterventionEdit m = edit(InterventionMethod::kMask, {0, shape.num_layers - 1});
    m.suppress =
        LayerExperts(size_t(shape.num_layers), std::vector<ExpertScore>{{0, 0.0}, {1, 0.0}});
    h->add(Intervention{"mask01", {m}});
    return h;
  };
  std::vector<GenerateRequest> reqs;
  for (int i = 0; i < 4; ++i) {
    GenerateRequest r;
    r.prompt = testing::tiny_prompt(4 + 3 * i, i);
    r.max_new_tokens = 4;
    r.tag = uint64_t(100 + i);
    reqs.push_back(r);
  }
  // Request 0 under hard3 alone.
  auto h1 = make_hook();
  h1->bind(100, 0, 0);
  RouterHook* hooks1[] = {h1.get()};
  EngineOptions one;
  one.max_batch_seqs = 1;
  const auto alone = Engine(model, TextDecoder{}, one).generate(std::span(reqs.data(), 1), hooks1);
  // All four: 0 hard3, 1 mask01, 2 hard3 (another stream), 3 baseline (unbound).
  auto h4 = make_hook();
  h4->bind(100, 0, 0);
  h4->bind(101, 1, 1);
  h4->bind(102, 0, 2);
  RouterHook* hooks4[] = {h4.get()};
  EngineOptions packed;
  packed.max_batch_seqs = 4;
  packed.max_batch_tokens = 7;
  const auto all = Engine(model, TextDecoder{}, packed).generate(reqs, hooks4);
  EXPECT_EQ(all[0].tokens, alone[0].tokens);
  const auto base = Engine(model, TextDecoder{}, one).generate(std::span(reqs.data() + 3, 1));
  EXPECT_EQ(all[3].tokens, base[0].tokens);
  // Expert 3 is always selected under hard3 (boosted to the maximum, top-3 of 8); experts 0
  // and 1 never under mask01.
  const SelectionCounts& c = h1->counts(0);
  for (int l = 0; l < shape.num_layers; ++l) {
    EXPECT_EQ(c.after_at(l, 3), c.tokens[size_t(l)]) << "layer " << l;
    EXPECT_EQ(h4->counts(1).after_at(l, 0), 0);
    EXPECT_EQ(h4->counts(1).after_at(l, 1), 0);
    EXPECT_GT(h4->counts(1).tokens[size_t(l)], 0);
  }
}

}  // namespace
}  // namespace moe::routing
