#include "sweeps/phases/experts_phase.h"

#include <fmt/format.h>

#include <algorithm>

#include "results/routing_units.h"
#include "runtime/core/error.h"
#include "sweeps/experts.h"

namespace moe::sweeps {
namespace {

// The combined statistics of (model, corpus, language) that this expert set was planned from.
results::RoutingStats stats_of(const RunnerContext& ctx, const ExpertSetSpec& x,
                               const std::string& corpus, const std::string& language) {
  const SweepConfig& c = *ctx.config;
  for (int s : x.stats) {
    const StatsSpec& st = ctx.plan->stats[s];
    if (c.corpora[st.corpus].name == corpus && st.language == language) {
      const std::string what = fmt::format("routing statistics {}/{}/{} ({})",
                                           c.models[st.model].name, corpus, language, st.id);
      return results::routing_stats_from_unit(load_stats(ctx, s), what);
    }
  }
  throw InternalError(fmt::format("expert set {} has no statistics of {}/{}", x.id, corpus,
                                  language));
}

void check_same_layers(const results::RoutingStats& a, const results::RoutingStats& b,
                       const std::string& what) {
  if (a.layers != b.layers || a.num_experts != b.num_experts)
    throw InputError(what, fmt::format("expected statistics of the same MoE layers and experts, "
                                       "found {} layers x {} experts and {} x {}",
                                       a.num_layers, a.num_experts, b.num_layers, b.num_experts));
}

}  // namespace

results::UnitResult run_expert_identification(const RunnerContext& ctx, const Unit& unit) {
  const SweepConfig& c = *ctx.config;
  const ExpertSetSpec& x = ctx.plan->expert_sets[unit.expert_set];
  const RuleSpec& rule = c.rules[x.rule];
  const std::string where = fmt::format("{}: experts.{}", c.source.string(), rule.name);
  results::UnitResult out;
  experts::ExpertSet set;
  std::vector<int32_t> layers;  // decoder layer of each MoE layer

  if (rule.kind == RuleKind::kDelta || rule.kind == RuleKind::kDelta3Sigma) {
    const results::RoutingStats ref =
        stats_of(ctx, x, rule.reference.corpus, rule.reference.languages[0]);
    layers = ref.layers;
    std::vector<experts::ExpertSet> sets;
    std::vector<double> first_delta;
    for (const auto& lang : rule.target.languages) {
      const results::RoutingStats tgt = stats_of(ctx, x, rule.target.corpus, lang);
      check_same_layers(tgt, ref, where);
      const auto delta = experts::delta(tgt.frequency_distributions(),
                                        ref.frequency_distributions(),
                                        fmt::format("{} ({} vs {})", where, lang,
                                                    rule.reference.languages[0]));
      if (first_delta.empty()) first_delta = delta.data;
      sets.push_back(rule.kind == RuleKind::kDelta ? experts::select_by_threshold(delta, *x.tau)
                                                   : experts::select_by_sigma(delta, 3.0));
      const uint64_t L = uint64_t(delta.num_layers), E = uint64_t(delta.num_experts);
      out.arrays["delta_" + lang] = {{L, E}, delta.data, results::Combine::kSame};
    }
    set = sets.size() == 1 ? sets[0]
                           : experts::multilingual_union(rule.target.languages, sets);
  } else {
    // S ordered with the steering source T[0] first (its W is the shared experts' coefficient).
    std::vector<std::string> S = rule.languages;
    if (rule.kind == RuleKind::kAffinityShared) {
      auto it = std::find(S.begin(), S.end(), rule.target_languages[0]);
      std::rotate(S.begin(), it, it + 1);
    }
    std::vector<metrics::LayerDistributions> freq;
    results::RoutingStats first;
    for (size_t i = 0; i < S.size(); ++i) {
      results::RoutingStats st = stats_of(ctx, x, rule.corpus, S[i]);
      if (i == 0) first = st;
      else check_same_layers(st, first, where);
      freq.push_back(st.pooled_frequency());
    }
    layers = first.layers;
    const experts::Affinity w = experts::normalized_affinity(S, freq, *x.top_k);
    set = rule.kind == RuleKind::kAffinityExclusive
              ? experts::exclusive_experts(w, rule.target_languages, *x.thr)
              : experts::shared_experts(w, *x.thr);
    out.arrays["affinity"] = {{uint64_t(S.size()), uint64_t(w.num_layers),
                               uint64_t(w.num_experts)},
                              w.weights, results::Combine::kSame};
    out.notes["affinity_languages"] = fmt::format("{}", fmt::join(S, ","));
  }

  results::Table& t = out.tables["experts"];
  auto& layer = t.col<int64_t>("layer");
  auto& decoder_layer = t.col<int64_t>("decoder_layer");
  auto& expert = t.col<int64_t>("expert");
  auto& score = t.col<double>("score");
  for (size_t l = 0; l < set.layers.size(); ++l)
    for (const auto& e : set.layers[l]) {
      layer.push_back(int64_t(l));
      decoder_layer.push_back(layers[l]);
      expert.push_back(e.expert);
      score.push_back(e.score);
    }
  std::vector<int64_t> per_layer;
  for (const auto& l : set.layers) per_layer.push_back(int64_t(l.size()));
  out.arrays["per_layer_count"] = {{uint64_t(per_layer.size())}, per_layer,
                                   results::Combine::kSame};
  out.notes["rule"] = set.rule;
  out.notes["config_rule"] = rule.name;
  for (const auto& [k, v] : set.params) out.notes["param." + k] = v;
  return out;
}

}  // namespace moe::sweeps
