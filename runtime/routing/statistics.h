// Routing statistics (sweeps/METHODS.md A): a RouterHook that accumulates, per registered sequence
// and MoE layer, everything the divergence, entropy, consistency and expert-identification analyses
// need, while a corpus is prefilled.
//
// Per sequence i and MoE layer l, over the sequence's counted tokens t (all prompt tokens, or a
// content span [begin, end) of positions given per sequence):
//   importance[i,l,:]   q_i = mean_t of a per-token distribution, by `Importance`:
//                         kTopkRenorm    p = softmax(z); keep p_e >= the k-th largest p (ties
//                                        kept); divide by (sum kept + 1e-20)   (default)
//                         kRouterWeights the family's weights on the selected experts, / their sum
//                         kSoftmax       p over all E
//   frequency[i,l,:]    a_i / L_i: fraction of counted tokens whose selected experts contain e
//   entropy[i,l]        mean_t H(p_t) of the full softmax, H(p) = -sum p ln(p + 1e-10)
//   importance_entropy  H(q_i), the same entropy of the sequence's importance distribution
//   consistency[i,l]    mean Jaccard |A_s ∩ A_u| / |A_s ∪ A_u| of the selected expert sets of
//                       `consistency_pairs` token pairs (s < u) drawn by draw_token_pairs()
//                       with the sequence's own seed; NaN when fewer than 2 tokens count
// and pooled over the sequences: activation_tokens[l,e] (count of counted tokens that selected
// e) and total_tokens[l], so a language's f = activation_tokens / total_tokens.
// Statistics see the logits after every on_logits edit of hooks earlier in the list (an
// intervention's effect is measured when a collector runs after it).
//
// Sequences are registered up front (add()) with their request tag, prompt length and counted
// span; row i of the result is the i-th registered sequence. Tokens of unregistered tags and
// generated (non-prefill) tokens are ignored, so a collector can ride along any batch.
//
// Memory and devices: the collector owns dense accumulators indexed by row ([N, L, E] sums and
// counts, [N, L] entropy sums) and, per sequence still in flight, one expert bitmask per counted
// token and layer ([n, L, ceil(E/64)] u64, freed as soon as the sequence's last token has passed
// the last MoE layer). Nothing is copied per token: on the CPU the hook adds into the
// accumulators in place; per step it only maps the step's S slots to rows through the tags
// (host data the RouterContext always carries). A device implementation keeps the same
// accumulators on the device, uploads the [S] slot->row map per step and copies the arrays once
// in finish(). Raw per-token logits (option raw_logits, off by default) are kept as bf16,
// [n, L, E] per sequence: 2 * n * L * E bytes, sized for small corpora.
//
// Thread-safety: one thread drives a collector (as every hook); on_routed may use OpenMP
// worker threads internally, splitting by sequence so each row has a single writer.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "results/routing_stats.h"
#include "runtime/routing/router_hook.h"

namespace moe::routing {

enum class Importance { kTopkRenorm, kRouterWeights, kSoftmax };
std::string_view importance_name(Importance v);  // "topk_renorm" | "router_weights" | "softmax"
// Throws InputError at `where` for an unknown name.
Importance parse_importance(std::string_view name, const std::string& where);

inline constexpr int kDefaultConsistencyPairs = 500;
inline constexpr double kTopkRenormEps = 1e-20;  // added to the kept mass of topk_renorm

struct CollectorOptions {
  Importance importance = Importance::kTopkRenorm;
  int consistency_pairs = kDefaultConsistencyPairs;  // per sequence
  uint64_t seed = 0;        // the consistency pairs' seed (mixed with each sequence's stream)
  bool raw_logits = false;  // keep every counted token's router logits (bf16)
  // Which tokens count: recorded with the result; the spans given to add() implement it.
  bool content_only = false;
};

// One sequence to collect.
struct CollectedSequence {
  uint64_t tag = 0;         // the request tag the engine hands to hooks; unique per collector
  int64_t num_tokens = 0;   // prompt length
  int64_t count_begin = 0;  // counted token positions [count_begin, count_end)
  int64_t count_end = -1;   // -1 = num_tokens
  uint64_t pair_stream = 0;  // with options.seed, seeds the sequence's pairs (its corpus index)
};

// The `count` token pairs (s, u), 0 <= s < u < n, of one sequence. With M = n (n - 1) / 2
// distinct pairs: if M >= count, `count` distinct pairs; otherwise `count` pairs drawn with
// replacement. A pair is drawn as an index c uniform on [0, M) (Rng::below) and unranked as
// u = max{u : u (u - 1) / 2 <= c}, s = c - u (u - 1) / 2; distinct pairs reject repeated c.
// The generator is Rng(pair_seed(seed, stream)). n < 2 gives no pairs.
std::vector<std::pair<int64_t, int64_t>> draw_token_pairs(int64_t n, int count, uint64_t seed,
                                                          uint64_t stream);
// splitmix64(seed ^ splitmix64(stream)), splitmix64 being the finaliser of Steele et al.'s
// SplitMix64 applied to x + 0x9E3779B97F4A7C15.
uint64_t pair_seed(uint64_t seed, uint64_t stream);

class RoutingStatsCollector : public RouterHook {
 public:
  // num_layers: the model's MoE layers (ctx.moe_layer ranges over [0, num_layers)).
  RoutingStatsCollector(int num_layers, int num_experts, int top_k, CollectorOptions options = {});
  ~RoutingStatsCollector() override;
  RoutingStatsCollector(const RoutingStatsCollector&) = delete;
  RoutingStatsCollector& operator=(const RoutingStatsCollector&) = delete;

  // Registers sequences (rows in registration order). Throws InternalError on a repeated tag or
  // a span outside [0, num_tokens).
  void add(std::span<const CollectedSequence> sequences);

  void on_routed(const RouterContext& ctx, const Tensor& logits, const Tensor& experts,
                 const Tensor& weights) override;

  // The statistics of every registered sequence (row i = i-th registered); the collector is
  // empty afterwards. Throws Error naming the tag if a registered sequence's counted tokens did
  // not all pass every MoE layer.
  results::RoutingStats finish();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace moe::routing
