// Grid expansion: blocks of product/zip factors -> resolved, de-duplicated points with ids, and
// the expert sets (and the statistics) those points need.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <set>

#include "runtime/core/error.h"
#include "sweeps/plan/plan.h"

namespace moe::sweeps {

using nlohmann::json;

std::string stable_id(const std::string& text) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a 64
  for (unsigned char ch : text) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  return fmt::format("{:016x}", h);
}

namespace {

// The fingerprint and numerics of an input enter the canonical JSON when the plan has them. The
// fingerprint then stands for the path: ids do not depend on how a path is written (relative or
// absolute) or where the files lie (a checkpoint staged to a node's local disk).
void add_identity(json& j, const InputIdentity& in, const std::string& key, bool numerics) {
  if (const std::string f = in.file(key); !f.empty()) {
    j.erase("path");
    j["input"] = f;
  }
  if (!numerics) return;
  if (const std::string n = in.numeric(key); !n.empty()) j["numerics"] = n;
  if (!in.numerics_version.empty()) j["numerics_version"] = in.numerics_version;
}

json model_json(const ModelSpec& m, const InputIdentity& in) {
  json j = {{"name", m.name}, {"path", m.path.string()}};
  add_identity(j, in, "models." + m.name, true);
  return j;
}

json corpus_json(const CorpusSpec& c, const InputIdentity& in) {
  json j = {{"name", c.name},   {"format", c.format}, {"path", c.path.string()},
            {"split", c.split}, {"field", c.field},   {"prompt", c.prompt}};
  add_identity(j, in, "corpora." + c.name, false);
  return j;
}

json stats_options_json(const StatisticsOptions& s) {
  return {{"importance", s.importance}, {"tokens", s.tokens},
          {"consistency_pairs", s.consistency_pairs}, {"seed", s.seed},
          {"raw_logits", s.raw_logits}};
}

}  // namespace

int add_stats(const SweepConfig& c, Plan& plan, int model, int corpus, const std::string& lang) {
  for (size_t i = 0; i < plan.stats.size(); ++i) {
    const auto& s = plan.stats[i];
    if (s.model == model && s.corpus == corpus && s.language == lang) return int(i);
  }
  StatsSpec s;
  s.model = model;
  s.corpus = corpus;
  s.language = lang;
  s.samples = c.corpora[corpus].samples;
  json j = {{"phase", "stats"},
            {"model", model_json(c.models[model], plan.inputs)},
            {"corpus", corpus_json(c.corpora[corpus], plan.inputs)},
            {"language", lang},
            {"statistics", stats_options_json(c.statistics)}};
  s.canonical = j.dump();
  s.id = stable_id(s.canonical);
  plan.stats.push_back(std::move(s));
  return int(plan.stats.size() - 1);
}

namespace {

// What a draft becomes once the axes that do not apply to its method/rule are dropped.
struct Resolved {
  Point point;
  ExpertSetSpec set;     // valid when point.method != kNone
  std::set<std::string> used_axes;
};

std::string join_methods(bool (*uses)(Method)) {
  std::vector<std::string> names;
  for (Method m : {Method::kSoft, Method::kHard, Method::kHardLogSoftmax, Method::kMask,
                   Method::kSteer})
    if (uses(m)) names.push_back(method_name(m));
  return fmt::format("{}", fmt::join(names, ", "));
}

Resolved resolve(const SweepConfig& c, const GridBlock& blk, const PointDraft& d) {
  Resolved r;
  Point& p = r.point;
  p.model = c.model_index(*d.model);
  p.task = c.task_index(*d.task);
  p.method = *d.method;
  r.used_axes = {"model", "task", "method"};
  if (p.method == Method::kNone || (d.layers && d.layers->empty())) {
    p.method = Method::kNone;  // an empty layer range is the baseline
    if (d.layers) r.used_axes.insert("layers");
    return r;
  }
  auto need = [&](const char* axis, const std::string& why) -> InputError {
    return InputError(blk.where, fmt::format("missing axis '{}': {}", axis, why));
  };
  if (!d.experts)
    throw need("experts", fmt::format("method {} needs an expert set (a rule under 'experts')",
                                      method_name(p.method)));
  if (!d.layers)
    throw need("layers", fmt::format("method {} needs a layer range", method_name(p.method)));
  r.used_axes.insert({"experts", "layers"});
  p.layers = *d.layers;
  const RuleSpec& rule = c.rules[c.rule_index(*d.experts)];

  ExpertSetSpec& s = r.set;
  s.model = p.model;
  s.rule = c.rule_index(*d.experts);
  if (rule_uses_tau(rule.kind)) {
    s.tau = d.tau ? d.tau : rule.tau;
    if (!s.tau)
      throw need("tau", fmt::format("rule '{}' ({}) needs tau (in experts.{}.tau or the grid)",
                                    rule.name, rule_kind_name(rule.kind), rule.name));
    if (d.tau) r.used_axes.insert("tau");
  }
  if (rule_uses_affinity(rule.kind)) {
    s.top_k = d.top_k ? d.top_k : rule.top_k;
    s.thr = d.thr ? d.thr : rule.thr;
    if (!s.top_k)
      throw need("K", fmt::format("rule '{}' ({}) needs K (in experts.{}.K or the grid)",
                                  rule.name, rule_kind_name(rule.kind), rule.name));
    if (!s.thr)
      throw need("thr", fmt::format("rule '{}' ({}) needs thr (in experts.{}.thr or the grid)",
                                    rule.name, rule_kind_name(rule.kind), rule.name));
    if (d.top_k) r.used_axes.insert("K");
    if (d.thr) r.used_axes.insert("thr");
  }
  if (p.method == Method::kSteer && rule.kind != RuleKind::kAffinityShared)
    throw InputError(blk.axis_where.count("experts") ? blk.axis_where.at("experts") : blk.where,
                     fmt::format("method steer needs an affinity_shared rule (its coefficients "
                                 "are the normalised affinities), found rule '{}' ({})",
                                 rule.name, rule_kind_name(rule.kind)));
  if (method_uses_lambda(p.method)) {
    if (!d.lambda)
      throw need("lambda", fmt::format("method {} needs lambda", method_name(p.method)));
    p.lambda = d.lambda;
    r.used_axes.insert("lambda");
  }
  if (method_uses_direction(p.method)) {
    p.direction = d.direction.value_or("boost");
    if (d.direction) r.used_axes.insert("direction");
  }
  return r;
}

json rule_json(const SweepConfig& c, const RuleSpec& r) {
  json j = {{"name", r.name}, {"rule", rule_kind_name(r.kind)}};
  if (r.kind == RuleKind::kDelta || r.kind == RuleKind::kDelta3Sigma) {
    j["target"] = {{"corpus", r.target.corpus}, {"languages", r.target.languages}};
    j["reference"] = {{"corpus", r.reference.corpus}, {"languages", r.reference.languages}};
  } else {
    j["corpus"] = r.corpus;
    j["languages"] = r.languages;
    j["target"] = r.target_languages;
  }
  return j;
}

void finish_set(const SweepConfig& c, Plan& plan, ExpertSetSpec& s) {
  const RuleSpec& rule = c.rules[s.rule];
  std::vector<std::pair<std::string, std::string>> sources;  // (corpus, language)
  if (rule.kind == RuleKind::kDelta || rule.kind == RuleKind::kDelta3Sigma) {
    for (auto& l : rule.target.languages) sources.emplace_back(rule.target.corpus, l);
    sources.emplace_back(rule.reference.corpus, rule.reference.languages[0]);
  } else {
    for (auto& l : rule.languages) sources.emplace_back(rule.corpus, l);
  }
  // Each source's statistics with its sample count (0: every sequence of the corpus file, which
  // the corpus fingerprint then covers): the set is a function of both.
  json stats_ids = json::array(), samples = json::array();
  for (auto& [corpus, lang] : sources) {
    int si = add_stats(c, plan, s.model, c.corpus_index(corpus), lang);
    if (std::find(s.stats.begin(), s.stats.end(), si) == s.stats.end()) s.stats.push_back(si);
    stats_ids.push_back(plan.stats[si].id);
    samples.push_back(plan.stats[si].samples);
  }
  json j = {{"phase", "experts"},
            {"rule", rule_json(c, rule)},
            {"stats", stats_ids},
            {"samples", samples}};
  if (s.tau) j["tau"] = *s.tau;
  if (s.top_k) j["K"] = *s.top_k;
  if (s.thr) j["thr"] = *s.thr;
  s.canonical = j.dump();
  s.id = stable_id(s.canonical);
}

json task_json(const TaskSpec& t, const InputIdentity& in) {
  json j = {{"name", t.name},
            {"kind", t.kind},
            {"path", t.path.string()},
            {"options", json::parse(t.options_json)}};
  add_identity(j, in, "tasks." + t.name, false);
  if (const std::string f = in.file("tasks." + t.name + ".exemplars"); !f.empty())
    j["exemplars_input"] = f;
  return j;
}

void finish_point(const SweepConfig& c, const Plan& plan, Point& p) {
  json j = {{"model", model_json(c.models[p.model], plan.inputs)},
            {"task", task_json(c.tasks[p.task], plan.inputs)},
            {"method", method_name(p.method)}};
  if (!p.is_baseline()) {
    const auto& io = c.interventions;
    j["layers"] = {p.layers.start, p.layers.end};
    j["experts"] = plan.expert_sets[p.expert_set].id;
    if (p.lambda) j["lambda"] = *p.lambda;
    if (!p.direction.empty()) j["direction"] = p.direction;
    if (p.method == Method::kSoft) j["std"] = io.std_kind;
    if (p.method == Method::kSteer) j["steer_precision"] = io.steer_precision;
    if (p.method == Method::kHard) j["hard"] = {{"seed", io.hard_seed}, {"eps", io.hard_eps}};
  }
  p.canonical = j.dump();
  p.id = stable_id(p.canonical);
}

// The number of combinations of `factors` (the product of their sizes), saturating at the
// largest uint64_t, so that it can be checked before anything is expanded.
uint64_t combinations(const std::vector<GridFactor>& factors) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  uint64_t n = 1;
  for (const GridFactor& f : factors) {
    const uint64_t k = f.choices.size();
    if (k != 0 && n > kMax / k) return kMax;
    n *= k;
  }
  return n;
}

std::string count_text(uint64_t n) {
  return n == std::numeric_limits<uint64_t>::max() ? fmt::format("more than {}", n)
                                                   : std::to_string(n);
}

// "model 1 x task 1 x tau 2000 x experts+lambda 2": the factors' axes and sizes.
std::string factors_text(const std::vector<GridFactor>& factors) {
  std::vector<std::string> parts;
  for (const GridFactor& f : factors)
    parts.push_back(fmt::format("{} {}", fmt::join(f.axes, "+"), f.choices.size()));
  return fmt::format("{}", fmt::join(parts, " x "));
}

}  // namespace

void expand_grid(const SweepConfig& c, Plan& plan) {
  std::map<std::string, int> point_by_id, set_by_id;
  std::map<std::pair<int, int>, int> baseline_of;

  auto add_baseline = [&](int model, int task) {
    auto key = std::make_pair(model, task);
    if (baseline_of.count(key)) return baseline_of[key];
    Point b;
    b.model = model;
    b.task = task;
    finish_point(c, plan, b);
    b.baseline = int(plan.points.size());
    plan.points.push_back(b);
    point_by_id[b.id] = b.baseline;
    return baseline_of[key] = b.baseline;
  };

  uint64_t total = 0;  // combinations of the blocks so far
  for (const GridBlock& blk : c.grid) {
    // Axes not given range over everything: every model, every task.
    std::vector<GridFactor> factors = blk.factors;
    if (!blk.axis_where.count("model")) {
      GridFactor f{{"model"}, {}};
      for (auto& m : c.models) f.choices.emplace_back().model = m.name;
      factors.insert(factors.begin(), f);
    }
    if (!blk.axis_where.count("task")) {
      if (c.tasks.empty()) throw InputError(blk.where, "grid points need a task; none defined under 'tasks'");
      GridFactor f{{"task"}, {}};
      for (auto& t : c.tasks) f.choices.emplace_back().task = t.name;
      factors.insert(factors.begin() + 1, f);
    }
    // Refuse a grid too large to expand (every combination is resolved and kept in memory)
    // before expanding any of it.
    const uint64_t limit = uint64_t(c.execution.max_points);
    const uint64_t size = combinations(factors);
    if (size > limit)
      throw InputError(blk.where,
                       fmt::format("expected at most {} grid points (execution.max_points), found "
                                   "{} in this block ({})",
                                   limit, count_text(size), factors_text(factors)));
    total += size;  // both at most the limit, an int64_t: no overflow
    if (total > limit)
      throw InputError(blk.where,
                       fmt::format("expected at most {} grid points (execution.max_points), found "
                                   "{} in the blocks up to this one ({} in this one)",
                                   limit, count_text(total), size));
    std::set<std::string> used;
    std::vector<size_t> idx(factors.size(), 0);
    for (bool more = true; more;) {
      PointDraft d;
      for (size_t f = 0; f < factors.size(); ++f) d.overlay(factors[f].choices[idx[f]]);
      Resolved r = resolve(c, blk, d);
      used.insert(r.used_axes.begin(), r.used_axes.end());
      Point p = r.point;
      if (p.is_baseline()) {
        add_baseline(p.model, p.task);
      } else {
        finish_set(c, plan, r.set);
        auto it = set_by_id.find(r.set.id);
        if (it == set_by_id.end()) {
          plan.expert_sets.push_back(r.set);
          it = set_by_id.emplace(r.set.id, int(plan.expert_sets.size() - 1)).first;
        }
        p.expert_set = it->second;
        finish_point(c, plan, p);
        if (!point_by_id.count(p.id)) {
          if (c.baseline) p.baseline = add_baseline(p.model, p.task);
          point_by_id[p.id] = int(plan.points.size());
          plan.points.push_back(p);
        }
      }
      // next combination (last factor fastest)
      more = false;
      for (size_t f = factors.size(); f-- > 0;) {
        if (++idx[f] < factors[f].choices.size()) {
          more = true;
          break;
        }
        idx[f] = 0;
      }
    }
    for (const auto& [axis, where] : blk.axis_where) {
      if (used.count(axis)) continue;
      std::string why;
      if (axis == "lambda") why = "applies to methods " + join_methods(method_uses_lambda);
      else if (axis == "direction") why = "applies to methods " + join_methods(method_uses_direction);
      else if (axis == "tau") why = "applies to rules of kind delta";
      else if (axis == "K" || axis == "thr") why = "applies to affinity rules";
      else why = "applies to interventions, not to the baseline";
      throw InputError(where, fmt::format("axis '{}' {}; no point of this block uses it", axis, why));
    }
  }
  // Without a grid, the baseline of every (model, task) is the evaluation.
  if (c.grid.empty() && c.baseline)
    for (size_t m = 0; m < c.models.size(); ++m)
      for (size_t t = 0; t < c.tasks.size(); ++t) add_baseline(int(m), int(t));
  // Points whose baseline is not evaluated (baseline: false) point at themselves for none.
  for (auto& p : plan.points)
    if (p.baseline < 0 && baseline_of.count({p.model, p.task}))
      p.baseline = baseline_of[{p.model, p.task}];
}

}  // namespace moe::sweeps
