#include "sweeps/plan/describe.h"

#include <fmt/format.h>

#include <map>

namespace moe::sweeps {

std::string layers_label(const LayerRange& r, bool one_based) {
  const int base = one_based ? 1 : 0;
  return r.empty() ? "-" : fmt::format("{}-{}", r.start + base, r.end + base);
}

namespace {

std::string opt(const std::optional<double>& v) { return v ? fmt::format("{:g}", *v) : "-"; }
std::string opt(const std::optional<int>& v) { return v ? fmt::format("{}", *v) : "-"; }

std::string tokens(int64_t t) {
  if (t >= 10'000'000'000) return fmt::format("{:.1f}G", t / 1e9);
  if (t >= 10'000'000) return fmt::format("{:.1f}M", t / 1e6);
  if (t >= 10'000) return fmt::format("{:.1f}k", t / 1e3);
  return fmt::format("{}", t);
}

}  // namespace

std::string point_label(const SweepConfig& c, const Plan& plan, const Point& p) {
  std::string s = fmt::format("{}/{}/{}", c.models[p.model].name, c.tasks[p.task].name,
                              method_name(p.method));
  if (p.is_baseline()) return s;
  const ExpertSetSpec& x = plan.expert_sets[p.expert_set];
  s += fmt::format(" experts={} layers={}", c.rules[x.rule].name,
                   layers_label(p.layers, c.layers_one_based));
  if (x.tau) s += fmt::format(" tau={:g}", *x.tau);
  if (x.top_k) s += fmt::format(" K={}", *x.top_k);
  if (x.thr) s += fmt::format(" thr={:g}", *x.thr);
  if (p.lambda) s += fmt::format(" lambda={:g}", *p.lambda);
  if (!p.direction.empty() && p.direction != "boost") s += " " + p.direction;
  return s;
}

std::string describe_plan(const SweepConfig& c, const Plan& plan, const DescribeOptions& o) {
  std::string out;
  size_t baselines = 0;
  for (auto& p : plan.points) baselines += p.is_baseline();
  out += fmt::format("sweep {}: {} points ({} baseline), {} expert sets, {} statistics, plan {}\n",
                     c.name, plan.points.size(), baselines, plan.expert_sets.size(),
                     plan.stats.size(), plan.hash);
  // phases
  struct Row {
    int64_t units = 0, groups = 0, tokens = 0;
  };
  std::map<UnitKind, Row> rows;
  for (auto& u : plan.units) {
    rows[u.kind].units++;
    rows[u.kind].tokens += u.est_tokens;
  }
  for (auto& g : plan.groups) rows[g.kind].groups++;
  out += fmt::format("{:<8} {:>8} {:>8} {:>12}\n", "phase", "units", "batches", "est.tokens");
  Row total;
  for (UnitKind k : {UnitKind::kStats, UnitKind::kExperts, UnitKind::kEval}) {
    const Row& r = rows[k];
    out += fmt::format("{:<8} {:>8} {:>8} {:>12}\n", unit_kind_name(k), r.units, r.groups,
                       tokens(r.tokens));
    total.units += r.units;
    total.groups += r.groups;
    total.tokens += r.tokens;
  }
  out += fmt::format("{:<8} {:>8} {:>8} {:>12}\n", "total", total.units, total.groups,
                     tokens(total.tokens));
  // statistics and expert sets
  for (auto& s : plan.stats)
    out += fmt::format("stats {} {}/{}/{} sequences={}\n", s.id, c.models[s.model].name,
                       c.corpora[s.corpus].name, s.language, s.samples);
  for (auto& x : plan.expert_sets) {
    const RuleSpec& r = c.rules[x.rule];
    out += fmt::format("experts {} {}/{} rule={} tau={} K={} thr={} from {} statistics\n", x.id,
                       c.models[x.model].name, r.name, rule_kind_name(r.kind), opt(x.tau),
                       opt(x.top_k), opt(x.thr), x.stats.size());
  }
  // points (layers inclusive, indexed as the config writes them)
  if (c.layers_one_based)
    out += "layers 1-indexed, as the config writes them (layer_indexing: one_based)\n";
  out += fmt::format("{:<16} {:<10} {:<10} {:<15} {:<12} {:<7} {:>5} {:>7} {:>4} {:>5} {:<8}\n",
                     "point", "model", "task", "method", "experts", "layers", "tau", "lambda",
                     "K", "thr", "dir");
  for (auto& p : plan.points) {
    const ExpertSetSpec* x = p.expert_set >= 0 ? &plan.expert_sets[p.expert_set] : nullptr;
    out += fmt::format("{:<16} {:<10} {:<10} {:<15} {:<12} {:<7} {:>5} {:>7} {:>4} {:>5} {:<8}\n",
                       p.id, c.models[p.model].name, c.tasks[p.task].name, method_name(p.method),
                       x ? c.rules[x->rule].name : "-", layers_label(p.layers, c.layers_one_based),
                       x ? opt(x->tau) : "-", opt(p.lambda), x ? opt(x->top_k) : "-",
                       x ? opt(x->thr) : "-", p.direction.empty() ? "-" : p.direction);
  }
  if (o.units) {
    for (size_t g = 0; g < plan.groups.size(); ++g) {
      const Group& grp = plan.groups[g];
      out += fmt::format("batch {} {} model={} deps={}\n", grp.id, unit_kind_name(grp.kind),
                         grp.model >= 0 ? c.models[grp.model].name : "-", grp.deps.size());
      for (int ui : grp.units) {
        const Unit& u = plan.units[ui];
        out += fmt::format("  unit {} tokens={}\n", u.id, u.est_tokens);
      }
    }
  }
  return out;
}

}  // namespace moe::sweeps
