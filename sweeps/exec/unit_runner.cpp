#include "sweeps/exec/unit_runner.h"

#include <fmt/format.h>

#include "results/store.h"

namespace moe::sweeps {

namespace {
RunnerFactory& override_factory() {
  static RunnerFactory f;
  return f;
}
}  // namespace

void set_runner_override(RunnerFactory f) { override_factory() = std::move(f); }

std::unique_ptr<UnitRunner> make_runner(const RunnerContext& ctx) {
  if (override_factory()) return override_factory()(ctx);
  return make_model_runner(ctx);
}

results::UnitResult load_stats(const RunnerContext& ctx, int stats) {
  std::vector<results::UnitResult> parts;
  for (const Unit& u : ctx.plan->units)
    if (u.kind == UnitKind::kStats && u.stats == stats) parts.push_back(ctx.store->read(u.id));
  return results::combine_results(parts, "statistics " + ctx.plan->stats[stats].id);
}

results::UnitResult load_expert_set(const RunnerContext& ctx, int set) {
  for (const Unit& u : ctx.plan->units)
    if (u.kind == UnitKind::kExperts && u.expert_set == set) return ctx.store->read(u.id);
  throw InternalError("no unit computes expert set " + ctx.plan->expert_sets[set].id);
}

std::map<std::string, std::string> unit_labels(const SweepConfig& c, const Plan& p,
                                               const Unit& u) {
  std::map<std::string, std::string> l;
  if (u.model >= 0) l["model"] = c.models[u.model].name;
  switch (u.kind) {
    case UnitKind::kStats: {
      const StatsSpec& s = p.stats[u.stats];
      l["stats"] = s.id;
      l["corpus"] = c.corpora[s.corpus].name;
      break;
    }
    case UnitKind::kExperts: {
      const ExpertSetSpec& x = p.expert_sets[u.expert_set];
      l["expert_set"] = x.id;
      l["rule"] = c.rules[x.rule].name;
      break;
    }
    case UnitKind::kEval:
      l["point"] = p.points[u.point].id;
      l["task"] = c.tasks[u.task].name;
      break;
  }
  if (!u.language.empty()) l["language"] = u.language;
  if (u.kind != UnitKind::kExperts) l["range"] = fmt::format("{}-{}", u.begin, u.end);
  return l;
}

}  // namespace moe::sweeps
