// make_plan: phases -> units (sample ranges) -> groups (batches), with token estimates.
#include "sweeps/plan/plan.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <map>
#include <tuple>

#include "runtime/core/error.h"

namespace moe::sweeps {

const char* unit_kind_name(UnitKind k) {
  switch (k) {
    case UnitKind::kStats: return "stats";
    case UnitKind::kExperts: return "experts";
    case UnitKind::kEval: return "eval";
  }
  return "?";
}

int64_t Plan::est_tokens() const {
  int64_t t = 0;
  for (auto& u : units) t += u.est_tokens;
  return t;
}

namespace {

// Rough tokens per sample (prompt + generated, upper bound): a planning figure only. The
// per-kind prompt sizes are typical of the studies' prompts; generation counts max_new_tokens.
int64_t est_tokens_per_sample(const TaskSpec& t) {
  const auto o = nlohmann::json::parse(t.options_json);
  const int64_t shots = o.value("shots", t.kind == "mgsm" ? 2 : 0);
  if (t.kind == "gmmlu") return 160 + 4;
  if (t.kind == "belebele") return 320 + 4;
  const int64_t gen = o.value("max_new_tokens", t.kind == "polymath" ? 1024 : 256);
  if (t.kind == "mgsm") return 120 + 120 * shots + gen;
  if (t.kind == "xquad") return 300 + gen;
  if (t.kind == "flores") return 80 + gen;
  return 200 + gen;
}

int64_t est_tokens_per_sequence(const CorpusSpec& c) { return c.format == "gsm8k" ? 180 : 60; }

std::vector<std::pair<int64_t, int64_t>> ranges(int64_t n, int64_t step) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int64_t b = 0; b < n; b += step) out.emplace_back(b, std::min(n, b + step));
  return out;
}

std::string range_str(int64_t b, int64_t e) { return fmt::format("{:06d}-{:06d}", b, e); }

}  // namespace

Plan make_plan(const SweepConfig& c, const SampleCounter& counter, const InputIdentity& inputs) {
  Plan plan;
  plan.inputs = inputs;
  expand_grid(c, plan);
  for (const auto& r : c.routing)
    for (size_t m = 0; m < c.models.size(); ++m)
      for (const auto& l : r.languages) add_stats(c, plan, int(m), c.corpus_index(r.corpus), l);

  const std::string file = c.source.string();
  // ---- phase 1: routing statistics -----------------------------------------------------------
  std::vector<std::vector<int>> stats_units(plan.stats.size());
  for (size_t s = 0; s < plan.stats.size(); ++s) {
    StatsSpec& st = plan.stats[s];
    const CorpusSpec& corpus = c.corpora[st.corpus];
    if (st.samples == 0) {
      if (!counter.corpus)
        throw InputError(fmt::format("{}: corpora.{}.samples", file, corpus.name),
                         "expected the number of sequences per language (a positive integer), "
                         "found none");
      st.samples = counter.corpus(corpus, st.language);
    }
    for (auto [b, e] : ranges(st.samples, c.execution.unit_samples)) {
      Unit u;
      u.kind = UnitKind::kStats;
      u.id = fmt::format("s.{}.{}.{}", st.id, st.language, range_str(b, e));
      u.model = st.model;
      u.stats = int(s);
      u.language = st.language;
      u.begin = b;
      u.end = e;
      u.est_tokens = (e - b) * est_tokens_per_sequence(corpus);
      stats_units[s].push_back(int(plan.units.size()));
      plan.groups.push_back({"", u.kind, u.model, {int(plan.units.size())}, {}});
      plan.units.push_back(std::move(u));
    }
  }
  // ---- phase 2: expert sets --------------------------------------------------------------------
  std::vector<int> set_unit(plan.expert_sets.size());
  for (size_t x = 0; x < plan.expert_sets.size(); ++x) {
    Unit u;
    u.kind = UnitKind::kExperts;
    u.id = fmt::format("x.{}", plan.expert_sets[x].id);
    u.model = plan.expert_sets[x].model;
    u.expert_set = int(x);
    for (int s : plan.expert_sets[x].stats)
      u.deps.insert(u.deps.end(), stats_units[s].begin(), stats_units[s].end());
    set_unit[x] = int(plan.units.size());
    plan.groups.push_back({"", u.kind, -1, {int(plan.units.size())}, u.deps});
    plan.units.push_back(std::move(u));
  }
  // ---- phase 3: baseline and grid points, grouped by (model, task, language, range) ----------
  std::map<std::pair<int, int>, std::vector<int>> points_of;  // (model, task) -> points in order
  for (size_t p = 0; p < plan.points.size(); ++p)
    points_of[{plan.points[p].model, plan.points[p].task}].push_back(int(p));
  for (const auto& [mt, pts] : points_of) {
    const auto [model, task] = mt;
    const TaskSpec& t = c.tasks[task];
    for (const auto& lang : t.languages) {
      int64_t n = t.samples;
      if (n == 0) {
        if (!counter.task)
          throw InputError(fmt::format("{}: tasks.{}.samples", file, t.name),
                           "expected the number of samples per language (a positive integer), "
                           "found none");
        n = counter.task(t, lang);
      }
      for (auto [b, e] : ranges(n, c.execution.unit_samples)) {
        for (size_t first = 0; first < pts.size(); first += c.execution.batch_points) {
          Group g;
          g.kind = UnitKind::kEval;
          g.model = model;
          for (size_t k = first; k < std::min(pts.size(), first + c.execution.batch_points); ++k) {
            const Point& pt = plan.points[pts[k]];
            Unit u;
            u.kind = UnitKind::kEval;
            u.id = fmt::format("e.{}.{}.{}", pt.id, lang, range_str(b, e));
            u.model = model;
            u.task = task;
            u.point = pts[k];
            u.language = lang;
            u.begin = b;
            u.end = e;
            u.est_tokens = (e - b) * est_tokens_per_sample(t);
            if (pt.expert_set >= 0) {
              u.deps.push_back(set_unit[pt.expert_set]);
              if (std::find(g.deps.begin(), g.deps.end(), u.deps[0]) == g.deps.end())
                g.deps.push_back(u.deps[0]);
            }
            g.units.push_back(int(plan.units.size()));
            plan.units.push_back(std::move(u));
          }
          plan.groups.push_back(std::move(g));
        }
      }
    }
  }
  // ---- ids ------------------------------------------------------------------------------------
  std::string all;
  for (auto& g : plan.groups) {
    std::string ids;
    for (int u : g.units) ids += plan.units[u].id + "\n";
    g.id = "g." + stable_id(ids);
    all += g.id + ":" + ids;
  }
  plan.hash = stable_id(all);
  return plan;
}

}  // namespace moe::sweeps
