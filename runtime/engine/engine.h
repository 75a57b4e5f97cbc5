// Engine: batched inference over a loaded Model: prefill (for routing statistics), greedy or
// seeded-sampling generation with stop tokens/strings, and loglikelihood of continuations
// (multiple-choice scoring).
//
// Requests are independent sequences; the engine packs them into steps of at most
// max_batch_tokens tokens (variable lengths, no padding) and max_batch_seqs sequences, keeps a
// KV cache per live sequence, and calls the attached RouterHooks at every MoE layer with each
// token's sequence tag (see router_hook.h). Results are returned in request order and do not
// depend on how requests were batched (up to floating-point summation order within a GEMM).
// Scheduling: continuous batching. Each step packs decode tokens of running sequences first,
// then prompt chunks (a long prompt is split across steps), within max_batch_tokens,
// max_batch_seqs and max_logit_rows; finished sequences free their cache slot at once.
// A call that ends by an exception (a hook's, the progress callback's or the step check's, e.g.
// to cancel) gives its sequences' cache slots back: the engine stays usable.
// Thread-safety: one Engine is driven by one thread; it uses the backend's worker threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/routing/router_hook.h"

namespace moe {

namespace io {
class Tokenizer;
}
class Model;

struct SamplingOptions {
  bool greedy = true;  // greedy decoding (default, deterministic)
  float temperature = 1.0f;
  float top_p = 1.0f;
  int top_k = 0;        // 0 = off
  uint64_t seed = 0;    // per-request stream: results do not depend on batching
};

struct GenerateRequest {
  std::vector<int32_t> prompt;             // token ids, template already applied
  int max_new_tokens = 256;
  std::vector<int32_t> stop_tokens;        // e.g. the family's EOS / end-of-turn ids
  std::vector<std::string> stop_strings;   // stop when the decoded output contains one
  SamplingOptions sampling;
  uint64_t tag = 0;                        // handed to hooks for every token of this sequence
};

struct GenerateResult {
  enum class Finish { kStopToken, kStopString, kMaxTokens, kContextFull };
  std::vector<int32_t> tokens;  // generated ids (stop token excluded)
  std::string text;             // decoded, cut before a matched stop string
  Finish finish = Finish::kMaxTokens;
};

struct LoglikelihoodRequest {
  std::vector<int32_t> context;       // [Lc] prompt ids
  std::vector<int32_t> continuation;  // [Ln] ids to score, Ln >= 1
  uint64_t tag = 0;
};

struct LoglikelihoodResult {
  double logprob = 0.0;  // sum over continuation tokens of log p(token | prefix)
  bool greedy = false;   // every continuation token is the argmax
};

// Log-probabilities of several candidate next tokens after one context (multiple-choice
// scoring with one-token answers: one forward pass instead of one per candidate).
struct NextTokenRequest {
  std::vector<int32_t> context;     // [Lc] prompt ids, Lc >= 1
  std::vector<int32_t> candidates;  // [C] token ids
  uint64_t tag = 0;
};

struct NextTokenResult {
  std::vector<double> logprob;  // [C] log p(candidate | context)
  int32_t argmax = 0;           // the most likely next token over the whole vocabulary
};

struct PrefillRequest {
  std::vector<int32_t> tokens;
  uint64_t tag = 0;
};

struct EngineOptions {
  int max_batch_tokens = 4096;
  int max_batch_seqs = 64;
  int64_t max_context = 0;  // 0 = the model's max_position_embeddings
  int max_logit_rows = 512;  // logits rows per step ([R, V] f32 kept on the host)
  int64_t kv_cache_tokens = 0;  // KV capacity; 0 = max_batch_seqs * max_context (reserved
                                // virtually on the CPU, backed as used)
};

// Turns generated ids into text (stop strings, GenerateResult::text). The tokenizer
// constructor decodes with io::Tokenizer::decode (special tokens kept).
using TextDecoder = std::function<std::string(std::span<const int32_t> ids)>;

// Called after each finished request with (done, total).
using ProgressFn = std::function<void(int64_t done, int64_t total)>;

class Engine {
 public:
  Engine(std::shared_ptr<Model> model, std::shared_ptr<const io::Tokenizer> tokenizer,
         EngineOptions options = {});
  // Without a tokenizer: `decoder` may be empty (then stop strings are refused and text is "").
  Engine(std::shared_ptr<Model> model, TextDecoder decoder, EngineOptions options = {});
  ~Engine();

  std::vector<GenerateResult> generate(std::span<const GenerateRequest> requests,
                                       HookList hooks = {}, const ProgressFn& progress = {});
  std::vector<LoglikelihoodResult> loglikelihood(std::span<const LoglikelihoodRequest> requests,
                                                 HookList hooks = {},
                                                 const ProgressFn& progress = {});
  // Equals loglikelihood() of each candidate as a one-token continuation, in one pass.
  std::vector<NextTokenResult> next_token_logprobs(std::span<const NextTokenRequest> requests,
                                                   HookList hooks = {},
                                                   const ProgressFn& progress = {});
  // Runs the prompt through the model for the hooks' sake only (no logits kept).
  void prefill(std::span<const PrefillRequest> requests, HookList hooks,
               const ProgressFn& progress = {});

  // `check` runs before every forward step of every later call, until replaced (an empty
  // function removes it). It may throw, e.g. to cancel: the call then ends with that exception
  // between two steps. A step is one token per running sequence in decoding and at most
  // max_batch_tokens prompt tokens, so a check ends even one long generation within a step.
  void set_step_check(std::function<void()> check);

  Model& model();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace moe
