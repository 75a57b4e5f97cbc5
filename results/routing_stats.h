// RoutingStats: the routing statistics of one (model, corpus, language) (sweeps/METHODS.md A), as
// the collector (runtime/routing/statistics.h) produces them and as they are stored in HDF5 under
// /routing/{model}/{corpus}/{language} (results/SCHEMA.md, "Routing statistics").
//
// Rows are the corpus' sequences in corpus order (row i of every [N, ...] array is sequence i,
// index-aligned across the languages of a parallel corpus); layers are the model's MoE layers in
// order (`layers` gives their decoder indices).
// Thread-safety: plain values; the file functions use HDF5 (one thread per process).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "results/metrics.h"

namespace moe::h5 {
class Group;
}

namespace moe::results {

struct RoutingStats {
  // How they were collected.
  std::string importance = "topk_renorm";  // topk_renorm | router_weights | softmax
  std::string tokens = "all";              // all | content
  int consistency_pairs = 500;
  uint64_t seed = 0;

  int num_seqs = 0;     // N
  int num_layers = 0;   // L (MoE layers)
  int num_experts = 0;  // E
  int top_k = 0;        // k
  std::vector<int32_t> layers;            // [L] decoder layer index of each MoE layer
  std::vector<int64_t> counted_tokens;    // [N] tokens that counted per sequence
  std::vector<float> importance_q;        // [N, L, E] expert importance q_i
  std::vector<float> frequency;           // [N, L, E] activation frequency a_i / L_i
  std::vector<float> entropy;             // [N, L] mean per-token entropy H(p) of the softmax
  std::vector<float> importance_entropy;  // [N, L] H(q_i)
  std::vector<float> consistency;         // [N, L] mean Jaccard of token pairs (NaN: < 2 tokens)
  std::vector<int64_t> activation_tokens;  // [L, E] tokens that selected e, pooled
  std::vector<int64_t> total_tokens;       // [L] counted tokens, pooled
  std::vector<uint16_t> raw_logits;  // [sum counted, L, E] bf16 bits; empty unless collected
  std::vector<int64_t> raw_offsets;  // [N + 1] row ranges of raw_logits per sequence

  // Views as metrics' distribution types (copies into double).
  metrics::SequenceDistributions importance_distributions() const;  // q_i
  metrics::SequenceDistributions frequency_distributions() const;   // a_i / L_i
  metrics::LayerDistributions pooled_frequency() const;  // activation_tokens / total_tokens
  // Per layer: mean over sequences of a [N, L] array, NaN entries skipped (NaN if none left).
  std::vector<double> layer_mean(const std::vector<float>& per_sequence) const;
  // Checks every array's size against N, L, E (InternalError naming the array otherwise).
  void check() const;
};

// Provenance of one group, written as string attributes (model, model_path, family, corpus,
// corpus_format, corpus_path, split, language, language_code, prompt, ...), in this order.
using Labels = std::vector<std::pair<std::string, std::string>>;

// Writes the statistics and labels into `g` (an empty group). Large arrays are compressed.
void write_routing_stats(const h5::Group& g, const RoutingStats& s, const Labels& labels);
// Reads a group written by write_routing_stats. Throws InputError naming the file and object
// when something is missing or mis-shaped.
RoutingStats read_routing_stats(const h5::Group& g, Labels* labels = nullptr);

}  // namespace moe::results
