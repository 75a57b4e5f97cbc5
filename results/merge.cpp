#include "results/merge.h"

#include <unistd.h>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>
#include <map>
#include <set>

#include "results/comparison.h"
#include "results/h5.h"
#include "results/routing_units.h"
#include "runtime/core/cpu_isa.h"
#include "runtime/core/error.h"
#include "runtime/core/version.h"

namespace moe::results {
namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string iso_now() {
  const std::time_t t = std::time(nullptr);
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(t));
}

// Per-(point, language) outcome vectors, by sample index, for the accuracy table.
struct Outcomes {
  std::vector<int64_t> sample;
  std::vector<int64_t> correct;  // empty when the task has no 'correct' column; -1 unscorable
  std::vector<double> score;     // empty when the task has no 'score' column
  std::vector<int64_t> consistent;  // empty when absent; -1 undetermined
  std::vector<double> statistics;   // [n, S] the task's corpus statistics when it has them
  double corpus = 0;                // the task's corpus score when it has one
  bool has_corpus = false;
};

// Mean of the entries that are not NaN (the samples with a score); NaN if none.
double mean_scored(const std::vector<double>& v) {
  double s = 0;
  int64_t n = 0;
  for (double x : v)
    if (!std::isnan(x)) {
      s += x;
      ++n;
    }
  return n ? s / double(n) : kNaN;
}

// The metric's score of every row of statistics [n, S].
double corpus_of(const significance::CorpusMetric& metric, const std::vector<double>& statistics) {
  std::vector<double> sums(metric.width, 0.0);
  for (size_t i = 0; i < statistics.size(); ++i) sums[i % metric.width] += statistics[i];
  return metric.score(sums);
}

// A per-sample verdict column: 1, 0, or -1 (undetermined); anything else is damage.
void check_codes(const std::vector<int64_t>& v, const char* column, const std::string& what) {
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i] < -1 || v[i] > 1)
      throw InputError(fmt::format("{}: samples.{}[{}]", what, column, i),
                       fmt::format("expected 1, 0 or -1 (undetermined), found {}", v[i]));
}

Outcomes outcomes_of(const Table& t, const MergeTask& task, const std::string& what) {
  Outcomes o;
  if (task.corpus_score) {
    o.statistics = task.corpus_score.statistics(t, what);
    o.corpus = corpus_of(task.corpus_score.metric, o.statistics);
    o.has_corpus = true;
  }
  o.sample = t.get<int64_t>("sample");
  if (t.find("correct")) o.correct = t.get<int64_t>("correct");
  if (t.find("score")) o.score = t.get<double>("score");
  if (t.find("consistent")) o.consistent = t.get<int64_t>("consistent");
  check_codes(o.correct, "correct", what);
  check_codes(o.consistent, "consistent", what);
  for (size_t i = 0; i < o.score.size(); ++i)
    if (std::isinf(o.score[i]))
      throw InputError(
          fmt::format("{}: samples.score[{}]", what, i),
          fmt::format("expected a finite score or NaN (unscorable), found {}", o.score[i]));
  return o;
}

// Mean of v over entries >= 0 (the scorable ones); NaN if none. n gets the count.
double mean_scorable(const std::vector<int64_t>& v, int64_t* n, int64_t* sum) {
  *n = 0;
  *sum = 0;
  for (int64_t x : v)
    if (x >= 0) {
      ++*n;
      *sum += x;
    }
  return *n ? double(*sum) / double(*n) : kNaN;
}

// The language score (sweeps/METHODS.md D): the task's corpus score where it has one (FLORES:
// corpus chrF; Global-MMLU: mean over subjects), else the accuracy over the scorable samples for a
// task with verdicts, else the mean per-sample score.
double language_score(const Outcomes& o) {
  if (o.has_corpus) return o.corpus;
  if (o.correct.empty()) return mean_scored(o.score);
  int64_t n = 0, sum = 0;
  return mean_scorable(o.correct, &n, &sum);
}

// The per-sample metric the baseline comparison pairs: correct (0/1, NaN when unscorable) when
// the task has verdicts, else the graded score.
ScoredSamples scored(const Outcomes& o) {
  ScoredSamples s;
  s.index = o.sample;
  s.statistics = o.statistics;
  if (o.correct.empty()) {
    s.score = o.score;
  } else {
    for (int64_t c : o.correct) s.score.push_back(c >= 0 ? double(c) : kNaN);
  }
  if (s.score.size() != s.index.size()) s.score.assign(s.index.size(), kNaN);
  return s;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + v[i];
  return s;
}

}  // namespace

double CorpusScore::operator()(const Table& samples, const std::string& what) const {
  return corpus_of(metric, statistics(samples, what));
}

// Temporary files of atomic writes older than this are debris of killed processes.
constexpr double kMergeDebrisAge_s = 600;

MergeReport merge(const Store& store, const MergeSpec& spec, const fs::path& out,
                  bool allow_partial) {
  MergeReport rep;
  rep.units_total = int64_t(spec.units.size());
  // Damaged unit files are moved aside first (the next run computes them again): they count as
  // missing, and HDF5 never parses them.
  std::vector<std::string> ids;
  for (const auto& u : spec.units) ids.push_back(u.id);
  rep.damaged = store.quarantine_damaged(ids);
  store.clean_tmp(kMergeDebrisAge_s);
  const std::set<std::string> present = store.done_units();
  for (const auto& u : spec.units)
    if (!present.count(u.id)) rep.missing.push_back(u.id);
  if (!rep.missing.empty() && !allow_partial) return rep;

  // ---- read every present unit, grouped as the merged file lays them out -------------------
  std::map<std::string, UnitResult> expert_sets;                     // set id -> result
  std::map<std::string, std::vector<UnitResult>> stats_parts;        // stats id -> ranges
  std::map<std::pair<std::string, std::string>, std::vector<UnitResult>> eval_parts;
  std::map<std::string, UnitMeta> unit_meta;  // id -> who made it
  std::map<std::pair<std::string, std::string>, std::pair<int64_t, std::string>> notes;
  std::set<std::string> runners;
  for (const auto& u : spec.units) {
    if (!present.count(u.id)) continue;
    UnitMeta meta;
    UnitResult r = store.read(u.id, &meta);
    if (meta.unit != u.id || meta.kind != u.kind)
      throw InputError(store.unit_path(u.id).string(),
                       fmt::format("expected unit {} of kind {}, found unit {} of kind {}", u.id,
                                   u.kind, meta.unit, meta.kind));
    unit_meta[u.id] = meta;
    runners.insert(meta.runner);
    for (const auto& [k, v] : r.notes) {
      auto& n = notes[{k, v}];
      if (n.first++ == 0) n.second = u.id;
    }
    if (u.kind == "experts") expert_sets[u.expert_set] = std::move(r);
    else if (u.kind == "stats") stats_parts[u.stats].push_back(std::move(r));
    else eval_parts[{u.point, u.language}].push_back(std::move(r));
  }

  TempFile temp(Store::merge_tmp(out));
  const fs::path& tmp = temp.path();
  {
    h5::File f = h5::File::create(tmp);
    h5::Group root = f.root();
    root.set_attr("schema_version", kResultsSchemaVersion);
    root.set_attr("name", spec.name);
    root.set_attr("config_yaml", spec.config_yaml);
    root.set_attr("config_resolved", spec.resolved_yaml);
    root.set_attr("plan_hash", spec.plan_hash);
    root.set_attr("layer_indexing",
                  std::string(spec.layers_one_based ? "one_based" : "zero_based"));
    root.set_attr("code_version", std::string(code_version()));
    root.set_attr("cpu_isa", std::string(cpu::isa_description()));
    root.set_attr("created", iso_now());
    root.set_attr("runners", std::vector<std::string>(runners.begin(), runners.end()));
    root.set_attr("partial", int64_t(rep.missing.empty() ? 0 : 1));
    root.set_attr("units_total", rep.units_total);
    root.set_attr("units_missing", int64_t(rep.missing.size()));
    root.set_attr("bootstrap_resamples", int64_t(spec.bootstrap.resamples));
    root.set_attr("bootstrap_seed", int64_t(spec.bootstrap.seed));
    root.set_attr("bootstrap_confidence", spec.bootstrap.confidence);

    // ---- /experts ----------------------------------------------------------------------------
    std::map<std::string, const MergeExpertSet*> set_by_id;
    for (const auto& x : spec.expert_sets) {
      set_by_id[x.id] = &x;
      auto it = expert_sets.find(x.id);
      if (it == expert_sets.end()) continue;
      h5::Group g = root.group(fmt::format("experts/{}/{}", x.model, x.id));
      g.set_attr("rule", x.rule);
      g.set_attr("rule_kind", x.rule_kind);
      g.set_attr("tau", x.tau);
      g.set_attr("thr", x.thr);
      g.set_attr("K", x.top_k);
      g.set_attr("canonical", x.canonical);
      it->second.write(g);
    }

    // ---- /points -----------------------------------------------------------------------------
    {
      Table t;
      for (const auto& p : spec.points) {
        t.col<std::string>("point").push_back(p.id);
        t.col<std::string>("model").push_back(p.model);
        t.col<std::string>("task").push_back(p.task);
        t.col<std::string>("method").push_back(p.method);
        t.col<std::string>("rule").push_back(p.rule);
        t.col<std::string>("rule_kind").push_back(p.rule_kind);
        t.col<std::string>("expert_set").push_back(p.expert_set);
        t.col<int64_t>("layer_start").push_back(p.layer_start);
        t.col<int64_t>("layer_end").push_back(p.layer_end);
        t.col<double>("tau").push_back(p.tau);
        t.col<double>("lambda").push_back(p.lambda);
        t.col<int64_t>("K").push_back(p.top_k);
        t.col<double>("thr").push_back(p.thr);
        t.col<std::string>("direction").push_back(p.direction);
        t.col<std::string>("baseline").push_back(p.baseline);
        // (layer, expert) pairs of the point's expert set inside its layer window
        int64_t size = -1;
        auto it = expert_sets.find(p.expert_set);
        if (!p.expert_set.empty() && it != expert_sets.end() &&
            it->second.tables.count("experts")) {
          size = 0;
          for (int64_t l : it->second.tables.at("experts").get<int64_t>("layer"))
            size += l >= p.layer_start && l <= p.layer_end;
        }
        t.col<int64_t>("expert_set_size").push_back(size);
        t.col<std::string>("canonical").push_back(p.canonical);
      }
      t.write(root, "points");
    }

    // ---- /tasks ------------------------------------------------------------------------------
    {
      Table t;
      for (const auto& k : spec.tasks) {
        t.col<std::string>("task").push_back(k.name);
        t.col<std::string>("kind").push_back(k.kind);
        t.col<std::string>("languages").push_back(join(k.languages));
        t.col<std::string>("low_resource").push_back(join(k.low_resource));
        t.col<std::string>("path").push_back(k.path);
        t.col<std::string>("options").push_back(k.options);
      }
      t.write(root, "tasks");
    }

    // ---- /samples, /interventions, /accuracy --------------------------------------------------
    std::map<std::string, const MergePoint*> point_by_id;
    for (const auto& p : spec.points) point_by_id[p.id] = &p;
    std::map<std::string, Table> samples;  // task -> table
    std::map<std::pair<std::string, std::string>, Outcomes> outcomes;
    for (const auto& p : spec.points) {
      const MergeTask* task = nullptr;
      for (const auto& k : spec.tasks)
        if (k.name == p.task) task = &k;
      MOE_ASSERT(task, "point {} has unknown task {}", p.id, p.task);
      for (const auto& lang : task->languages) {
        auto it = eval_parts.find({p.id, lang});
        if (it == eval_parts.end()) continue;
        const std::string what = fmt::format("point {} language {}", p.id, lang);
        UnitResult r = combine_results(it->second, what);
        if (!r.tables.count("samples")) continue;
        const Table& s = r.tables.at("samples");
        if (!s.find("sample"))
          throw InputError(what, "expected a 'sample' column in the samples table, found none");
        outcomes[{p.id, lang}] = outcomes_of(s, *task, what);
        Table rows;
        rows.col<std::string>("point") = std::vector<std::string>(s.rows(), p.id);
        rows.col<std::string>("language") = std::vector<std::string>(s.rows(), lang);
        for (const auto& c : s.columns) rows.columns.push_back(c);
        samples[p.task].append(rows);
        if (!r.arrays.empty()) {
          h5::Group g = root.group(fmt::format("interventions/{}/{}", p.id, lang));
          for (const auto& [name, a] : r.arrays) a.write(g, name);
        }
      }
    }
    root.group("samples");
    for (const auto& [task, t] : samples) t.write(root.open_group("samples"), task);

    Table acc;
    for (const auto& p : spec.points) {
      for (const auto& k : spec.tasks) {
        if (k.name != p.task) continue;
        for (const auto& lang : k.languages) {
          auto it = outcomes.find({p.id, lang});
          if (it == outcomes.end()) continue;
          const Outcomes& o = it->second;
          int64_t n = 0, correct = 0, cn = 0, csum = 0;
          const double accuracy = mean_scorable(o.correct, &n, &correct);
          if (o.correct.empty()) n = int64_t(o.sample.size());
          const double consistency = mean_scorable(o.consistent, &cn, &csum);
          // Against the baseline: the difference of the language scores, and on the samples
          // both have a score the paired-bootstrap CI of the difference (of the per-sample
          // metric's mean, or of the corpus score where the task has one) and (0/1 verdicts)
          // the exact McNemar p.
          double base = kNaN, ci_low = kNaN, ci_high = kNaN, p_mcnemar = kNaN;
          auto bit = outcomes.find({p.baseline, lang});
          if (bit != outcomes.end() && !p.baseline.empty()) {
            base = language_score(bit->second);
            if (p.baseline != p.id) {
              const LanguageComparison cmp =
                  compare_language(lang, scored(bit->second), scored(o), spec.bootstrap,
                                   k.corpus_score.metric);
              if (cmp.difference.n > 0) {
                ci_low = cmp.difference.ci_low;
                ci_high = cmp.difference.ci_high;
              }
              if (cmp.mcnemar) p_mcnemar = cmp.mcnemar->p_value;
            }
          }
          const double score = language_score(o);
          acc.col<std::string>("point").push_back(p.id);
          acc.col<std::string>("model").push_back(p.model);
          acc.col<std::string>("task").push_back(p.task);
          acc.col<std::string>("method").push_back(p.method);
          acc.col<std::string>("language").push_back(lang);
          acc.col<int64_t>("n").push_back(n);
          acc.col<int64_t>("correct").push_back(o.correct.empty() ? -1 : correct);
          acc.col<int64_t>("unscorable")
              .push_back(o.correct.empty() ? 0 : int64_t(o.correct.size()) - n);
          acc.col<double>("accuracy").push_back(accuracy);
          acc.col<double>("score").push_back(score);
          acc.col<double>("sample_mean").push_back(mean_scored(o.score));
          acc.col<double>("baseline").push_back(base);
          acc.col<double>("delta").push_back(score - base);
          acc.col<double>("ci_low").push_back(ci_low);
          acc.col<double>("ci_high").push_back(ci_high);
          acc.col<double>("p_mcnemar").push_back(p_mcnemar);
          acc.col<double>("consistency").push_back(consistency);
        }
      }
    }
    acc.write(root, "accuracy");

    // ---- /routing ----------------------------------------------------------------------------
    root.group("routing");
    for (const auto& s : spec.stats) {
      auto it = stats_parts.find(s.id);
      if (it == stats_parts.end()) continue;
      const std::string what = "statistics " + s.id;
      const RoutingStats st = routing_stats_from_unit(combine_results(it->second, what), what);
      h5::Group g = root.group(fmt::format("routing/{}/{}/{}", s.model, s.corpus, s.language));
      Labels labels = s.labels;
      labels.emplace_back("stats", s.id);
      write_routing_stats(g, st, labels);
    }

    // ---- /units, /notes, /missing -------------------------------------------------------------
    {
      Table t;
      for (const auto& u : spec.units) {
        t.col<std::string>("unit").push_back(u.id);
        t.col<std::string>("kind").push_back(u.kind);
        const bool have = present.count(u.id) > 0;
        t.col<int64_t>("present").push_back(have);
        t.col<std::string>("runner").push_back(have ? unit_meta[u.id].runner : "");
        t.col<std::string>("code_version").push_back(have ? unit_meta[u.id].code_version : "");
        t.col<std::string>("cpu_isa").push_back(have ? unit_meta[u.id].cpu_isa : "");
      }
      t.write(root, "units");
      Table n;
      for (const auto& [kv, c] : notes) {
        n.col<std::string>("key").push_back(kv.first);
        n.col<std::string>("value").push_back(kv.second);
        n.col<int64_t>("units").push_back(c.first);
        n.col<std::string>("first_unit").push_back(c.second);
      }
      n.write(root, "notes");
      if (!rep.missing.empty()) {
        Table m;
        m.col<std::string>("unit") = rep.missing;
        m.write(root, "missing");
      }
    }
    f.flush();
  }
  fsync_path(tmp);
  fs::rename(tmp, out);
  temp.keep();
  fsync_path(out.parent_path().empty() ? fs::path(".") : out.parent_path());
  rep.written = out;
  return rep;
}

}  // namespace moe::results
