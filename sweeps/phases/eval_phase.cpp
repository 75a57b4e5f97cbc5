#include "sweeps/phases/eval_phase.h"

#include <fmt/format.h>

#include <cmath>
#include <string_view>
#include <tuple>
#include <utility>
#include <variant>

#include "runtime/core/error.h"
#include "sweeps/tasks/chrf.h"
#include "sweeps/tasks/gmmlu.h"

namespace moe::sweeps {
namespace {

routing::InterventionMethod routing_method(Method m) {
  switch (m) {
    case Method::kSoft: return routing::InterventionMethod::kSoft;
    case Method::kHard: return routing::InterventionMethod::kHard;
    case Method::kHardLogSoftmax: return routing::InterventionMethod::kHardLogSoftmax;
    case Method::kMask: return routing::InterventionMethod::kMask;
    case Method::kSteer: return routing::InterventionMethod::kSteer;
    case Method::kNone: break;
  }
  throw InternalError("the baseline has no intervention method");
}

int64_t verdict_code(const std::string& verdict) {
  if (verdict == "correct") return 1;
  if (verdict == "incorrect") return 0;
  return -1;  // unscorable
}

int64_t consistency_code(const std::string& c) {
  if (c == "consistent") return 1;
  if (c == "inconsistent") return 0;
  return -1;  // undetermined
}

// A column of a unit's samples table that a language score needs; InputError naming `what`,
// the column and its use when it is absent or of another type.
template <typename T>
const std::vector<T>& score_column(const results::Table& samples, const std::string& name,
                                   std::string_view type, std::string_view use,
                                   const std::string& what) {
  const results::Column* c = samples.find(name);
  const auto* v = c ? std::get_if<std::vector<T>>(&c->values) : nullptr;
  if (!v)
    throw input_error(what, "expected {} column '{}' ({}) in the samples table, found {}", type,
                      name, use, c ? "another type" : "none");
  return *v;
}

// The per-sample chrF statistics columns of a samples table, [n, 18] row-major.
std::vector<double> chrf_statistics_of(const results::Table& samples, const std::string& what) {
  constexpr size_t kWidth = std::tuple_size_v<tasks::ChrfStats>;
  std::vector<double> stats(samples.rows() * kWidth);
  for (size_t k = 0; k < kWidth; ++k) {
    const auto& v = score_column<int64_t>(samples, tasks::chrf_statistic_name(k), "an int64",
                                          "chrF statistics", what);
    for (size_t i = 0; i < v.size(); ++i) stats[i * kWidth + k] = double(v[i]);
  }
  return stats;
}

// The per-sample subject statistics of a Global-MMLU samples table, [n, 14] row-major.
std::vector<double> gmmlu_statistics_of(const results::Table& samples, const std::string& what) {
  const auto& subject =
      score_column<std::string>(samples, "subject", "a string", "the subject means", what);
  const auto& score =
      score_column<double>(samples, "score", "a float64", "the subject means", what);
  std::vector<double> stats;
  stats.reserve(samples.rows() * tasks::kGmmluStatisticsWidth);
  for (size_t i = 0; i < subject.size(); ++i)
    tasks::append_gmmlu_statistics(subject[i], score[i], fmt::format("{}: row {}", what, i), stats);
  return stats;
}

}  // namespace

results::UnitResult point_result(const eval::TaskConfig& task, const eval::PointResult& pr,
                                 const std::vector<std::string>& notes) {
  results::UnitResult r;
  results::Table& t = r.tables["samples"];
  // Graded tasks have no correct/incorrect verdict; their per-sample score is the metric.
  const bool graded = task.kind == eval::TaskKind::kXquad || task.kind == eval::TaskKind::kFlores;
  const bool choice = !task.generative();
  auto& sample = t.col<int64_t>("sample");
  auto& id = t.col<std::string>("id");
  auto& gold = t.col<std::string>("gold");
  auto& output = t.col<std::string>("output");
  auto& answer = t.col<std::string>("answer_text");
  auto& extracted = t.col<std::string>("extracted");
  for (const eval::SampleResult& s : pr.samples) {
    sample.push_back(s.index);
    id.push_back(s.id);
    gold.push_back(s.gold);
    output.push_back(s.output);
    answer.push_back(s.answer_text);
    extracted.push_back(s.extracted);
  }
  if (!graded) {
    auto& correct = t.col<int64_t>("correct");
    for (const auto& s : pr.samples) correct.push_back(verdict_code(s.verdict));
  }
  auto& score = t.col<double>("score");
  for (const auto& s : pr.samples) score.push_back(s.score);
  if (!choice) {
    auto& consistent = t.col<int64_t>("consistent");
    auto& detected = t.col<std::string>("detected");
    auto& finish = t.col<std::string>("finish");
    auto& generated = t.col<int64_t>("generated_tokens");
    for (const auto& s : pr.samples) {
      consistent.push_back(consistency_code(s.consistency));
      detected.push_back(s.detected);
      finish.push_back(s.finish);
      generated.push_back(s.generated_tokens);
    }
  } else {
    static const char* const kLetters[] = {"a", "b", "c", "d"};
    for (int k = 0; k < 4; ++k) {
      auto& lp = t.col<double>(fmt::format("logprob_{}", kLetters[k]));
      for (const auto& s : pr.samples) lp.push_back(s.choice_logprob[size_t(k)]);
    }
  }
  if (task.kind == eval::TaskKind::kGmmlu) {
    auto& subject = t.col<std::string>("subject");
    for (const auto& s : pr.samples) subject.push_back(s.subject);
  }
  if (task.kind == eval::TaskKind::kXquad) {
    auto& em = t.col<double>("exact_match");
    auto& f1 = t.col<double>("f1");
    auto& cont = t.col<double>("containment");
    for (const auto& s : pr.samples) {
      em.push_back(s.exact_match);
      f1.push_back(s.f1);
      cont.push_back(s.containment);
    }
  }
  if (task.kind == eval::TaskKind::kFlores) {
    auto& chrf = t.col<double>("chrf");
    for (const auto& s : pr.samples) chrf.push_back(s.chrf);
    for (size_t k = 0; k < std::tuple_size_v<tasks::ChrfStats>; ++k) {
      auto& stat = t.col<int64_t>(tasks::chrf_statistic_name(k));
      for (const auto& s : pr.samples) stat.push_back(s.chrf_stats[k]);
    }
  }
  auto& prompt_tokens = t.col<int64_t>("prompt_tokens");
  for (const auto& s : pr.samples) prompt_tokens.push_back(s.prompt_tokens);

  const routing::SelectionCounts& c = pr.counts;
  if (c.num_layers > 0) {
    const std::vector<uint64_t> le = {uint64_t(c.num_layers), uint64_t(c.num_experts)};
    r.arrays["selected_before"] = {le, c.before, results::Combine::kSum};
    r.arrays["selected_after"] = {le, c.after, results::Combine::kSum};
    r.arrays["tokens"] = {{uint64_t(c.num_layers)}, c.tokens, results::Combine::kSum};
  }
  for (size_t i = 0; i < notes.size(); ++i) r.notes[fmt::format("eval_{:02}", i)] = notes[i];
  for (const routing::Truncation& tr : pr.truncations) {
    std::string kept, dropped;
    for (int e : tr.kept) kept += fmt::format("{}{}", kept.empty() ? "" : ",", e);
    for (int e : tr.dropped) dropped += fmt::format("{}{}", dropped.empty() ? "" : ",", e);
    r.notes[fmt::format("truncated_layer_{:03}", tr.layer)] =
        fmt::format("hard set of more than top_k experts: kept {} and dropped {}", kept,
                    dropped);
  }
  return r;
}

results::CorpusScore corpus_score(eval::TaskKind kind) {
  // The metric is the evaluator's (eval::language_metric); here only its columns are read.
  significance::CorpusMetric metric = eval::language_metric(kind);
  if (!metric) return {};
  return {std::move(metric),
          kind == eval::TaskKind::kFlores ? chrf_statistics_of : gmmlu_statistics_of};
}

eval::TaskConfig eval_task(const SweepConfig& c, const TaskSpec& t) {
  const std::string where = fmt::format("{}: tasks.{}", c.source.string(), t.name);
  eval::TaskConfig tc;
  tc.name = t.name;
  tc.kind = eval::parse_task_kind(t.kind, where + ".kind");
  tc.path = t.path;
  tc.options = eval::parse_task_options(tc.kind, t.options_json, where);
  return tc;
}

routing::Intervention point_intervention(const RunnerContext& ctx, const Point& p,
                                         const routing::RouterShape& shape) {
  routing::Intervention iv;
  if (p.is_baseline() || p.layers.empty()) return iv;
  const SweepConfig& c = *ctx.config;
  iv.name = p.id;
  const results::UnitResult set = load_expert_set(ctx, p.expert_set);
  const results::Table& t = set.tables.at("experts");
  const auto& layer = t.get<int64_t>("layer");
  const auto& expert = t.get<int64_t>("expert");
  const auto& score = t.get<double>("score");
  routing::LayerExperts experts(size_t(shape.num_layers));
  for (size_t i = 0; i < t.rows(); ++i) {
    if (layer[i] < 0 || layer[i] >= shape.num_layers)
      throw InputError(fmt::format("{}: expert set {}", c.source.string(),
                                   ctx.plan->expert_sets[p.expert_set].id),
                       fmt::format("expected MoE layers below {} (the model's), found {}",
                                   shape.num_layers, layer[i]));
    experts[size_t(layer[i])].push_back({int(expert[i]), score[i]});
  }
  routing::InterventionEdit ed;
  ed.method = routing_method(p.method);
  ed.layers = {p.layers.start, p.layers.end};
  ed.lambda = p.lambda.value_or(0.0);
  const bool suppress = p.method == Method::kMask || p.direction == "suppress";
  (suppress ? ed.suppress : ed.boost) = std::move(experts);
  const std::string where = c.source.string() + ": interventions";
  ed.std_kind = routing::parse_std_kind(c.interventions.std_kind, where + ".std");
  ed.steer_precision =
      routing::parse_steer_precision(c.interventions.steer_precision, where + ".steer_precision");
  ed.seed = c.interventions.hard_seed;
  ed.hard_eps = c.interventions.hard_eps;
  iv.edits.push_back(std::move(ed));
  return iv;
}

std::vector<results::UnitResult> run_eval_group(const RunnerContext& ctx, const Group& group,
                                                const eval::EvalModel& model, Engine& engine,
                                                const eval::TaskConfig& task,
                                                const eval::LanguageData& data, int64_t begin,
                                                int64_t end) {
  MOE_ASSERT(group.kind == UnitKind::kEval && !group.units.empty(), "not an eval batch: {}",
             group.id);
  const Unit& first = ctx.plan->units[size_t(group.units[0])];
  MOE_ASSERT(first.begin <= begin && begin < end && end <= first.end,
             "samples [{}, {}) outside batch {}'s range [{}, {})", begin, end, group.id,
             first.begin, first.end);
  if (int64_t(data.items.size()) < first.end)
    throw InputError(fmt::format("{} ({})", data.file.string(), data.language),
                     fmt::format("expected at least {} samples (tasks.{}.samples), found {}",
                                 first.end, task.name, data.items.size()));
  const routing::RouterShape shape = model.router_shape();
  std::vector<routing::Intervention> ivs;
  ivs.reserve(group.units.size());
  for (int ui : group.units) {
    const Unit& u = ctx.plan->units[size_t(ui)];
    MOE_ASSERT(u.begin == first.begin && u.end == first.end && u.language == first.language,
               "batch {} mixes sample ranges", group.id);
    ivs.push_back(point_intervention(ctx, ctx.plan->points[size_t(u.point)], shape));
  }
  std::vector<eval::EvalPoint> points;
  for (size_t i = 0; i < ivs.size(); ++i) {
    const Unit& u = ctx.plan->units[size_t(group.units[i])];
    points.push_back({ctx.plan->points[size_t(u.point)].id, ivs[i].edits.empty() ? nullptr : &ivs[i]});
  }
  const eval::EvalRun run = eval::evaluate(model, engine, task, data, begin, end, points);
  std::vector<results::UnitResult> out;
  for (const eval::PointResult& pr : run.points) out.push_back(point_result(task, pr, run.notes));
  return out;
}

}  // namespace moe::sweeps
