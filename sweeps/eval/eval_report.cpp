#include "sweeps/eval/eval_report.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>
#include <variant>

#include "results/h5.h"
#include "runtime/core/error.h"
#include "runtime/core/version.h"
#include "sweeps/tasks/gmmlu.h"

namespace moe::eval {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A table under construction: named columns of one type each.
class TableWriter {
 public:
  using Values = std::variant<std::vector<int64_t>, std::vector<double>, std::vector<std::string>>;
  template <typename T>
  std::vector<T>& col(const std::string& name) {
    for (auto& [n, v] : cols_)
      if (n == name) return std::get<std::vector<T>>(v);
    cols_.emplace_back(name, std::vector<T>{});
    return std::get<std::vector<T>>(cols_.back().second);
  }
  void write(const h5::Group& parent, const std::string& name) const {
    const h5::Group g = parent.group(name);
    std::vector<std::string> names;
    size_t rows = 0;
    for (const auto& col : cols_) {
      // References, not a structured binding: clang 14 cannot capture those in a lambda.
      const std::string& n = col.first;
      const auto& v = col.second;
      const size_t size = std::visit([](const auto& x) { return x.size(); }, v);
      MOE_ASSERT(names.empty() || size == rows, "table {}: column {} has {} rows, not {}", name, n,
                 size, rows);
      rows = size;
      names.push_back(n);
      std::visit(
          [&](const auto& x) {
            using T = typename std::decay_t<decltype(x)>::value_type;
            if constexpr (std::is_same_v<T, std::string>)
              g.write_strings(n, x);
            else
              g.write(n, x);
          },
          v);
    }
    g.set_attr("columns", names);
  }

 private:
  std::vector<std::pair<std::string, Values>> cols_;
};

std::string now_iso() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string pct(double v) {
  return std::isnan(v) ? "-" : fmt::format("{:.1f}", 100.0 * v);
}

// A score in its unit: accuracy-like metrics as percent, chrF as is.
std::string score_text(const LanguageSummary& s, double v) {
  if (std::isnan(v)) return "-";
  return s.metric == "chrf" ? fmt::format("{:.1f}", v) : pct(v);
}

std::string p_text(double p) {
  return std::isnan(p) ? "-" : fmt::format("{:.3g}", p);
}

}  // namespace

results::ScoredSamples scored_samples(std::span<const SampleResult> samples, TaskKind kind) {
  results::ScoredSamples s;
  for (const SampleResult& r : samples) {
    s.index.push_back(r.index);
    s.score.push_back(r.score);
    if (kind == TaskKind::kFlores)
      s.statistics.insert(s.statistics.end(), r.chrf_stats.begin(), r.chrf_stats.end());
    if (kind == TaskKind::kGmmlu)
      tasks::append_gmmlu_statistics(r.subject, r.score, fmt::format("sample {}", r.index),
                                     s.statistics);
  }
  return s;
}

results::PointComparison compare_runs(std::span<const EvalRun> runs, size_t baseline, size_t point,
                                      TaskKind kind,
                                      const significance::BootstrapOptions& options) {
  std::vector<results::ScoredSamples> base, pt;
  base.reserve(runs.size());
  pt.reserve(runs.size());
  std::vector<results::LanguagePair> pairs;
  for (const EvalRun& r : runs) {
    base.push_back(scored_samples(r.points.at(baseline).samples, kind));
    pt.push_back(scored_samples(r.points.at(point).samples, kind));
  }
  for (size_t i = 0; i < runs.size(); ++i)
    pairs.push_back(results::LanguagePair{runs[i].language, &base[i], &pt[i]});
  return results::compare_point(pairs, options, language_metric(kind));
}

std::string format_report(const EvalReport& r) {
  const EvalConfig& c = *r.config;
  std::string out =
      fmt::format("{} ({}) on {}\n", c.task.name, task_kind_name(c.task.kind), r.model_description);
  const std::string metric =
      r.runs.empty() || r.runs[0].points.empty() ? "score" : r.runs[0].points[0].summary.metric;
  if (!r.comparison) {
    out += fmt::format("{:<10} {:>6} {:>9} {:>11}\n", "language", "n", metric, "consistency");
    double sum = 0;
    int k = 0;
    for (const EvalRun& run : r.runs) {
      const LanguageSummary& s = run.points[0].summary;
      out += fmt::format("{:<10} {:>6} {:>9} {:>11}\n", s.language, s.n, score_text(s, s.score),
                         pct(s.consistency_rate));
      if (!std::isnan(s.score)) {
        sum += s.score;
        ++k;
      }
    }
    if (k > 0) {
      const LanguageSummary& s0 = r.runs[0].points[0].summary;
      out += fmt::format("{:<10} {:>6} {:>9}\n", "mean", "", score_text(s0, sum / k));
    }
    return out;
  }
  const results::PointComparison& cmp = *r.comparison;
  out += fmt::format(
      "point '{}' against the baseline on the same samples ({}% CI: paired "
      "bootstrap, {} resamples; p: exact McNemar)\n",
      r.intervention ? r.intervention->name : "", 100.0 * c.bootstrap.confidence,
      c.bootstrap.resamples);
  out += fmt::format("{:<10} {:>6} {:>9} {:>9} {:>8} {:>17} {:>8}\n", "language", "n", "base",
                     "point", "delta", "CI", "p");
  for (size_t i = 0; i < r.runs.size(); ++i) {
    const LanguageSummary& b = r.runs[i].points[0].summary;
    const LanguageSummary& p = r.runs[i].points[1].summary;
    const results::LanguageComparison& lc = cmp.languages[i];
    const significance::PairedDifference& d = lc.difference;
    const double scale = b.metric == "chrf" ? 1.0 : 100.0;
    out += fmt::format(
        "{:<10} {:>6} {:>9} {:>9} {:>+8.2f} {:>17} {:>8}\n", b.language, d.n,
        score_text(b, b.score), score_text(p, p.score), scale * d.difference,
        d.n > 0 ? fmt::format("[{:+.2f}, {:+.2f}]", scale * d.ci_low, scale * d.ci_high) : "-",
        lc.mcnemar ? p_text(lc.mcnemar->p_value) : "-");
  }
  out += fmt::format(
      "across {} languages: sign test +{} -{} (={}) p {}; paired t-test mean "
      "delta {:+.4f} t {:.3g} df {} p {}\n",
      cmp.deltas.size(), cmp.sign.positive, cmp.sign.negative, cmp.sign.zeros,
      p_text(cmp.sign.p_value), cmp.t_test.mean, cmp.t_test.t, cmp.t_test.df,
      p_text(cmp.t_test.p_value));
  return out;
}

void write_eval_file(const std::filesystem::path& path, const EvalReport& r) {
  const EvalConfig& c = *r.config;
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    h5::File f = h5::File::create(tmp);
    const h5::Group root = f.root();
    root.set_attr("kind", std::string("moe-sweep eval"));
    root.set_attr("schema", int64_t(1));
    root.set_attr("code_version", std::string(code_version()));
    root.set_attr("created", now_iso());
    root.set_attr("config", c.text);
    root.set_attr("model_dir", c.model.path.string());
    root.set_attr("model", r.model_description);
    root.set_attr("family", r.family);
    root.set_attr("routing", r.routing);
    root.set_attr("task", c.task.name);
    root.set_attr("task_kind", std::string(task_kind_name(c.task.kind)));
    root.set_attr("task_options", task_options_json(c.task));
    root.set_attr("bootstrap_resamples", int64_t(c.bootstrap.resamples));
    root.set_attr("bootstrap_seed", int64_t(c.bootstrap.seed));
    root.set_attr("bootstrap_confidence", c.bootstrap.confidence);
    std::vector<std::string> notes;
    for (const EvalRun& run : r.runs)
      for (const std::string& n : run.notes)
        if (std::find(notes.begin(), notes.end(), n) == notes.end()) notes.push_back(n);
    root.write_strings("notes", notes);

    // /points
    TableWriter points;
    auto point_row = [&](const std::string& id, const std::string& method,
                         const std::string& layers, double lambda, const std::string& dir,
                         const std::string& experts) {
      points.col<std::string>("point").push_back(id);
      points.col<std::string>("method").push_back(method);
      points.col<std::string>("layers").push_back(layers);
      points.col<double>("lambda").push_back(lambda);
      points.col<std::string>("direction").push_back(dir);
      points.col<std::string>("experts").push_back(experts);
    };
    point_row("baseline", "none", "none", kNaN, "", "");
    if (r.intervention)
      for (size_t i = 0; i < c.edits.size(); ++i) {
        const EditSpec& e = c.edits[i];
        const ExpertSetSource& src = c.experts.at(e.experts);
        point_row(r.intervention->name, std::string(routing::intervention_method_name(e.method)),
                  routing::layer_range_text(e.layers), e.lambda, e.suppress ? "suppress" : "boost",
                  src.file.empty()
                      ? e.experts + " (explicit)"
                      : fmt::format("{} ({}:{})", e.experts, src.file.string(), src.set));
      }
    points.write(root, "points");

    // /accuracy and /samples
    TableWriter acc;
    const size_t P = r.runs.empty() ? 0 : r.runs[0].points.size();
    for (size_t p = 0; p < P; ++p) {
      TableWriter samples;
      for (size_t li = 0; li < r.runs.size(); ++li) {
        const PointResult& pr = r.runs[li].points[p];
        const LanguageSummary& s = pr.summary;
        acc.col<std::string>("point").push_back(pr.point);
        acc.col<std::string>("language").push_back(s.language);
        acc.col<std::string>("metric").push_back(s.metric);
        acc.col<int64_t>("n").push_back(s.n);
        acc.col<int64_t>("scored").push_back(s.scored);
        acc.col<int64_t>("unscorable").push_back(s.unscorable);
        acc.col<double>("score").push_back(s.score);
        acc.col<double>("correct").push_back(s.correct);
        acc.col<double>("accuracy_lower").push_back(s.accuracy_lower);
        acc.col<double>("accuracy_upper").push_back(s.accuracy_upper);
        acc.col<double>("exact_match").push_back(s.exact_match);
        acc.col<double>("f1").push_back(s.f1);
        acc.col<double>("containment").push_back(s.containment);
        acc.col<double>("sentence_chrf").push_back(s.sentence_chrf);
        acc.col<int64_t>("consistent").push_back(s.consistent);
        acc.col<int64_t>("inconsistent").push_back(s.inconsistent);
        acc.col<int64_t>("undetermined").push_back(s.undetermined);
        acc.col<double>("consistency_rate").push_back(s.consistency_rate);
        const results::LanguageComparison* lc =
            p == 1 && r.comparison ? &r.comparison->languages[li] : nullptr;
        acc.col<double>("difference").push_back(lc ? lc->difference.difference : kNaN);
        acc.col<double>("ci_low").push_back(lc ? lc->difference.ci_low : kNaN);
        acc.col<double>("ci_high").push_back(lc ? lc->difference.ci_high : kNaN);
        acc.col<int64_t>("paired").push_back(lc ? lc->difference.n : 0);
        acc.col<int64_t>("unpaired").push_back(lc ? lc->unpaired : 0);
        acc.col<int64_t>("unscored").push_back(lc ? lc->unscored : 0);
        acc.col<double>("mcnemar_p").push_back(lc && lc->mcnemar ? lc->mcnemar->p_value : kNaN);
        acc.col<int64_t>("mcnemar_b").push_back(lc && lc->mcnemar ? lc->mcnemar->baseline_only : 0);
        acc.col<int64_t>("mcnemar_c")
            .push_back(lc && lc->mcnemar ? lc->mcnemar->treatment_only : 0);
        for (const SampleResult& x : pr.samples) {
          samples.col<std::string>("language").push_back(s.language);
          samples.col<int64_t>("index").push_back(x.index);
          samples.col<std::string>("id").push_back(x.id);
          samples.col<std::string>("subject").push_back(x.subject);
          samples.col<std::string>("output").push_back(x.output);
          samples.col<std::string>("answer_text").push_back(x.answer_text);
          samples.col<std::string>("extracted").push_back(x.extracted);
          samples.col<std::string>("gold").push_back(x.gold);
          samples.col<double>("score").push_back(x.score);
          samples.col<std::string>("verdict").push_back(x.verdict);
          samples.col<double>("exact_match").push_back(x.exact_match);
          samples.col<double>("f1").push_back(x.f1);
          samples.col<double>("containment").push_back(x.containment);
          samples.col<double>("chrf").push_back(x.chrf);
          for (size_t k = 0; k < 4; ++k)
            samples.col<double>(fmt::format("logprob_{}", char('a' + k)))
                .push_back(x.choice_logprob[k]);
          samples.col<std::string>("consistency").push_back(x.consistency);
          samples.col<std::string>("detected").push_back(x.detected);
          samples.col<std::string>("finish").push_back(x.finish);
          samples.col<int64_t>("prompt_tokens").push_back(x.prompt_tokens);
          samples.col<int64_t>("generated_tokens").push_back(x.generated_tokens);
        }
      }
      const std::string id = r.runs[0].points[p].point;
      samples.write(root.group("samples"), id);
      // /selection/<point>
      const h5::Group sel = root.group("selection/" + id);
      std::vector<int64_t> before, after, tokens;
      std::vector<std::string> langs;
      uint64_t L = 0, E = 0;
      for (const EvalRun& run : r.runs) {
        const routing::SelectionCounts& k = run.points[p].counts;
        L = uint64_t(k.num_layers);
        E = uint64_t(k.num_experts);
        before.insert(before.end(), k.before.begin(), k.before.end());
        after.insert(after.end(), k.after.begin(), k.after.end());
        tokens.insert(tokens.end(), k.tokens.begin(), k.tokens.end());
        langs.push_back(run.language);
      }
      const uint64_t A = r.runs.size();
      sel.write("selected_before", before, {A, L, E}, true);
      sel.write("selected_after", after, {A, L, E}, true);
      sel.write("tokens", tokens, {A, L});
      sel.set_attr("languages", langs);
      TableWriter trunc;
      trunc.col<int64_t>("edit");
      trunc.col<int64_t>("layer");
      trunc.col<std::string>("kept");
      trunc.col<std::string>("dropped");
      for (const routing::Truncation& t : r.runs[0].points[p].truncations) {
        trunc.col<int64_t>("edit").push_back(int64_t(t.edit));
        trunc.col<int64_t>("layer").push_back(t.layer);
        trunc.col<std::string>("kept").push_back(fmt::format("{}", fmt::join(t.kept, ",")));
        trunc.col<std::string>("dropped").push_back(fmt::format("{}", fmt::join(t.dropped, ",")));
      }
      trunc.write(sel, "truncations");
    }
    acc.write(root, "accuracy");

    if (r.comparison) {
      const results::PointComparison& cmp = *r.comparison;
      const h5::Group g = root.group("comparison");
      g.set_attr("point", r.intervention ? r.intervention->name : std::string());
      g.set_attr("sign_positive", int64_t(cmp.sign.positive));
      g.set_attr("sign_negative", int64_t(cmp.sign.negative));
      g.set_attr("sign_zeros", int64_t(cmp.sign.zeros));
      g.set_attr("sign_p", cmp.sign.p_value);
      g.set_attr("t_mean", cmp.t_test.mean);
      g.set_attr("t_sd", cmp.t_test.sd);
      g.set_attr("t", cmp.t_test.t);
      g.set_attr("t_df", cmp.t_test.df);
      g.set_attr("t_p", cmp.t_test.p_value);
      g.write_strings("languages", cmp.delta_languages);
      g.write("deltas", cmp.deltas);
    }
    f.flush();
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec)
    throw Error(fmt::format("cannot move {} to {}: {}", tmp.string(), path.string(), ec.message()));
}

}  // namespace moe::eval
