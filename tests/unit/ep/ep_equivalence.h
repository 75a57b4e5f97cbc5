// Test support: the expert-parallel equivalence scenario shared by the in-process replica tests
// (tests/unit/ep, ranks are threads) and the mpirun tests (tests/integration/ep).
//
// A fixed set of requests (greedy generation with different lengths, loglikelihood, prefill
// with logits of every token) runs once on a whole model (R = 1, the reference) and once split
// over the ranks of a replica (request i on rank i % R, so ranks get different numbers of
// sequences and steps, some none at all). Hooks: a Recorder (the selected experts and weights of
// every (sequence tag, MoE layer, position), and [L, E] counts of selected experts: routing
// statistics) and, optionally, a TagIntervention that pushes one expert's router logit for
// sequences with odd tags (an intervention looked up per sequence). compare() checks a rank's
// outcome against the reference restricted to that rank's tags.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <tuple>
#include <vector>

#include "runtime/engine/engine.h"
#include "runtime/models/model.h"
#include "runtime/routing/router_hook.h"

namespace moe::ep::testing {

// Records routing per (tag, moe_layer, position) and counts selected experts per layer.
struct Recorder : RouterHook {
  int num_experts = 0;
  std::map<std::tuple<uint64_t, int, int>, std::vector<int32_t>> experts;
  std::map<std::tuple<uint64_t, int, int>, std::vector<float>> weights;
  std::vector<int64_t> counts;  // [L * E]
  void on_routed(const RouterContext& ctx, const Tensor&, const Tensor& e,
                 const Tensor& w) override {
    num_experts = ctx.num_experts;
    const size_t need = size_t(ctx.moe_layer + 1) * size_t(ctx.num_experts);
    if (counts.size() < need) counts.resize(need, 0);
    for (int t = 0; t < ctx.num_tokens; ++t) {
      const auto key =
          std::make_tuple(ctx.seq_tag[ctx.token_seq[t]], ctx.moe_layer, int(ctx.token_pos[t]));
      auto& ids = experts[key];
      auto& ws = weights[key];
      ids.assign(e.data<int32_t>() + int64_t(t) * ctx.top_k,
                 e.data<int32_t>() + int64_t(t + 1) * ctx.top_k);
      ws.assign(w.data<float>() + int64_t(t) * ctx.top_k,
                w.data<float>() + int64_t(t + 1) * ctx.top_k);
      for (int32_t id : ids) ++counts[size_t(ctx.moe_layer) * size_t(ctx.num_experts) + size_t(id)];
    }
  }
};

// Adds `boost` to the router logit of expert (tag / 2) % E for tokens of sequences with odd tags.
struct TagIntervention : RouterHook {
  float boost = 6.0f;
  void on_logits(const RouterContext& ctx, Tensor& logits) override {
    for (int t = 0; t < ctx.num_tokens; ++t) {
      const uint64_t tag = ctx.seq_tag[ctx.token_seq[t]];
      if (tag % 2 == 0) continue;
      logits.data<float>()[int64_t(t) * ctx.num_experts + int64_t((tag / 2) % ctx.num_experts)] +=
          boost;
    }
  }
};

struct Requests {
  std::vector<GenerateRequest> generate;
  std::vector<LoglikelihoodRequest> loglikelihood;
  std::vector<PrefillRequest> prefill;  // also run as one forward step with logits of all tokens
};

// Deterministic requests over token ids [0, vocab). Tags: 100 + i (generate), 200 + i
// (loglikelihood), 300 + i (prefill); odd tags get the intervention.
inline Requests make_requests(int64_t vocab) {
  auto ids = [vocab](int n, int seed) {
    std::vector<int32_t> p;
    for (int i = 0; i < n; ++i) p.push_back(int32_t((seed * 37 + i * 11 + i * i * 3) % vocab));
    return p;
  };
  Requests r;
  const int gen_prompt[] = {5, 9, 3, 12, 7};
  const int gen_new[] = {6, 2, 9, 4, 1};
  for (int i = 0; i < 5; ++i) {
    GenerateRequest g;
    g.prompt = ids(gen_prompt[i], i + 1);
    g.max_new_tokens = gen_new[i];
    g.tag = uint64_t(100 + i);
    r.generate.push_back(g);
  }
  for (int i = 0; i < 3; ++i) {
    LoglikelihoodRequest l;
    l.context = ids(4 + 3 * i, 10 + i);
    l.continuation = ids(2 + i, 20 + i);
    l.tag = uint64_t(200 + i);
    r.loglikelihood.push_back(l);
  }
  for (int i = 0; i < 2; ++i)
    r.prefill.push_back(PrefillRequest{ids(6 + 5 * i, 30 + i), uint64_t(300 + i)});
  return r;
}

// Request i of each kind goes to rank i % R.
inline Requests share(const Requests& all, int rank, int R) {
  Requests r;
  for (size_t i = 0; i < all.generate.size(); ++i)
    if (int(i % size_t(R)) == rank) r.generate.push_back(all.generate[i]);
  for (size_t i = 0; i < all.loglikelihood.size(); ++i)
    if (int(i % size_t(R)) == rank) r.loglikelihood.push_back(all.loglikelihood[i]);
  for (size_t i = 0; i < all.prefill.size(); ++i)
    if (int(i % size_t(R)) == rank) r.prefill.push_back(all.prefill[i]);
  return r;
}

struct Outcome {
  std::map<uint64_t, std::vector<int32_t>> generated;  // tag -> greedy tokens
  std::map<uint64_t, LoglikelihoodResult> loglikelihood;
  std::map<uint64_t, std::vector<float>> logits;  // tag -> [len, V] prefill logits
  Recorder rec;
};

// Runs `reqs` on `model` with the hooks; `wrap` runs each engine operation (for a replica:
// Replica::run with the model; for R = 1: a plain call).
inline Outcome run_requests(const std::shared_ptr<Model>& model, const Requests& reqs,
                            bool intervene,
                            const std::function<void(const std::function<void()>&)>& wrap) {
  Outcome out;
  TagIntervention iv;
  std::vector<RouterHook*> hooks;
  if (intervene) hooks.push_back(&iv);
  hooks.push_back(&out.rec);
  EngineOptions eo;
  eo.max_batch_tokens = 16;  // several steps per call, prompts split into chunks
  eo.max_batch_seqs = 4;
  eo.max_context = 64;
  Engine engine(model, TextDecoder{}, eo);
  wrap([&] {
    const auto res = engine.generate(reqs.generate, hooks);
    for (size_t i = 0; i < res.size(); ++i) out.generated[reqs.generate[i].tag] = res[i].tokens;
  });
  wrap([&] {
    const auto res = engine.loglikelihood(reqs.loglikelihood, hooks);
    for (size_t i = 0; i < res.size(); ++i) out.loglikelihood[reqs.loglikelihood[i].tag] = res[i];
  });
  // One forward step over every prefill sequence of this rank, logits of every token. The
  // tags are moved by 1000 so the routing records do not collide with the engine's prefill.
  wrap([&] {
    if (reqs.prefill.empty()) return;
    auto cache = model->make_cache(int(reqs.prefill.size()), 256);
    ForwardBatch b;
    for (size_t i = 0; i < reqs.prefill.size(); ++i)
      b.add(int(i), reqs.prefill[i].tokens, reqs.prefill[i].tag + 1000, true,
            ForwardBatch::Logits::kAll);
    Tensor logits;
    model->forward(b, *cache, hooks, &logits);
    const int64_t V = logits.size(1);
    int64_t row = 0;
    for (const auto& p : reqs.prefill) {
      const int64_t n = int64_t(p.tokens.size());
      out.logits[p.tag].assign(logits.data<float>() + row * V,
                               logits.data<float>() + (row + n) * V);
      row += n;
    }
  });
  wrap([&] { engine.prefill(reqs.prefill, hooks); });
  return out;
}

// `got` (one rank's share) against the reference restricted to the same tags. Selected experts,
// routing weights and greedy tokens must be identical; logits and log-probabilities within
// logits_tol (0 = bitwise).
inline void compare(const Outcome& ref, const Outcome& got, double logits_tol,
                    const std::string& what) {
  for (const auto& [tag, toks] : got.generated)
    EXPECT_EQ(toks, ref.generated.at(tag)) << what << " tag " << tag;
  for (const auto& [tag, r] : got.loglikelihood) {
    const LoglikelihoodResult& e = ref.loglikelihood.at(tag);
    if (logits_tol == 0)
      EXPECT_EQ(r.logprob, e.logprob) << what << " tag " << tag;
    else
      EXPECT_NEAR(r.logprob, e.logprob, logits_tol * (1 + std::abs(e.logprob)))
          << what << " tag " << tag;
    EXPECT_EQ(r.greedy, e.greedy) << what << " tag " << tag;
  }
  for (const auto& [tag, l] : got.logits) {
    const std::vector<float>& e = ref.logits.at(tag);
    ASSERT_EQ(l.size(), e.size()) << what << " tag " << tag;
    for (size_t i = 0; i < l.size(); ++i) {
      if (logits_tol == 0)
        ASSERT_EQ(l[i], e[i]) << what << " tag " << tag << " logit " << i;
      else
        ASSERT_NEAR(l[i], e[i], logits_tol * (1 + std::abs(e[i])))
            << what << " tag " << tag << " logit " << i;
    }
  }
  size_t seen = 0;
  for (const auto& [key, ids] : got.rec.experts) {
    ASSERT_TRUE(ref.rec.experts.count(key)) << what << " unexpected routing record";
    EXPECT_EQ(ids, ref.rec.experts.at(key)) << what << " tag " << std::get<0>(key) << " moe layer "
                                            << std::get<1>(key) << " position " << std::get<2>(key);
    const std::vector<float>& gw = got.rec.weights.at(key);
    const std::vector<float>& rw = ref.rec.weights.at(key);
    for (size_t j = 0; j < gw.size(); ++j)
      EXPECT_NEAR(gw[j], rw[j], logits_tol) << what << " routing weight " << j;
    ++seen;
  }
  EXPECT_GT(seen, 0u) << what << ": no routing recorded";
}

// Routing records whose selected experts differ between two reference outcomes (e.g. with and
// without the intervention): the intervention must change something for the test to mean it.
inline int count_changed_records(const Outcome& a, const Outcome& b) {
  int n = 0;
  for (const auto& [key, ids] : a.rec.experts)
    if (b.rec.experts.count(key) && b.rec.experts.at(key) != ids) ++n;
  return n;
}

}  // namespace moe::ep::testing
