// Expert identification rules (sweeps/METHODS.md B): which experts a router intervention boosts,
// steers or masks. Pure functions from routing statistics to ExpertSet values.
//
// First study (frequency difference):
//   delta()               Delta[l][e] = mean_i a_i/L_i over dataset 1 - mean_j a_j/L_j over
//                         dataset 2 (per-sequence activation frequencies, [N, L, E] each).
//   select_by_threshold() e selected in layer l iff Delta[l][e] > tau (strict).
//   select_by_sigma()     e selected iff Delta[l][e] > m * std_l(Delta) (std over the E experts
//                         of layer l, sample n - 1; m = 3 by default).
//   multilingual_union()  union over languages of per-language sets chosen by one rule; an
//                         expert's score is the largest of its per-language scores.
// Second study (normalised affinity):
//   normalized_affinity() f_K[s,l,e] = f[s,l,e] if e is among the K most frequent experts of
//                         (s, l) else 0; W[s,l,e] = f_K[s,l,e] / (sum_{s' in S} f_K[s',l,e] +
//                         1e-10). TIES at the K-th place: exactly K experts are kept, ties broken
//                         by the LOWER expert index (a stable sort by decreasing frequency).
//   exclusive_experts()   of a target set T (subset of S): sum_{t in T} W[t,l,e] > thr (strict);
//                         score = that sum.
//   shared_experts()      of S: some W[s,l,e] > 0 and every W[s,l,e] < thr (strict); score =
//                         W[S[0],l,e], the steering coefficient c when S's first language is the
//                         steering source (S = (en, zh) steers from English).
//   For a single-language T and the same thr, exclusive and shared sets are disjoint; for |T| > 1
//   they need not be (two languages at 0.35 each pass sum > 0.4 and every < 0.4).
// Every result is an ExpertSet carrying the rule name, its parameters and, per layer, the selected
// experts (ascending expert id) with their scores, so it can be stored with the rule that chose it.
// Thread-safety: pure functions and value types.
#pragma once

#include <span>
#include <string>
#include <utility>
#include <vector>

#include "results/metrics.h"

namespace moe::experts {

struct SelectedExpert {
  int expert = 0;
  double score = 0;
  bool operator==(const SelectedExpert&) const = default;
};

struct ExpertSet {
  std::string rule;  // "delta_threshold", "delta_sigma", "multilingual_union",
                     // "affinity_exclusive", "affinity_shared"
  // Parameters as (name, value) in a stable order, numbers printed in shortest round-trip form,
  // e.g. {"tau", "0.4"}, {"languages", "de,fr"}.
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<std::vector<SelectedExpert>> layers;  // [L] selected experts, ascending expert id

  size_t size() const;  // experts over all layers
  // Experts of layers [first, last] (0-indexed, inclusive).
  size_t size_in_layers(int first, int last) const;
  const std::string& param(const std::string& name) const;  // throws InternalError if absent
  // Copy with layers outside [first, last] emptied and a "layers" parameter "first-last" added.
  ExpertSet restricted_to_layers(int first, int last) const;
};

// Delta per layer: [L, E]. Throws InputError (naming `what`) if shapes differ or a dataset is
// empty.
metrics::LayerDistributions delta(const metrics::SequenceDistributions& dataset1,
                                  const metrics::SequenceDistributions& dataset2,
                                  const std::string& what);

ExpertSet select_by_threshold(const metrics::LayerDistributions& delta, double tau);
ExpertSet select_by_sigma(const metrics::LayerDistributions& delta, double multiplier = 3.0);

// languages[i] names sets[i]. Every set must come from the same rule with the same parameters
// and the same layer count (InputError otherwise).
ExpertSet multilingual_union(std::span<const std::string> languages,
                             std::span<const ExpertSet> sets);

// W[s, l, e] for the languages of S in the given order.
struct Affinity {
  std::vector<std::string> languages;  // S, in order
  int top_k = 0;                       // K
  int num_layers = 0;
  int num_experts = 0;
  std::vector<double> weights;  // [S, L, E]
  double at(int s, int l, int e) const {
    return weights[(size_t(s) * num_layers + l) * num_experts + e];
  }
  int index_of(const std::string& language) const;  // -1 if absent
};

// frequencies[s]: pooled activation frequency f = count / tokens of language s, [L, E].
// Throws InputError if S is empty, names repeat, shapes differ, or K is not in [1, E].
Affinity normalized_affinity(std::span<const std::string> languages,
                             std::span<const metrics::LayerDistributions> frequencies, int top_k);

// Throws InputError if T is empty or names a language outside S.
ExpertSet exclusive_experts(const Affinity& w, std::span<const std::string> targets, double thr);
ExpertSet shared_experts(const Affinity& w, double thr);

}  // namespace moe::experts
