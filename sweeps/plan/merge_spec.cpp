#include "sweeps/plan/merge_spec.h"

#include <fmt/format.h>

#include <limits>

#include "sweeps/phases/eval_phase.h"
#include "sweeps/routing/corpus.h"

namespace moe::sweeps {

results::MergeSpec merge_spec(const SweepConfig& c, const Plan& plan) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  results::MergeSpec s;
  s.name = c.name;
  s.config_yaml = c.source_text;
  s.resolved_yaml = c.resolved_text;
  s.plan_hash = plan.hash;
  s.layers_one_based = c.layers_one_based;
  for (const auto& x : plan.expert_sets) {
    const RuleSpec& r = c.rules[x.rule];
    s.expert_sets.push_back({x.id, c.models[x.model].name, r.name, rule_kind_name(r.kind),
                             x.tau.value_or(kNaN), x.thr.value_or(kNaN), x.top_k.value_or(-1),
                             x.canonical});
  }
  for (const auto& p : plan.points) {
    results::MergePoint m;
    m.id = p.id;
    m.model = c.models[p.model].name;
    m.task = c.tasks[p.task].name;
    m.method = method_name(p.method);
    m.tau = m.lambda = m.thr = kNaN;
    if (!p.is_baseline()) {
      const ExpertSetSpec& x = plan.expert_sets[p.expert_set];
      m.rule = c.rules[x.rule].name;
      m.rule_kind = rule_kind_name(c.rules[x.rule].kind);
      m.expert_set = x.id;
      m.layer_start = p.layers.start;
      m.layer_end = p.layers.end;
      m.tau = x.tau.value_or(kNaN);
      m.thr = x.thr.value_or(kNaN);
      m.top_k = x.top_k.value_or(-1);
      m.lambda = p.lambda.value_or(kNaN);
      m.direction = p.direction;
    }
    m.baseline = p.baseline >= 0 ? plan.points[p.baseline].id : "";
    m.canonical = p.canonical;
    s.points.push_back(std::move(m));
  }
  for (const auto& st : plan.stats) {
    const ModelSpec& m = c.models[st.model];
    const CorpusSpec& k = c.corpora[st.corpus];
    results::Labels labels = {{"model", m.name},
                              {"model_path", m.path.string()},
                              {"corpus", k.name},
                              {"corpus_format", k.format},
                              {"corpus_path", k.path.string()},
                              {"split", k.split},
                              {"field", k.field},
                              {"language", st.language},
                              {"prompt", k.prompt},
                              {"parallel", corpus::is_parallel(k.format) ? "true" : "false"}};
    s.stats.push_back({st.id, m.name, k.name, st.language, std::move(labels)});
  }
  for (const auto& t : c.tasks) {
    const eval::TaskKind kind =
        eval::parse_task_kind(t.kind, fmt::format("{}: tasks.{}.kind", c.source.string(), t.name));
    s.tasks.push_back({t.name, t.kind, t.path.string(), t.options_json, t.languages,
                       t.low_resource, corpus_score(kind)});
  }
  for (const auto& u : plan.units) {
    results::MergeUnit m;
    m.id = u.id;
    m.kind = unit_kind_name(u.kind);
    m.language = u.language;
    m.begin = u.begin;
    m.end = u.end;
    if (u.kind == UnitKind::kEval) {
      m.point = plan.points[u.point].id;
      m.task = c.tasks[u.task].name;
    } else if (u.kind == UnitKind::kStats) {
      m.stats = plan.stats[u.stats].id;
    } else {
      m.expert_set = plan.expert_sets[u.expert_set].id;
    }
    s.units.push_back(std::move(m));
  }
  return s;
}

}  // namespace moe::sweeps
