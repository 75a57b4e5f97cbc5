// Phi-3.5-MoE LongRoPE: the two modes (ModelLoadOptions::longrope) on the committed phimoe
// fixtures (tests/golden/phimoe_*, original_max_position_embeddings 16, made by transformers):
//  - a prompt that stays within 16 tokens through its greedy continuation (prompt_0000: 3 + 8)
//    gets bit-identical logits and tokens in both modes, equal to transformers' within the
//    golden tolerance;
//  - a prompt longer than 16 (prompt_0003: 33 tokens) differs between the modes, and only the
//    transformers mode reproduces transformers (which never reads the long factors).
// Tolerances: f32 1e-4 on logits (summation order only); bf16 1e-3 (the reference backend's bf16
// emulation rounds where transformers does; observed differences are below 1e-6).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "results/h5.h"
#include "runtime/engine/sampling.h"
#include "runtime/models/model.h"

namespace moe {
namespace {

struct Traced {
  std::vector<float> logits;         // [T, V] prompt logits
  std::vector<float> greedy_logits;  // [G, V]
  std::vector<int32_t> greedy;       // [G]
};

// Prefill, then G greedy tokens one step at a time through the cache (as the fixtures were made).
Traced run(Model& m, const std::vector<int32_t>& ids, int G) {
  const int64_t V = m.config().vocab_size;
  auto cache = m.make_cache(1, int64_t(ids.size()) + G + 1);
  ForwardBatch b;
  b.add(0, ids, 0, true, ForwardBatch::Logits::kAll);
  Tensor l;
  m.forward(b, *cache, {}, &l);
  Traced r;
  r.logits.assign(l.data<float>(), l.data<float>() + l.numel());
  r.greedy_logits.assign(r.logits.end() - V, r.logits.end());
  for (int s = 0; s < G; ++s) {
    const int32_t next =
        argmax(std::span<const float>(r.greedy_logits.data() + int64_t(s) * V, size_t(V)));
    r.greedy.push_back(next);
    if (s + 1 == G) break;
    ForwardBatch step;
    step.add(0, std::span<const int32_t>(&next, 1), 0, false, ForwardBatch::Logits::kLast);
    Tensor sl;
    m.forward(step, *cache, {}, &sl);
    r.greedy_logits.insert(r.greedy_logits.end(), sl.data<float>(), sl.data<float>() + V);
  }
  return r;
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    d = std::max(d, double(std::fabs(a[i] - b[i])));
  return d;
}

class LongRopeModes : public ::testing::TestWithParam<std::pair<std::string, double>> {};

TEST_P(LongRopeModes, AgreeWithinTheOriginalLengthAndOnlyTransformersModeMatchesBeyond) {
  const auto& [name, tol] = GetParam();
  const std::string dir = std::string(MOE_SOURCE_DIR) + "/tests/golden/" + name;
  h5::File f = h5::File::open(dir + "/expected.h5");
  ModelLoadOptions o;
  o.backend.name = "cpu-ref";
  o.longrope = ModelLoadOptions::LongRope::kReference;
  auto ref = load_model(dir, o);
  o.longrope = ModelLoadOptions::LongRope::kTransformers;
  auto tf = load_model(dir, o);
  EXPECT_EQ(ref->description(), "longrope=reference");
  EXPECT_EQ(tf->description(), "longrope=transformers");
  ASSERT_EQ(ref->config().rope.original_max_position_embeddings, 16);

  // prompt_0000: 3 tokens + 8 greedy steps = 11 <= 16.
  const h5::Group p0 = f.root().open_group("prompt_0000");
  const std::vector<int32_t> ids0 = p0.read<int32_t>("input_ids");
  const std::vector<int32_t> want0 = p0.read<int32_t>("greedy_tokens");
  ASSERT_LE(ids0.size() + want0.size(), 16u);
  const Traced a = run(*ref, ids0, int(want0.size())), b = run(*tf, ids0, int(want0.size()));
  EXPECT_EQ(max_diff(a.logits, b.logits), 0.0);
  EXPECT_EQ(max_diff(a.greedy_logits, b.greedy_logits), 0.0);
  EXPECT_EQ(a.greedy, b.greedy);
  EXPECT_EQ(a.greedy, want0);
  EXPECT_LE(max_diff(a.logits, p0.read<float>("logits")), tol);
  EXPECT_LE(max_diff(a.greedy_logits, p0.read<float>("greedy_logits")), tol);

  // prompt_0003: 33 tokens, long from the start.
  const h5::Group p3 = f.root().open_group("prompt_0003");
  const std::vector<int32_t> ids3 = p3.read<int32_t>("input_ids");
  ASSERT_GT(ids3.size(), 16u);
  const std::vector<float> want3 = p3.read<float>("logits");
  const double ref_diff = max_diff(run(*ref, ids3, 0).logits, want3);
  const double tf_diff = max_diff(run(*tf, ids3, 0).logits, want3);
  std::printf("[ longrope ] %s prompt_0003 (33 tokens): max |logit - transformers| reference "
              "mode %.3g, transformers mode %.3g\n",
              name.c_str(), ref_diff, tf_diff);
  EXPECT_LE(tf_diff, tol);
  EXPECT_GT(ref_diff, 100 * tol);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LongRopeModes,
                         ::testing::Values(std::pair<std::string, double>{"phimoe_f32", 1e-4},
                                           std::pair<std::string, double>{"phimoe_bf16", 1e-3}),
                         [](const auto& i) { return i.param.first; });

}  // namespace
}  // namespace moe
