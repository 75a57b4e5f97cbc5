// Router interventions (sweeps/METHODS.md C): edits of one token's router logits z [E] at one MoE
// layer, applied before the family's routing, per sequence, in prefill and decode.
//
// An Intervention is a list of edits; each edit has a method, a layer range and per-layer expert
// sets. The methods, for the experts of the edit at layer l (0-indexed MoE layers):
//   soft             z_e += lambda * s(z) for e in boost (A+), z_e -= lambda * s(z) for e in
//                    suppress (A-); s(z) = std of the E logits of this token (StdKind: sample,
//                    n - 1, the default; or population, n), computed in double, added in f32.
//   hard             z_e = max(z) + eps_e for A+, z_e = min(z) - eps_e for A-, with max/min over
//                    the row before this edit and eps_e ~ N(0, hard_eps^2) (hard_eps is the
//                    standard deviation, 1e-6 by default) drawn from
//                    Rng(noise_seed(seed, stream, layer, position)), one normal() per expert, A+
//                    in ascending id then A- in ascending id. The noise depends only on (seed,
//                    the sequence's stream, layer, token position): never on batching.
//   hard_logsoftmax  the SteerMoE reference: s = log_softmax(z) (f32, max-shifted); s_max, s_min
//                    of s before the edits; s_e = s_max + 0.01 for A+, s_min - 0.01 for A-; the
//                    row becomes s and the family routes on s.
//                    Both hard methods: when |A+| of a layer exceeds k, only the k experts with
//                    the highest set score are kept (ties: lower id), so the forced experts are
//                    the same for every token (not left to the noise), and the constructor
//                    records the truncation (Truncation).
//   mask             z_e = -1e9 for e in suppress (the masked experts).
//   steer            z_e += lambda * c_e * |z_e| for e in boost (the shared experts), c_e = the
//                    expert's score in the set (W[first language of T, l, e]). fp32 by default;
//                    SteerPrecision::kBf16 reproduces a bf16 computation step by step:
//                    z = bf16(bf16(z) + bf16(bf16(lambda * c) * bf16(|bf16(z)|))).
// Order when several edits are active at a layer: steer, then soft/hard/hard_logsoftmax, then
// mask, whatever order the list gives (edits of the same stage keep their list order).
// An edit with an empty layer range does nothing; an Intervention without edits is the baseline.
//
// Family facts the results must state (routing_note()): Phi-3.5-MoE's sparsemixer is not
// shift-invariant (its mask compares relative gaps (s_max - s_j) / max(|s_j|, s_max)), so the
// same edit moves its weights differently from a softmax family's; OLMoE does not renormalise
// the top-k probabilities, so forcing experts in changes the scale of the MoE output.
//
// InterventionHook applies interventions per sequence inside batched forward passes: each
// request tag is bound to one intervention and a noise stream (bind()); tokens of unbound tags
// are left alone. For every bound token it counts, per MoE layer and expert, the selections the
// family's routing makes on the logits BEFORE the intervention's edits (routing.h on a copy of
// the row) and AFTER them (the experts the MoE block actually uses). In layers where no edit of
// the intervention is active the two are the same routing, counted once for both.
// Device: CPU (the hook reads and edits host logits). Thread-safety: one thread drives a hook,
// as every RouterHook; prepared interventions are immutable values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/io/model_config.h"
#include "runtime/routing/router_hook.h"

namespace moe::routing {

enum class InterventionMethod { kSoft, kHard, kHardLogSoftmax, kMask, kSteer };
// "soft", "hard", "hard_logsoftmax", "mask", "steer"
std::string_view intervention_method_name(InterventionMethod m);
// Throws InputError at `where` for an unknown name.
InterventionMethod parse_intervention_method(std::string_view name, const std::string& where);

enum class StdKind { kSample, kPopulation };
std::string_view std_kind_name(StdKind k);  // "sample" | "population"
StdKind parse_std_kind(std::string_view name, const std::string& where);

enum class SteerPrecision { kFp32, kBf16 };
std::string_view steer_precision_name(SteerPrecision p);  // "fp32" | "bf16"
SteerPrecision parse_steer_precision(std::string_view name, const std::string& where);

inline constexpr float kMaskLogit = -1e9f;
inline constexpr float kLogSoftmaxMargin = 0.01f;
inline constexpr double kDefaultHardEps = 1e-6;

// MoE layers [first, last], 0-indexed and inclusive; last < first is empty (no intervention).
struct LayerRange {
  int first = 0;
  int last = -1;
  bool empty() const { return last < first; }
  bool contains(int l) const { return l >= first && l <= last; }
  bool operator==(const LayerRange&) const = default;
};
// A range written 1-indexed ([8, 35] means MoE layers 7..34). Throws InputError at `where` for a
// start below 1 (an empty range [1, 0] stays empty).
LayerRange layer_range_from_one_based(int first, int last, const std::string& where);
std::string layer_range_text(const LayerRange& r);  // "7-34" or "none"

struct ExpertScore {
  int expert = 0;
  double score = 0;  // the set's score (Delta, W): hard truncation, steer coefficient
  bool operator==(const ExpertScore&) const = default;
};
using LayerExperts = std::vector<std::vector<ExpertScore>>;  // [L] per MoE layer

struct InterventionEdit {
  InterventionMethod method = InterventionMethod::kSoft;
  LayerRange layers;
  double lambda = 0.0;    // soft, steer
  LayerExperts boost;     // soft/hard/hard_logsoftmax: A+; steer: the shared experts (score = c)
  LayerExperts suppress;  // soft/hard/hard_logsoftmax: A-; mask: the masked experts
  StdKind std_kind = StdKind::kSample;                     // soft
  SteerPrecision steer_precision = SteerPrecision::kFp32;  // steer
  uint64_t seed = 0;                                       // hard
  double hard_eps = kDefaultHardEps;                       // hard: standard deviation of eps
};

struct Intervention {
  std::string name;  // for messages and results ("" for the baseline)
  std::vector<InterventionEdit> edits;
};

// The experts a hard or hard_logsoftmax edit dropped at one layer because |A+| > k.
struct Truncation {
  size_t edit = 0;  // index into Intervention::edits
  int layer = 0;
  std::vector<int> kept;     // the k highest-scoring, ascending id
  std::vector<int> dropped;  // ascending id
};

// The model facts an intervention is checked against.
struct RouterShape {
  int num_layers = 0;  // MoE layers
  int num_experts = 0;
  int top_k = 0;
};

// An intervention checked against a model and ready to apply: per layer, the active edits in
// stage order with their expert lists (sorted by id, hard and hard_logsoftmax truncated).
class PreparedIntervention {
 public:
  // Throws InputError (naming the intervention and edit) for a layer range or an expert set
  // beyond the model, an expert id outside [0, E), an expert in both boost and suppress of one
  // layer, or sets a method does not use (mask with boost experts, steer with suppress experts).
  PreparedIntervention(const Intervention& iv, const RouterShape& shape);

  const Intervention& intervention() const { return iv_; }
  const RouterShape& shape() const { return shape_; }
  bool active(int layer) const;  // some edit acts at this MoE layer
  const std::vector<Truncation>& truncations() const { return truncations_; }

  // Edits row z [E] (one token at MoE `layer`, position `position` of the sequence whose noise
  // stream is `stream`) in place.
  void apply(int layer, float* z, uint64_t stream, int64_t position) const;

 private:
  struct Step {
    InterventionMethod method;
    size_t edit;                       // index into iv_.edits
    std::vector<int> boost, suppress;  // ascending ids
    std::vector<float> coef;           // steer: c per boost expert
  };
  Intervention iv_;
  RouterShape shape_;
  std::vector<std::vector<Step>> layers_;  // [L] active steps in stage order
  std::vector<Truncation> truncations_;
};

// The seed of the hard-intervention noise of one token: splitmix-based mixing of
// (seed, stream, layer, position) (pair_seed of statistics.h, applied twice).
uint64_t noise_seed(uint64_t seed, uint64_t stream, int layer, int64_t position);

// What the family's routing means for interventions, for result notes ("" if nothing to note).
std::string routing_note(io::RoutingKind kind, bool renormalize);

// Selections of one intervention's tokens, per MoE layer and expert.
struct SelectionCounts {
  int num_layers = 0, num_experts = 0;
  std::vector<int64_t> before;  // [L, E] tokens whose routing on the unedited logits picks e
  std::vector<int64_t> after;   // [L, E] tokens whose actual routing picks e
  std::vector<int64_t> tokens;  // [L] tokens counted
  int64_t before_at(int l, int e) const { return before[size_t(l) * num_experts + e]; }
  int64_t after_at(int l, int e) const { return after[size_t(l) * num_experts + e]; }
};

class InterventionHook : public RouterHook {
 public:
  // "Before" is routed with the family's routing as RouterContext describes it (routing.h).
  explicit InterventionHook(const RouterShape& shape);
  InterventionHook(const InterventionHook&) = delete;
  InterventionHook& operator=(const InterventionHook&) = delete;

  // Adds an intervention (validated against the shape); returns its index.
  int add(const Intervention& iv);
  // Tokens of `tag` get intervention `index` with noise stream `stream` (e.g. the sample's
  // index in its dataset). Several tags may share an intervention and a stream (the requests of
  // one multiple-choice sample). Rebinding a tag replaces its binding.
  void bind(uint64_t tag, int index, uint64_t stream);
  void unbind_all();

  const PreparedIntervention& intervention(int index) const { return ivs_[size_t(index)]; }
  int size() const { return int(ivs_.size()); }
  const SelectionCounts& counts(int index) const { return counts_[size_t(index)]; }
  void reset_counts();

  void on_logits(const RouterContext& ctx, Tensor& logits) override;
  void on_routed(const RouterContext& ctx, const Tensor& logits, const Tensor& experts,
                 const Tensor& weights) override;

 private:
  struct Binding {
    int index;
    uint64_t stream;
  };
  // Per step slot: the binding of the slot's tag (null when unbound).
  void map_slots(const RouterContext& ctx);
  RouterShape shape_;
  std::vector<PreparedIntervention> ivs_;
  std::vector<SelectionCounts> counts_;
  std::unordered_map<uint64_t, Binding> bindings_;
  std::vector<const Binding*> slot_binding_;  // [S] of the current step
};

}  // namespace moe::routing
