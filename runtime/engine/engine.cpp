#include "runtime/engine/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <deque>

#include "runtime/core/error.h"
#include "runtime/engine/sampling.h"
#include "runtime/models/model.h"

namespace moe {

namespace {

// One sequence's tokens being fed to the model: tokens [0, n) go into cache slot `slot`
// (possibly over several steps); token i with lo <= i < hi wants its next-token logits.
struct Feed {
  int slot = 0;
  const int32_t* tokens = nullptr;
  int64_t n = 0;
  int64_t fed = 0;
  int64_t lo = 0, hi = 0;
  uint64_t tag = 0;
  bool prefill = true;
  size_t owner = 0;  // index of the request
  bool done() const { return fed == n; }
};

using RowSink = std::function<void(Feed&, int64_t token_index, std::span<const float> row)>;

// Throws InputError at `where` unless every id is in [0, V).
void check_token_ids(std::span<const int32_t> ids, int64_t V, const std::string& where) {
  for (int32_t t : ids)
    if (t < 0 || t >= V) throw input_error(where, "expected token ids in [0, {}), found {}", V, t);
}

}  // namespace

struct Engine::Impl {
  std::shared_ptr<Model> model;
  TextDecoder decode;
  EngineOptions opt;
  int64_t max_context = 0;
  std::unique_ptr<KvCache> cache;
  std::vector<int> free_slots;
  std::function<void()> step_check;  // Engine::set_step_check

  Impl(std::shared_ptr<Model> m, TextDecoder d, EngineOptions o)
      : model(std::move(m)), decode(std::move(d)), opt(o) {
    MOE_ASSERT(model, "engine without a model");
    MOE_ASSERT(opt.max_batch_tokens > 0 && opt.max_batch_seqs > 0 && opt.max_logit_rows > 0,
               "engine options need positive batch limits");
    max_context = opt.max_context > 0 ? opt.max_context : model->config().max_position_embeddings;
    if (max_context <= 0) max_context = 4096;
    const int64_t cap = opt.kv_cache_tokens > 0 ? opt.kv_cache_tokens
                                                : int64_t(opt.max_batch_seqs) * max_context;
    cache = model->make_cache(opt.max_batch_seqs, cap);
    for (int s = opt.max_batch_seqs - 1; s >= 0; --s) free_slots.push_back(s);
  }

  int take_slot() {
    const int s = free_slots.back();
    free_slots.pop_back();
    return s;
  }
  void give_slot(int s) {
    cache->release(s);
    free_slots.push_back(s);
  }
  // Gives every slot back (releasing its cache). Every call starts and, when it returns, ends
  // with all slots free; SlotsBack runs this when a call ends by an exception (a hook, the
  // progress callback or the step check that throws, e.g. to cancel), so the engine stays usable.
  void release_all() {
    if (int(free_slots.size()) == opt.max_batch_seqs) return;  // the usual way out
    std::vector<char> is_free(size_t(opt.max_batch_seqs), 0);
    for (int s : free_slots) is_free[size_t(s)] = 1;
    for (int s = opt.max_batch_seqs - 1; s >= 0; --s)
      if (!is_free[size_t(s)]) give_slot(s);
  }
  // The scope of one engine call: on the way out, every slot the call still holds goes back.
  struct SlotsBack {
    Impl& im;
    explicit SlotsBack(Impl& i) : im(i) {}
    SlotsBack(const SlotsBack&) = delete;
    SlotsBack& operator=(const SlotsBack&) = delete;
    ~SlotsBack() { im.release_all(); }
  };
  // Reserves cache room for `tokens` in a fresh slot; -1 when no slot or room is free now.
  int admit(int64_t tokens) {
    if (free_slots.empty()) return -1;
    const int s = free_slots.back();
    if (!cache->reserve(s, tokens)) return -1;
    free_slots.pop_back();
    return s;
  }

  // One forward step over the feeds (in order), each contributing its next chunk within the
  // token and logit-row budgets. Returns false if nothing could be scheduled.
  bool step(std::span<Feed* const> feeds, HookList hooks, const RowSink& sink) {
    ForwardBatch batch;
    std::vector<std::pair<Feed*, int64_t>> row_of;  // logit row -> (feed, token index)
    int64_t tokens_left = opt.max_batch_tokens, rows_left = opt.max_logit_rows;
    std::vector<std::pair<Feed*, int64_t>> chunks;
    for (Feed* f : feeds) {
      if (tokens_left == 0 || f->done()) continue;
      int64_t chunk = std::min(f->n - f->fed, tokens_left);
      const int64_t r0 = std::max(f->fed, f->lo);
      if (std::min(f->fed + chunk, f->hi) - r0 > rows_left) chunk = r0 + rows_left - f->fed;
      if (chunk <= 0) continue;
      const int32_t begin = int32_t(batch.tokens.size());
      batch.add(f->slot, std::span<const int32_t>(f->tokens + f->fed, size_t(chunk)), f->tag,
                f->prefill, ForwardBatch::Logits::kNone);
      for (int64_t i = std::max(f->fed, f->lo); i < std::min(f->fed + chunk, f->hi); ++i) {
        batch.logit_rows.push_back(begin + int32_t(i - f->fed));
        row_of.emplace_back(f, i);
      }
      tokens_left -= chunk;
      rows_left -= std::max<int64_t>(0, std::min(f->fed + chunk, f->hi) - r0);
      chunks.emplace_back(f, chunk);
    }
    if (chunks.empty()) return false;
    if (step_check) step_check();
    Tensor logits;
    model->forward(batch, *cache, hooks, row_of.empty() ? nullptr : &logits);
    for (auto& [f, c] : chunks) f->fed += c;
    const int64_t V = row_of.empty() ? 0 : logits.size(1);
    for (size_t r = 0; r < row_of.size(); ++r)
      sink(*row_of[r].first, row_of[r].second,
           std::span<const float>(logits.data<float>() + int64_t(r) * V, size_t(V)));
    return true;
  }

  // Feeds every request's whole token list once (loglikelihood, prefill), packing as many
  // requests per step as fit. make(i) builds request i's Feed (slot filled here).
  void run_once(size_t count, const std::function<Feed(size_t)>& make, HookList hooks,
                const RowSink& sink, const std::function<void(Feed&)>& finish) {
    std::deque<Feed> active;
    size_t next = 0;
    while (next < count || !active.empty()) {
      while (next < count) {
        Feed f = make(next);
        if (f.n > max_context)
          throw input_error(fmt::format("request {}", next),
                            "expected at most {} tokens (the context), found {}", max_context, f.n);
        const int slot = admit(f.n);
        if (slot < 0) {
          if (active.empty())
            throw Error(fmt::format("KV cache cannot hold request {} ({} tokens)", next, f.n));
          break;
        }
        f.slot = slot;
        f.owner = next++;
        active.push_back(f);
      }
      std::vector<Feed*> order;
      for (Feed& f : active) order.push_back(&f);
      step(order, hooks, sink);
      for (auto it = active.begin(); it != active.end();) {
        if (it->done()) {
          finish(*it);
          give_slot(it->slot);
          it = active.erase(it);
        } else {
          ++it;
        }
      }
    }
  }
};

Engine::Engine(std::shared_ptr<Model> model, TextDecoder decoder, EngineOptions options)
    : impl_(std::make_unique<Impl>(std::move(model), std::move(decoder), options)) {}
Engine::~Engine() = default;
Model& Engine::model() { return *impl_->model; }
void Engine::set_step_check(std::function<void()> check) {
  impl_->step_check = std::move(check);
}

std::vector<GenerateResult> Engine::generate(std::span<const GenerateRequest> requests,
                                             HookList hooks, const ProgressFn& progress) {
  Impl& im = *impl_;
  const Impl::SlotsBack slots_back(im);
  struct State {
    size_t req = 0;
    std::vector<int32_t> input;  // tokens still to feed: the prompt, then the last sampled token
    Feed feed;
    SamplerRng rng{0};
    bool sampled = false;        // this step produced a token for this state
    int32_t token = 0;
  };
  const int64_t V = im.model->config().vocab_size;
  for (size_t i = 0; i < requests.size(); ++i) {
    const GenerateRequest& r = requests[i];
    const std::string where = fmt::format("generate request {}", i);
    if (r.prompt.empty()) throw input_error(where, "expected a non-empty prompt, found none");
    check_token_ids(r.prompt, V, where);
    if (!r.stop_strings.empty() && !im.decode)
      throw input_error(where, "stop strings need a tokenizer, and the engine has none");
  }
  std::vector<GenerateResult> results(requests.size());
  int64_t finished = 0;
  auto report = [&] {
    ++finished;
    if (progress) progress(finished, int64_t(requests.size()));
  };
  std::deque<State> active;
  size_t next = 0;
  auto finish = [&](State& s, GenerateResult::Finish why, size_t cut) {
    GenerateResult& res = results[s.req];
    res.finish = why;
    if (im.decode) {
      res.text = im.decode(res.tokens);
      if (why == GenerateResult::Finish::kStopString) res.text.resize(cut);
    }
    report();
  };

  while (next < requests.size() || !active.empty()) {
    while (next < requests.size()) {
      const GenerateRequest& r = requests[next];
      if (int64_t(r.prompt.size()) >= im.max_context || r.max_new_tokens <= 0) {
        results[next].finish = r.max_new_tokens <= 0 ? GenerateResult::Finish::kMaxTokens
                                                     : GenerateResult::Finish::kContextFull;
        ++next;
        report();
        continue;
      }
      const int64_t need =
          std::min<int64_t>(int64_t(r.prompt.size()) + r.max_new_tokens, im.max_context);
      const int slot = im.admit(need);
      if (slot < 0) {
        if (active.empty())
          throw Error(fmt::format("KV cache cannot hold request {} ({} tokens)", next, need));
        break;
      }
      State s;
      s.req = next++;
      s.input = r.prompt;
      s.rng = SamplerRng(r.sampling.seed);
      s.feed.slot = slot;
      s.feed.tag = r.tag;
      s.feed.owner = s.req;
      active.push_back(std::move(s));
    }
    // Decode tokens first, then prompt chunks.
    std::vector<Feed*> order;
    for (int pass = 0; pass < 2; ++pass)
      for (State& s : active) {
        const bool decoding = !s.feed.prefill;
        if ((pass == 0) != decoding) continue;
        s.feed.tokens = s.input.data();
        s.feed.n = int64_t(s.input.size());
        s.feed.lo = s.feed.n - 1;
        s.feed.hi = s.feed.n;
        order.push_back(&s.feed);
      }
    im.step(order, hooks, [&](Feed& f, int64_t, std::span<const float> row) {
      for (State& s : active)
        if (&s.feed == &f) {
          s.token = sample_token(row, requests[s.req].sampling, s.rng);
          s.sampled = true;
        }
    });
    for (auto it = active.begin(); it != active.end();) {
      State& s = *it;
      if (!s.sampled) {
        ++it;
        continue;
      }
      s.sampled = false;
      const GenerateRequest& r = requests[s.req];
      GenerateResult& res = results[s.req];
      bool done = false;
      if (std::find(r.stop_tokens.begin(), r.stop_tokens.end(), s.token) != r.stop_tokens.end()) {
        finish(s, GenerateResult::Finish::kStopToken, 0);
        done = true;
      } else {
        res.tokens.push_back(s.token);
        size_t cut = std::string::npos;
        if (!r.stop_strings.empty()) {
          const std::string text = im.decode(res.tokens);
          for (const std::string& stop : r.stop_strings) {
            const size_t p = stop.empty() ? std::string::npos : text.find(stop);
            if (p != std::string::npos) cut = std::min(cut, p);
          }
        }
        if (cut != std::string::npos) {
          finish(s, GenerateResult::Finish::kStopString, cut);
          done = true;
        } else if (int64_t(res.tokens.size()) >= r.max_new_tokens) {
          finish(s, GenerateResult::Finish::kMaxTokens, 0);
          done = true;
        } else if (im.cache->length(s.feed.slot) >= im.max_context) {
          finish(s, GenerateResult::Finish::kContextFull, 0);
          done = true;
        }
      }
      if (done) {
        im.give_slot(s.feed.slot);
        it = active.erase(it);
        continue;
      }
      s.input.assign(1, s.token);
      s.feed.fed = 0;
      s.feed.prefill = false;
      ++it;
    }
  }
  return results;
}

std::vector<LoglikelihoodResult> Engine::loglikelihood(
    std::span<const LoglikelihoodRequest> requests, HookList hooks, const ProgressFn& progress) {
  Impl& im = *impl_;
  const Impl::SlotsBack slots_back(im);
  const int64_t V = im.model->config().vocab_size;
  std::vector<std::vector<int32_t>> seqs(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    const LoglikelihoodRequest& r = requests[i];
    const std::string where = fmt::format("loglikelihood request {}", i);
    if (r.context.empty()) throw input_error(where, "expected a non-empty context, found none");
    if (r.continuation.empty())
      throw input_error(where, "expected a non-empty continuation, found none");
    seqs[i] = r.context;
    seqs[i].insert(seqs[i].end(), r.continuation.begin(), r.continuation.end());
    check_token_ids(seqs[i], V, where);
  }
  std::vector<LoglikelihoodResult> results(requests.size());
  for (auto& r : results) r.greedy = true;
  int64_t finished = 0;
  im.run_once(
      requests.size(),
      [&](size_t i) {
        Feed f;
        f.tokens = seqs[i].data();
        f.n = int64_t(seqs[i].size());
        f.lo = int64_t(requests[i].context.size()) - 1;
        f.hi = f.n - 1;
        f.tag = requests[i].tag;
        return f;
      },
      hooks,
      [&](Feed& f, int64_t i, std::span<const float> row) {
        const int32_t target = f.tokens[i + 1];
        results[f.owner].logprob += log_prob(row, target);
        if (argmax(row) != target) results[f.owner].greedy = false;
      },
      [&](Feed&) {
        ++finished;
        if (progress) progress(finished, int64_t(requests.size()));
      });
  return results;
}

std::vector<NextTokenResult> Engine::next_token_logprobs(
    std::span<const NextTokenRequest> requests, HookList hooks, const ProgressFn& progress) {
  Impl& im = *impl_;
  const Impl::SlotsBack slots_back(im);
  const int64_t V = im.model->config().vocab_size;
  for (size_t i = 0; i < requests.size(); ++i) {
    const NextTokenRequest& r = requests[i];
    const std::string where = fmt::format("next-token request {}", i);
    if (r.context.empty()) throw input_error(where, "expected a non-empty context, found none");
    check_token_ids(r.context, V, where);
    check_token_ids(r.candidates, V, where);
  }
  std::vector<NextTokenResult> results(requests.size());
  int64_t finished = 0;
  im.run_once(
      requests.size(),
      [&](size_t i) {
        Feed f;
        f.tokens = requests[i].context.data();
        f.n = int64_t(requests[i].context.size());
        f.lo = f.n - 1;
        f.hi = f.n;
        f.tag = requests[i].tag;
        return f;
      },
      hooks,
      [&](Feed& f, int64_t, std::span<const float> row) {
        NextTokenResult& res = results[f.owner];
        for (int32_t c : requests[f.owner].candidates) res.logprob.push_back(log_prob(row, c));
        res.argmax = argmax(row);
      },
      [&](Feed&) {
        ++finished;
        if (progress) progress(finished, int64_t(requests.size()));
      });
  return results;
}

void Engine::prefill(std::span<const PrefillRequest> requests, HookList hooks,
                     const ProgressFn& progress) {
  Impl& im = *impl_;
  const Impl::SlotsBack slots_back(im);
  const int64_t V = im.model->config().vocab_size;
  for (size_t i = 0; i < requests.size(); ++i) {
    if (requests[i].tokens.empty())
      throw input_error(fmt::format("prefill request {}", i), "expected tokens, found none");
    check_token_ids(requests[i].tokens, V, fmt::format("prefill request {}", i));
  }
  int64_t finished = 0;
  im.run_once(
      requests.size(),
      [&](size_t i) {
        Feed f;
        f.tokens = requests[i].tokens.data();
        f.n = int64_t(requests[i].tokens.size());
        f.tag = requests[i].tag;
        return f;
      },
      hooks, [](Feed&, int64_t, std::span<const float>) {},
      [&](Feed&) {
        ++finished;
        if (progress) progress(finished, int64_t(requests.size()));
      });
}

}  // namespace moe
