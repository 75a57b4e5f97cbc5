#include "runtime/routing/intervention.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include "runtime/core/dtype.h"
#include "runtime/core/error.h"
#include "runtime/core/random.h"
#include "runtime/routing/routing.h"
#include "runtime/routing/statistics.h"

namespace moe::routing {

std::string_view intervention_method_name(InterventionMethod m) {
  switch (m) {
    case InterventionMethod::kSoft:
      return "soft";
    case InterventionMethod::kHard:
      return "hard";
    case InterventionMethod::kHardLogSoftmax:
      return "hard_logsoftmax";
    case InterventionMethod::kMask:
      return "mask";
    case InterventionMethod::kSteer:
      return "steer";
  }
  return "?";
}

InterventionMethod parse_intervention_method(std::string_view name, const std::string& where) {
  for (InterventionMethod m :
       {InterventionMethod::kSoft, InterventionMethod::kHard, InterventionMethod::kHardLogSoftmax,
        InterventionMethod::kMask, InterventionMethod::kSteer})
    if (intervention_method_name(m) == name) return m;
  throw input_error(where, "expected soft, hard, hard_logsoftmax, mask or steer, found '{}'", name);
}

std::string_view std_kind_name(StdKind k) {
  return k == StdKind::kSample ? "sample" : "population";
}

StdKind parse_std_kind(std::string_view name, const std::string& where) {
  if (name == "sample") return StdKind::kSample;
  if (name == "population") return StdKind::kPopulation;
  throw input_error(where, "expected sample or population, found '{}'", name);
}

std::string_view steer_precision_name(SteerPrecision p) {
  return p == SteerPrecision::kFp32 ? "fp32" : "bf16";
}

SteerPrecision parse_steer_precision(std::string_view name, const std::string& where) {
  if (name == "fp32") return SteerPrecision::kFp32;
  if (name == "bf16") return SteerPrecision::kBf16;
  throw input_error(where, "expected fp32 or bf16, found '{}'", name);
}

LayerRange layer_range_from_one_based(int first, int last, const std::string& where) {
  if (last < first) return LayerRange{};
  if (first < 1)
    throw input_error(where, "expected a 1-indexed layer range starting at 1 or later, found {}-{}",
                      first, last);
  return LayerRange{first - 1, last - 1};
}

std::string layer_range_text(const LayerRange& r) {
  return r.empty() ? "none" : fmt::format("{}-{}", r.first, r.last);
}

uint64_t noise_seed(uint64_t seed, uint64_t stream, int layer, int64_t position) {
  const uint64_t site = (uint64_t(uint32_t(layer)) << 40) ^ uint64_t(position);
  return pair_seed(pair_seed(seed, stream), site);
}

std::string routing_note(io::RoutingKind kind, bool renormalize) {
  switch (kind) {
    case io::RoutingKind::kSparseMixer:
      return "sparsemixer routing is not shift-invariant: its mask compares relative gaps "
             "(s_max - s_j) / max(|s_j|, s_max), so an edit of the logits changes the weights "
             "differently from a softmax router";
    case io::RoutingKind::kSoftmaxTopK:
      if (!renormalize)
        return "top-k probabilities are not renormalised: forcing experts into the top-k "
               "changes the scale of the MoE output";
      return "";
    case io::RoutingKind::kTopKSoftmax:
      return "";
  }
  return "";
}

namespace {

int stage(InterventionMethod m) {
  switch (m) {
    case InterventionMethod::kSteer:
      return 0;
    case InterventionMethod::kMask:
      return 2;
    default:
      return 1;
  }
}

double row_std(const float* z, int E, StdKind kind) {
  double mean = 0.0;
  for (int e = 0; e < E; ++e) mean += z[e];
  mean /= E;
  double ss = 0.0;
  for (int e = 0; e < E; ++e) ss += (z[e] - mean) * (z[e] - mean);
  const int n = kind == StdKind::kSample ? E - 1 : E;
  return n > 0 ? std::sqrt(ss / n) : 0.0;
}

}  // namespace

PreparedIntervention::PreparedIntervention(const Intervention& iv, const RouterShape& shape)
    : iv_(iv), shape_(shape), layers_(size_t(std::max(shape.num_layers, 0))) {
  const int L = shape.num_layers, E = shape.num_experts;
  MOE_ASSERT(L > 0 && E > 0 && shape.top_k > 0, "router shape {}x{} top-{}", L, E, shape.top_k);
  std::vector<size_t> order(iv_.edits.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return stage(iv_.edits[a].method) < stage(iv_.edits[b].method);
  });
  for (size_t i : order) {
    const InterventionEdit& ed = iv_.edits[i];
    const std::string where = fmt::format("intervention '{}': edit {} ({})", iv_.name, i,
                                          intervention_method_name(ed.method));
    if (ed.layers.empty()) continue;
    if (ed.layers.first < 0 || ed.layers.last >= L)
      throw input_error(where,
                        "expected a layer range inside the model's MoE layers 0-{}, found {}",
                        L - 1, layer_range_text(ed.layers));
    for (const auto* sets : {&ed.boost, &ed.suppress})
      if (int(sets->size()) > L)
        throw input_error(where, "expected expert sets for at most {} MoE layers, found {}", L,
                          sets->size());
    if (ed.method == InterventionMethod::kMask && !ed.boost.empty())
      for (const auto& b : ed.boost)
        if (!b.empty())
          throw input_error(where, "expected only suppressed (masked) experts, found boosted ones");
    if (ed.method == InterventionMethod::kSteer)
      for (const auto& s : ed.suppress)
        if (!s.empty())
          throw input_error(where,
                            "expected only the steered (boost) experts, found suppressed ones");
    if (ed.method == InterventionMethod::kHard && !(ed.hard_eps >= 0.0))
      throw input_error(where, "expected hard_eps >= 0, found {}", ed.hard_eps);
    for (int l = ed.layers.first; l <= ed.layers.last; ++l) {
      Step st{ed.method, i, {}, {}, {}};
      auto ids_of = [&](const LayerExperts& sets, const char* what) {
        std::vector<ExpertScore> v =
            size_t(l) < sets.size() ? sets[size_t(l)] : std::vector<ExpertScore>{};
        for (const ExpertScore& x : v)
          if (x.expert < 0 || x.expert >= E)
            throw input_error(where, "{} experts of layer {}: expected ids in [0, {}), found {}",
                              what, l, E, x.expert);
        std::sort(v.begin(), v.end(),
                  [](const ExpertScore& a, const ExpertScore& b) { return a.expert < b.expert; });
        for (size_t j = 1; j < v.size(); ++j)
          if (v[j].expert == v[j - 1].expert)
            throw input_error(where, "{} experts of layer {}: expert {} is listed twice", what, l,
                              v[j].expert);
        return v;
      };
      std::vector<ExpertScore> boost = ids_of(ed.boost, "boosted");
      const std::vector<ExpertScore> suppress = ids_of(ed.suppress, "suppressed");
      for (const ExpertScore& b : boost)
        for (const ExpertScore& s : suppress)
          if (b.expert == s.expert)
            throw input_error(where, "layer {}: expert {} is both boosted and suppressed", l,
                              b.expert);
      const bool hard = ed.method == InterventionMethod::kHard ||
                        ed.method == InterventionMethod::kHardLogSoftmax;
      if (hard && int(boost.size()) > shape.top_k) {
        std::vector<ExpertScore> ranked = boost;
        std::stable_sort(
            ranked.begin(), ranked.end(),
            [](const ExpertScore& a, const ExpertScore& b) { return a.score > b.score; });
        Truncation t{i, l, {}, {}};
        for (size_t j = 0; j < ranked.size(); ++j)
          (int(j) < shape.top_k ? t.kept : t.dropped).push_back(ranked[j].expert);
        std::sort(t.kept.begin(), t.kept.end());
        std::sort(t.dropped.begin(), t.dropped.end());
        boost.erase(std::remove_if(boost.begin(), boost.end(),
                                   [&](const ExpertScore& x) {
                                     return std::binary_search(t.dropped.begin(), t.dropped.end(),
                                                               x.expert);
                                   }),
                    boost.end());
        truncations_.push_back(std::move(t));
      }
      for (const ExpertScore& b : boost) {
        st.boost.push_back(b.expert);
        st.coef.push_back(float(ed.lambda * b.score));
      }
      for (const ExpertScore& s : suppress) st.suppress.push_back(s.expert);
      if (st.boost.empty() && st.suppress.empty()) continue;
      layers_[size_t(l)].push_back(std::move(st));
    }
  }
  std::sort(truncations_.begin(), truncations_.end(), [](const Truncation& a, const Truncation& b) {
    return std::tie(a.edit, a.layer) < std::tie(b.edit, b.layer);
  });
}

bool PreparedIntervention::active(int layer) const {
  return layer >= 0 && layer < int(layers_.size()) && !layers_[size_t(layer)].empty();
}

void PreparedIntervention::apply(int layer, float* z, uint64_t stream, int64_t position) const {
  if (!active(layer)) return;
  const int E = shape_.num_experts;
  for (const Step& st : layers_[size_t(layer)]) {
    const InterventionEdit& ed = iv_.edits[st.edit];
    switch (st.method) {
      case InterventionMethod::kSteer:
        for (size_t j = 0; j < st.boost.size(); ++j) {
          float& v = z[st.boost[j]];
          if (ed.steer_precision == SteerPrecision::kFp32) {
            v += st.coef[j] * std::fabs(v);
          } else {
            const float vb = round_bf16(v);
            const float prod = round_bf16(round_bf16(st.coef[j]) * std::fabs(vb));
            v = round_bf16(vb + prod);
          }
        }
        break;
      case InterventionMethod::kSoft: {
        const float shift = float(ed.lambda * row_std(z, E, ed.std_kind));
        for (int e : st.boost) z[e] += shift;
        for (int e : st.suppress) z[e] -= shift;
        break;
      }
      case InterventionMethod::kHard: {
        const float mx = *std::max_element(z, z + E), mn = *std::min_element(z, z + E);
        Rng rng(noise_seed(ed.seed, stream, layer, position));
        auto eps = [&] { return ed.hard_eps > 0.0 ? ed.hard_eps * rng.normal() : 0.0; };
        for (int e : st.boost) z[e] = float(double(mx) + eps());
        for (int e : st.suppress) z[e] = float(double(mn) - eps());
        break;
      }
      case InterventionMethod::kHardLogSoftmax: {
        const float m = *std::max_element(z, z + E);
        double sum = 0.0;
        for (int e = 0; e < E; ++e) sum += std::exp(double(z[e]) - double(m));
        const float lse = float(double(m) + std::log(sum));
        for (int e = 0; e < E; ++e) z[e] -= lse;
        const float smax = *std::max_element(z, z + E), smin = *std::min_element(z, z + E);
        for (int e : st.boost) z[e] = smax + kLogSoftmaxMargin;
        for (int e : st.suppress) z[e] = smin - kLogSoftmaxMargin;
        break;
      }
      case InterventionMethod::kMask:
        for (int e : st.suppress) z[e] = kMaskLogit;
        break;
    }
  }
}

// ---- InterventionHook ---------------------------------------------------------------------------

InterventionHook::InterventionHook(const RouterShape& shape) : shape_(shape) {
  MOE_ASSERT(shape.num_layers > 0 && shape.num_experts > 0 && shape.top_k > 0,
             "router shape {}x{} top-{}", shape.num_layers, shape.num_experts, shape.top_k);
}

int InterventionHook::add(const Intervention& iv) {
  ivs_.emplace_back(iv, shape_);
  SelectionCounts c;
  c.num_layers = shape_.num_layers;
  c.num_experts = shape_.num_experts;
  c.before.assign(size_t(c.num_layers) * size_t(c.num_experts), 0);
  c.after = c.before;
  c.tokens.assign(size_t(c.num_layers), 0);
  counts_.push_back(std::move(c));
  return int(ivs_.size()) - 1;
}

void InterventionHook::bind(uint64_t tag, int index, uint64_t stream) {
  MOE_ASSERT(index >= 0 && index < int(ivs_.size()), "no intervention {}", index);
  bindings_[tag] = Binding{index, stream};
}

void InterventionHook::unbind_all() {
  bindings_.clear();
}

void InterventionHook::reset_counts() {
  for (SelectionCounts& c : counts_) {
    std::fill(c.before.begin(), c.before.end(), 0);
    std::fill(c.after.begin(), c.after.end(), 0);
    std::fill(c.tokens.begin(), c.tokens.end(), 0);
  }
}

void InterventionHook::map_slots(const RouterContext& ctx) {
  slot_binding_.assign(size_t(ctx.num_seqs), nullptr);
  for (int q = 0; q < ctx.num_seqs; ++q) {
    auto it = bindings_.find(ctx.seq_tag[q]);
    if (it != bindings_.end()) slot_binding_[size_t(q)] = &it->second;
  }
}

void InterventionHook::on_logits(const RouterContext& ctx, Tensor& logits) {
  MOE_ASSERT(ctx.device == Device::CPU, "InterventionHook runs on host logits");
  MOE_ASSERT(ctx.num_experts == shape_.num_experts && ctx.top_k == shape_.top_k &&
                 ctx.moe_layer < shape_.num_layers,
             "intervention hook made for {}x{} top-{}, called at MoE layer {} of {} experts top-{}",
             shape_.num_layers, shape_.num_experts, shape_.top_k, ctx.moe_layer, ctx.num_experts,
             ctx.top_k);
  map_slots(ctx);
  const int E = ctx.num_experts, k = ctx.top_k, l = ctx.moe_layer;
  RoutingSpec spec;
  spec.kind = ctx.routing;
  spec.num_experts = E;
  spec.top_k = k;
  spec.renormalize = ctx.norm_topk_prob;
  spec.sparsemixer_eps = ctx.sparsemixer_eps;
  std::vector<int32_t> sel(static_cast<size_t>(k));
  std::vector<float> w(static_cast<size_t>(k));
  float* z = logits.data<float>();
  for (int t = 0; t < ctx.num_tokens; ++t) {
    const Binding* b = slot_binding_[size_t(ctx.token_seq[t])];
    if (!b) continue;
    const PreparedIntervention& iv = ivs_[size_t(b->index)];
    if (!iv.active(l)) continue;
    float* row = z + int64_t(t) * E;
    route(spec, row, 1, sel.data(), w.data());  // "before": the unedited logits
    SelectionCounts& c = counts_[size_t(b->index)];
    for (int32_t e : sel) ++c.before[size_t(l) * E + size_t(e)];
    iv.apply(l, row, b->stream, ctx.token_pos[t]);
  }
}

void InterventionHook::on_routed(const RouterContext& ctx, const Tensor& logits,
                                 const Tensor& experts, const Tensor& weights) {
  const int E = ctx.num_experts, k = ctx.top_k, l = ctx.moe_layer;
  const int32_t* sel = experts.data<int32_t>();
  for (int t = 0; t < ctx.num_tokens; ++t) {
    const Binding* b = slot_binding_[size_t(ctx.token_seq[t])];
    if (!b) continue;
    SelectionCounts& c = counts_[size_t(b->index)];
    const bool active = ivs_[size_t(b->index)].active(l);
    ++c.tokens[size_t(l)];
    for (int j = 0; j < k; ++j) {
      const size_t at = size_t(l) * E + size_t(sel[int64_t(t) * k + j]);
      ++c.after[at];
      if (!active) ++c.before[at];
    }
  }
}

}  // namespace moe::routing
