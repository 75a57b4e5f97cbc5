// Engine: generation, loglikelihood and prefill on a tiny in-memory model (reference backend),
// checked against direct model forwards, and invariance of results to batching and chunking.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "runtime/core/error.h"
#include "runtime/engine/engine.h"
#include "runtime/engine/sampling.h"
#include "runtime/models/model.h"
#include "tests/unit/models/tiny_model.h"

namespace moe {
namespace {

std::shared_ptr<Model> tiny(io::Family f = io::Family::kQwen3Moe) {
  testing::TinySpec s;
  s.family = f;
  return testing::tiny_model(s);
}

std::vector<int32_t> prompt(int n, int seed) { return testing::tiny_prompt(n, seed); }
Tensor full_logits(Model& m, const std::vector<int32_t>& ids) { return testing::all_logits(m, ids); }

// Test decoder: id i -> one letter, so stop strings can be placed on known ids.
std::string letters(std::span<const int32_t> ids) {
  std::string s;
  for (int32_t i : ids) s += char('a' + i % 26);
  return s;
}

TEST(Engine, GreedyGenerationEqualsArgmaxOfFullRecompute) {
  auto m = tiny();
  Engine eng(m, TextDecoder{}, {});
  GenerateRequest r;
  r.prompt = prompt(7, 1);
  r.max_new_tokens = 6;
  const auto out = eng.generate(std::span(&r, 1));
  ASSERT_EQ(out[0].tokens.size(), 6u);
  EXPECT_EQ(out[0].finish, GenerateResult::Finish::kMaxTokens);
  std::vector<int32_t> ids = r.prompt;
  for (int32_t t : out[0].tokens) {
    const Tensor l = full_logits(*m, ids);
    const int64_t V = l.size(1);
    EXPECT_EQ(t, argmax(std::span<const float>(l.data<float>() + (l.size(0) - 1) * V, size_t(V))));
    ids.push_back(t);
  }
}

TEST(Engine, StopTokenIsExcludedAndStopStringCutsTheText) {
  auto m = tiny();
  Engine eng(m, TextDecoder(letters), {});
  GenerateRequest r;
  r.prompt = prompt(5, 2);
  r.max_new_tokens = 8;
  const auto free_run = eng.generate(std::span(&r, 1))[0].tokens;
  ASSERT_GE(free_run.size(), 4u);

  GenerateRequest stop_tok = r;
  stop_tok.stop_tokens = {free_run[2]};
  const auto a = eng.generate(std::span(&stop_tok, 1))[0];
  EXPECT_EQ(a.finish, GenerateResult::Finish::kStopToken);
  // The first occurrence of the stop id ends generation and is not part of the output.
  const auto first = std::find(free_run.begin(), free_run.end(), free_run[2]) - free_run.begin();
  EXPECT_EQ(a.tokens, std::vector<int32_t>(free_run.begin(), free_run.begin() + first));

  GenerateRequest stop_str = r;
  const std::string text = letters(free_run);
  stop_str.stop_strings = {text.substr(2, 2)};
  const auto b = eng.generate(std::span(&stop_str, 1))[0];
  EXPECT_EQ(b.finish, GenerateResult::Finish::kStopString);
  EXPECT_EQ(b.text, text.substr(0, text.find(text.substr(2, 2))));
}

TEST(Engine, ResultsDoNotDependOnBatchingOrChunking) {
  auto m = tiny(io::Family::kOlmoe);
  std::vector<GenerateRequest> reqs;
  for (int i = 0; i < 5; ++i) {
    GenerateRequest r;
    r.prompt = prompt(3 + 4 * i, i);
    r.max_new_tokens = 5;
    r.tag = uint64_t(i);
    if (i % 2) {
      r.sampling.greedy = false;
      r.sampling.temperature = 0.9f;
      r.sampling.top_p = 0.95f;
      r.sampling.top_k = 20;
      r.sampling.seed = 100 + uint64_t(i);
    }
    reqs.push_back(r);
  }
  EngineOptions one;
  one.max_batch_seqs = 1;
  EngineOptions packed;
  packed.max_batch_seqs = 5;
  packed.max_batch_tokens = 6;  // forces prompts to be split across steps
  const auto a = Engine(m, TextDecoder{}, one).generate(reqs);
  const auto b = Engine(m, TextDecoder{}, packed).generate(reqs);
  for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(a[i].tokens, b[i].tokens) << "request " << i;
}

TEST(Engine, LoglikelihoodIsTheSumOfLogSoftmaxOverTheContinuation) {
  auto m = tiny();
  std::vector<LoglikelihoodRequest> reqs(3);
  for (int i = 0; i < 3; ++i) {
    reqs[size_t(i)].context = prompt(4 + i, i);
    reqs[size_t(i)].continuation = prompt(2 + i, 10 + i);
  }
  EngineOptions o;
  o.max_batch_tokens = 7;
  o.max_logit_rows = 2;
  const auto res = Engine(m, TextDecoder{}, o).loglikelihood(reqs);
  for (size_t i = 0; i < reqs.size(); ++i) {
    std::vector<int32_t> ids = reqs[i].context;
    ids.insert(ids.end(), reqs[i].continuation.begin(), reqs[i].continuation.end());
    const Tensor l = full_logits(*m, ids);
    const int64_t V = l.size(1);
    double lp = 0;
    bool greedy = true;
    for (size_t j = reqs[i].context.size() - 1; j + 1 < ids.size(); ++j) {
      std::span<const float> row(l.data<float>() + int64_t(j) * V, size_t(V));
      double m2 = -INFINITY, z = 0;
      for (float v : row) m2 = std::max(m2, double(v));
      for (float v : row) z += std::exp(double(v) - m2);
      lp += double(row[size_t(ids[j + 1])]) - m2 - std::log(z);
      greedy = greedy && argmax(row) == ids[j + 1];
    }
    EXPECT_NEAR(res[i].logprob, lp, 1e-9) << "request " << i;
    EXPECT_EQ(res[i].greedy, greedy);
  }
}

TEST(Engine, NextTokenLogprobsEqualOneTokenLoglikelihoods) {
  auto m = tiny(io::Family::kOlmoe);
  std::vector<NextTokenRequest> reqs(3);
  std::vector<LoglikelihoodRequest> singles;
  for (int i = 0; i < 3; ++i) {
    reqs[size_t(i)].context = prompt(5 + 2 * i, i);
    reqs[size_t(i)].candidates = {3, 17, int32_t(40 + i), 95};
    for (int32_t c : reqs[size_t(i)].candidates)
      singles.push_back(LoglikelihoodRequest{reqs[size_t(i)].context, {c}, 0});
  }
  EngineOptions o;
  o.max_batch_tokens = 6;  // contexts split across steps
  const auto got = Engine(m, TextDecoder{}, o).next_token_logprobs(reqs);
  const auto want = Engine(m, TextDecoder{}, o).loglikelihood(singles);
  for (size_t i = 0; i < reqs.size(); ++i) {
    ASSERT_EQ(got[i].logprob.size(), 4u);
    for (size_t c = 0; c < 4; ++c)
      EXPECT_NEAR(got[i].logprob[c], want[i * 4 + c].logprob, 1e-6) << i << " " << c;
    const Tensor l = full_logits(*m, reqs[i].context);
    const int64_t V = l.size(1), last = l.size(0) - 1;
    EXPECT_EQ(got[i].argmax,
              argmax(std::span<const float>(l.data<float>() + last * V, size_t(V))));
  }
}

TEST(Engine, GreedyContinuationIsRecognisedAsGreedy) {
  auto m = tiny();
  Engine eng(m, TextDecoder{}, {});
  GenerateRequest g;
  g.prompt = prompt(6, 3);
  g.max_new_tokens = 3;
  const auto cont = eng.generate(std::span(&g, 1))[0].tokens;
  LoglikelihoodRequest r{g.prompt, cont, 0};
  EXPECT_TRUE(eng.loglikelihood(std::span(&r, 1))[0].greedy);
}

TEST(Engine, PrefillShowsEveryPromptTokenToTheHooksOnce) {
  auto m = tiny(io::Family::kOlmoe);
  struct Count : RouterHook {
    std::map<uint64_t, int64_t> tokens;  // per tag, summed over layers
    void on_routed(const RouterContext& ctx, const Tensor&, const Tensor&, const Tensor&) override {
      for (int t = 0; t < ctx.num_tokens; ++t) {
        EXPECT_TRUE(ctx.seq_prefill[ctx.token_seq[t]]);
        ++tokens[ctx.seq_tag[ctx.token_seq[t]]];
      }
    }
  } count;
  RouterHook* hooks[] = {&count};
  std::vector<PrefillRequest> reqs{{prompt(9, 1), 1}, {prompt(30, 2), 2}, {prompt(2, 3), 3}};
  EngineOptions o;
  o.max_batch_tokens = 16;
  o.max_batch_seqs = 2;
  Engine(m, TextDecoder{}, o).prefill(reqs, hooks);
  EXPECT_EQ(count.tokens[1], 9 * 2);  // two MoE layers
  EXPECT_EQ(count.tokens[2], 30 * 2);
  EXPECT_EQ(count.tokens[3], 2 * 2);
}

TEST(Engine, ACallEndedByAnExceptionGivesItsCacheSlotsBack) {
  // A progress callback that throws (as a cancelled sweep batch does) ends the call with every
  // slot still held by its running sequences; the engine must give them back, so that later
  // calls can use every slot and get the results a fresh engine gets.
  auto m = tiny(io::Family::kOlmoe);
  std::vector<GenerateRequest> reqs;
  for (int i = 0; i < 4; ++i) {
    GenerateRequest r;
    r.prompt = prompt(3 + 2 * i, i);
    r.max_new_tokens = 2 + 3 * i;  // the first one finishes while the others still run
    reqs.push_back(r);
  }
  std::vector<LoglikelihoodRequest> lls(3);
  std::vector<PrefillRequest> pre;
  for (int i = 0; i < 3; ++i) {
    lls[size_t(i)].context = prompt(4 + i, i);
    lls[size_t(i)].continuation = prompt(2 + i, 10 + i);
    pre.push_back({prompt(5 + 3 * i, i), uint64_t(i)});
  }
  struct Stop {};
  const ProgressFn stop_after_first = [](int64_t done, int64_t) {
    if (done == 1) throw Stop{};
  };
  EngineOptions o;
  o.max_batch_seqs = 4;
  o.kv_cache_tokens = 4 * 24;  // room for the four requests at once, and not for more
  Engine eng(m, TextDecoder{}, o);
  EXPECT_THROW(eng.generate(reqs, {}, stop_after_first), Stop);
  EXPECT_THROW(eng.loglikelihood(lls, {}, stop_after_first), Stop);
  EXPECT_THROW(eng.prefill(pre, {}, stop_after_first), Stop);
  EXPECT_THROW(eng.generate(reqs, {}, stop_after_first), Stop);
  const auto again = eng.generate(reqs);
  const auto fresh = Engine(m, TextDecoder{}, o).generate(reqs);
  for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(again[i].tokens, fresh[i].tokens) << i;
  const auto ll_again = eng.loglikelihood(lls);
  const auto ll_fresh = Engine(m, TextDecoder{}, o).loglikelihood(lls);
  for (size_t i = 0; i < lls.size(); ++i) EXPECT_EQ(ll_again[i].logprob, ll_fresh[i].logprob);
}

TEST(Engine, TheStepCheckRunsBeforeEveryStepAndMayEndTheCallBetweenSteps) {
  // One long generation: one step per generated token (the prompt fits one step). A check that
  // throws ends the call before the step that would run next, long before the request
  // finishes; without the check the engine gives what a fresh engine gives.
  auto m = tiny(io::Family::kOlmoe);
  GenerateRequest r;
  r.prompt = prompt(5, 1);
  r.max_new_tokens = 40;
  Engine eng(m, TextDecoder{}, {});
  int checks = 0;
  eng.set_step_check([&] { ++checks; });
  const auto full = eng.generate(std::span(&r, 1));
  ASSERT_EQ(full[0].tokens.size(), 40u);
  EXPECT_EQ(checks, 40);
  struct Stop {};
  checks = 0;
  int finished = 0;
  eng.set_step_check([&] {
    if (++checks == 6) throw Stop{};
  });
  EXPECT_THROW(eng.generate(std::span(&r, 1), {}, [&](int64_t, int64_t) { ++finished; }), Stop);
  EXPECT_EQ(checks, 6);
  EXPECT_EQ(finished, 0);
  eng.set_step_check({});
  const auto again = eng.generate(std::span(&r, 1));
  EXPECT_EQ(again[0].tokens, full[0].tokens);
  EXPECT_EQ(again[0].tokens, Engine(m, TextDecoder{}, {}).generate(std::span(&r, 1))[0].tokens);
}

TEST(Engine, BadRequestsAreInputErrors) {
  auto m = tiny();
  Engine eng(m, TextDecoder{}, {});
  GenerateRequest empty;
  EXPECT_THROW(eng.generate(std::span(&empty, 1)), InputError);
  GenerateRequest bad;
  bad.prompt = {1, 96};
  EXPECT_THROW(eng.generate(std::span(&bad, 1)), InputError);
  GenerateRequest needs_tok;
  needs_tok.prompt = {1};
  needs_tok.stop_strings = {"x"};
  EXPECT_THROW(eng.generate(std::span(&needs_tok, 1)), InputError);
  LoglikelihoodRequest no_ctx{{}, {1}, 0};
  EXPECT_THROW(eng.loglikelihood(std::span(&no_ctx, 1)), InputError);
}

}  // namespace
}  // namespace moe
