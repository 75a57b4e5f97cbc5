#include "results/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "results/h5.h"
#include "results/significance.h"
#include "results/unit_result.h"
#include "runtime/core/error.h"

namespace moe::results {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct PointRow {
  std::string id, model, task, method, rule, direction, baseline;
  int64_t layer_start = -1, layer_end = -1, top_k = -1, set_size = -1;
  double tau = kNaN, lambda = kNaN, thr = kNaN;
  int layer_base = 0;  // 1 where the config writes layers 1-indexed (the file's are 0-indexed)
  bool is_baseline() const { return method == "none"; }
};

struct AccRow {
  std::string language;
  int64_t n = 0;
  double score = kNaN, baseline = kNaN, delta = kNaN, ci_low = kNaN, ci_high = kNaN,
         p_mcnemar = kNaN, consistency = kNaN;
};

struct TaskRow {
  std::vector<std::string> languages, low_resource;
};

// What one point did over the task's languages.
struct Summary {
  const PointRow* point = nullptr;
  std::vector<const AccRow*> rows;  // the task's languages that were evaluated, in task order
  double mean = kNaN, mean_delta = kNaN, non_english = kNaN, low_resource = kNaN;
  significance::SignTest sign;
  significance::TTest t;
};

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t b = 0;
  while (b < s.size()) {
    size_t e = s.find(',', b);
    if (e == std::string::npos) e = s.size();
    if (e > b) out.push_back(s.substr(b, e - b));
    b = e + 1;
  }
  return out;
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  int n = 0;
  for (double x : v)
    if (!std::isnan(x)) {
      s += x;
      ++n;
    }
  return n ? s / n : kNaN;
}

std::string num(double x, int precision = 3) {
  return std::isnan(x) ? "-" : fmt::format("{:.{}f}", x, precision);
}

std::string signed_num(double x) { return std::isnan(x) ? "-" : fmt::format("{:+.3f}", x); }

std::string pval(double p) {
  if (std::isnan(p)) return "-";
  return p < 1e-3 ? fmt::format("{:.1e}", p) : fmt::format("{:.3f}", p);
}

// The point's layer window as the config writes layers (layer_indexing).
std::string window(const PointRow& p) {
  return p.layer_start < 0
             ? "-"
             : fmt::format("{}-{}", p.layer_start + p.layer_base, p.layer_end + p.layer_base);
}

std::string describe(const PointRow& p) {
  if (p.is_baseline()) return "baseline";
  std::string s = fmt::format("{} {} layers {}", p.method, p.rule, window(p));
  if (!std::isnan(p.tau)) s += fmt::format(" tau={:g}", p.tau);
  if (p.top_k >= 0) s += fmt::format(" K={}", p.top_k);
  if (!std::isnan(p.thr)) s += fmt::format(" thr={:g}", p.thr);
  if (!std::isnan(p.lambda)) s += fmt::format(" lambda={:g}", p.lambda);
  if (!p.direction.empty()) s += " " + p.direction;
  return s;
}

template <typename T>
const std::vector<T>& column(const Table& t, const std::string& table, const std::string& name,
                             const std::filesystem::path& file) {
  const Column* c = t.find(name);
  if (!c || !std::holds_alternative<std::vector<T>>(c->values))
    throw InputError(fmt::format("{}: /{}", file.string(), table),
                     fmt::format("expected a column '{}' of the merged schema, found {}", name,
                                 c ? "another type" : "none"));
  return std::get<std::vector<T>>(c->values);
}

Summary summarize(const PointRow& p, const TaskRow& task,
                  const std::map<std::string, AccRow>& acc) {
  Summary s;
  s.point = &p;
  std::vector<double> scores, deltas, non_en, low;
  const std::set<std::string> low_set(task.low_resource.begin(), task.low_resource.end());
  for (const auto& lang : task.languages) {
    auto it = acc.find(lang);
    if (it == acc.end()) continue;
    const AccRow& r = it->second;
    s.rows.push_back(&r);
    scores.push_back(r.score);
    if (!std::isnan(r.delta)) deltas.push_back(r.delta);
    if (lang != "en") non_en.push_back(p.is_baseline() ? r.score : r.delta);
    if (low_set.count(lang)) low.push_back(p.is_baseline() ? r.score : r.delta);
  }
  s.mean = mean_of(scores);
  s.mean_delta = mean_of(deltas);
  s.non_english = mean_of(non_en);
  s.low_resource = mean_of(low);
  if (!p.is_baseline()) {
    s.sign = significance::sign_test(deltas);
    s.t = significance::paired_t_test(deltas);
  }
  return s;
}

void per_language(std::string& out, const Summary& s, const Summary& base, const TaskRow& task) {
  out += fmt::format("\n  {} ({})\n", describe(*s.point), s.point->id);
  out += fmt::format("    {:<10} {:>5} {:>8} {:>8} {:>8} {:>18} {:>10} {:>8}\n", "language", "n",
                     "base", "point", "delta", "95% CI", "McNemar p", "consist.");
  for (const AccRow* r : s.rows) {
    const std::string ci = std::isnan(r->ci_low)
                               ? "-"
                               : fmt::format("[{:+.3f}, {:+.3f}]", r->ci_low, r->ci_high);
    out += fmt::format("    {:<10} {:>5} {:>8} {:>8} {:>8} {:>18} {:>10} {:>8}\n", r->language,
                       r->n, num(r->baseline), num(r->score), signed_num(r->delta), ci,
                       pval(r->p_mcnemar), num(r->consistency));
  }
  out += fmt::format("    {:<10} {:>5} {:>8} {:>8} {:>8}\n", "mean", "", num(base.mean),
                     num(s.mean), signed_num(s.mean_delta));
  out += fmt::format("    {:<10} {:>5} {:>8} {:>8} {:>8}\n", "non-en", "", num(base.non_english),
                     num(base.non_english + s.non_english), signed_num(s.non_english));
  if (!task.low_resource.empty())
    out += fmt::format("    {:<10} {:>5} {:>8} {:>8} {:>8}\n", "low-res", "",
                       num(base.low_resource), num(base.low_resource + s.low_resource),
                       signed_num(s.low_resource));
  out += fmt::format(
      "    across languages: sign test {}+ / {}- ({} zero) p = {}; paired t = {} (df {}) p = {}\n",
      s.sign.positive, s.sign.negative, s.sign.zeros, pval(s.sign.p_value), num(s.t.t, 2),
      s.t.n > 1 ? fmt::format("{:g}", s.t.df) : "-", pval(s.t.p_value));
}

// Mean score over languages by layer window x the point's numeric parameters, per (method,
// rule, direction).
void grids(std::string& out, const std::vector<Summary>& points) {
  std::map<std::string, std::vector<const Summary*>> by_kind;
  for (const Summary& s : points)
    if (!s.point->is_baseline())
      by_kind[fmt::format("{} {}{}", s.point->method, s.point->rule,
                          s.point->direction.empty() ? "" : " " + s.point->direction)]
          .push_back(&s);
  for (const auto& [kind, list] : by_kind) {
    std::vector<std::string> cols, rows;
    std::map<std::pair<std::string, std::string>, double> cell;
    for (const Summary* s : list) {
      const PointRow& p = *s->point;
      std::vector<std::string> parts;
      if (!std::isnan(p.tau)) parts.push_back(fmt::format("tau={:g}", p.tau));
      if (p.top_k >= 0) parts.push_back(fmt::format("K={}", p.top_k));
      if (!std::isnan(p.thr)) parts.push_back(fmt::format("thr={:g}", p.thr));
      if (!std::isnan(p.lambda)) parts.push_back(fmt::format("l={:g}", p.lambda));
      const std::string c = parts.empty() ? "-" : fmt::format("{}", fmt::join(parts, " "));
      if (std::find(cols.begin(), cols.end(), c) == cols.end()) cols.push_back(c);
      const std::string r = window(p);
      if (std::find(rows.begin(), rows.end(), r) == rows.end()) rows.push_back(r);
      cell[{r, c}] = s->mean;
    }
    size_t w = 8;
    for (const auto& c : cols) w = std::max(w, c.size());
    out += fmt::format("\n  {}: mean score by layer window x parameters\n    {:<8}", kind,
                       "layers");
    for (const auto& c : cols) out += fmt::format(" {:>{}}", c, w);
    out += "\n";
    for (const auto& r : rows) {
      out += fmt::format("    {:<8}", r);
      for (const auto& c : cols) {
        auto it = cell.find({r, c});
        out += fmt::format(" {:>{}}", it == cell.end() ? "" : num(it->second), w);
      }
      out += "\n";
    }
  }
}

}  // namespace

std::string format_report(const std::filesystem::path& results, const ReportOptions& options) {
  const h5::File f = h5::File::open(results);
  const h5::Group root = f.root();
  for (const char* t : {"points", "tasks", "accuracy"})
    if (!root.has(t))
      throw InputError(fmt::format("{}: /{}", results.string(), t),
                       "expected a merged sweep file (moe-sweep merge) with this table, found none");
  const Table pt = Table::read(root, "points");
  const Table tt = Table::read(root, "tasks");
  const Table at = Table::read(root, "accuracy");
  if (pt.rows() == 0 && at.rows() == 0)  // a `moe-sweep routing` output, or a sweep without tasks
    return fmt::format("{}: no scored points (no tasks in this sweep); its routing statistics "
                       "and expert sets: moe-sweep analyze {}\n",
                       results.string(), results.string());

  std::vector<PointRow> points(pt.rows());
  {
    const auto& id = column<std::string>(pt, "points", "point", results);
    const auto& model = column<std::string>(pt, "points", "model", results);
    const auto& task = column<std::string>(pt, "points", "task", results);
    const auto& method = column<std::string>(pt, "points", "method", results);
    const auto& rule = column<std::string>(pt, "points", "rule", results);
    const auto& dir = column<std::string>(pt, "points", "direction", results);
    const auto& base = column<std::string>(pt, "points", "baseline", results);
    const auto& ls = column<int64_t>(pt, "points", "layer_start", results);
    const auto& le = column<int64_t>(pt, "points", "layer_end", results);
    const auto& k = column<int64_t>(pt, "points", "K", results);
    const auto& size = column<int64_t>(pt, "points", "expert_set_size", results);
    const auto& tau = column<double>(pt, "points", "tau", results);
    const auto& lambda = column<double>(pt, "points", "lambda", results);
    const auto& thr = column<double>(pt, "points", "thr", results);
    // Files merged before the attribute existed: layers as stored (0-indexed).
    const int layer_base =
        root.has_attr("layer_indexing") && root.attr_string("layer_indexing") == "one_based" ? 1
                                                                                             : 0;
    for (size_t i = 0; i < points.size(); ++i)
      points[i] = {id[i], model[i], task[i], method[i], rule[i],   dir[i], base[i],   ls[i],
                   le[i], k[i],     size[i], tau[i],    lambda[i], thr[i], layer_base};
  }
  std::map<std::string, TaskRow> tasks;
  {
    const auto& name = column<std::string>(tt, "tasks", "task", results);
    const auto& langs = column<std::string>(tt, "tasks", "languages", results);
    const auto& low = column<std::string>(tt, "tasks", "low_resource", results);
    for (size_t i = 0; i < tt.rows(); ++i)
      tasks[name[i]] = {split_commas(langs[i]), split_commas(low[i])};
  }
  std::map<std::string, std::map<std::string, AccRow>> acc;  // point -> language -> row
  {
    const auto& point = column<std::string>(at, "accuracy", "point", results);
    const auto& lang = column<std::string>(at, "accuracy", "language", results);
    const auto& n = column<int64_t>(at, "accuracy", "n", results);
    const auto& score = column<double>(at, "accuracy", "score", results);
    const auto& base = column<double>(at, "accuracy", "baseline", results);
    const auto& delta = column<double>(at, "accuracy", "delta", results);
    const auto& cons = column<double>(at, "accuracy", "consistency", results);
    const auto& lo = column<double>(at, "accuracy", "ci_low", results);
    const auto& hi = column<double>(at, "accuracy", "ci_high", results);
    const auto& p = column<double>(at, "accuracy", "p_mcnemar", results);
    for (size_t i = 0; i < at.rows(); ++i)
      acc[point[i]][lang[i]] = {lang[i], n[i],  score[i], base[i], delta[i],
                                lo[i],   hi[i], p[i],     cons[i]};
  }

  std::string out = fmt::format("sweep {} ({}): {} points, {} units{}\n",
                                root.attr_string("name"), results.string(), points.size(),
                                root.attr_int("units_total"),
                                root.attr_int("partial") ? fmt::format(
                                                               ", PARTIAL: {} units missing",
                                                               root.attr_int("units_missing"))
                                                         : "");
  if (!points.empty() && points[0].layer_base == 1)
    out += "layers 1-indexed, as the config writes them (layer_indexing: one_based)\n";
  std::vector<std::pair<std::string, std::string>> model_tasks;
  for (const PointRow& p : points)
    if (std::find(model_tasks.begin(), model_tasks.end(), std::make_pair(p.model, p.task)) ==
        model_tasks.end())
      model_tasks.emplace_back(p.model, p.task);
  // A filter that matches nothing is a typo, not an empty report.
  auto check_filter = [&](const char* option, const std::string& value,
                          const std::vector<std::string>& known) {
    if (value.empty() || std::find(known.begin(), known.end(), value) != known.end()) return;
    throw InputError(fmt::format("report {}", option),
                     fmt::format("expected one of {} ({}), found '{}'", fmt::join(known, ", "),
                                 results.string(), value));
  };
  std::vector<std::string> models, task_names, point_ids;
  for (const PointRow& p : points) {
    if (std::find(models.begin(), models.end(), p.model) == models.end()) models.push_back(p.model);
    if (std::find(task_names.begin(), task_names.end(), p.task) == task_names.end())
      task_names.push_back(p.task);
    point_ids.push_back(p.id);
  }
  check_filter("--model", options.model, models);
  check_filter("--task", options.task, task_names);
  for (const auto& id : options.points)
    if (std::find(point_ids.begin(), point_ids.end(), id) == point_ids.end())
      throw InputError("report --point", fmt::format("expected a point id of {} (see its /points "
                                                     "table or the report's tables), found '{}'",
                                                     results.string(), id));
  for (const auto& [model, task_name] : model_tasks) {
    if (!options.model.empty() && model != options.model) continue;
    if (!options.task.empty() && task_name != options.task) continue;
    const TaskRow& task = tasks[task_name];
    std::vector<Summary> sums;
    const Summary* base = nullptr;
    for (const PointRow& p : points)
      if (p.model == model && p.task == task_name) sums.push_back(summarize(p, task, acc[p.id]));
    for (const Summary& s : sums)
      if (s.point->is_baseline()) base = &s;
    out += fmt::format("\n== {} / {}: languages {}{}\n", model, task_name,
                       fmt::join(task.languages, ","),
                       task.low_resource.empty()
                           ? ""
                           : fmt::format(" (low-resource {})", fmt::join(task.low_resource, ",")));
    if (!base) {
      out += "  (no baseline in this file)\n";
      continue;
    }
    out += fmt::format("  baseline: mean {}, non-English {}, low-resource {}\n", num(base->mean),
                       num(base->non_english), num(base->low_resource));
    std::vector<const Summary*> ranked;
    for (const Summary& s : sums)
      if (!s.point->is_baseline()) ranked.push_back(&s);
    std::stable_sort(ranked.begin(), ranked.end(), [](const Summary* a, const Summary* b) {
      const double x = std::isnan(a->mean_delta) ? -1e300 : a->mean_delta;
      const double y = std::isnan(b->mean_delta) ? -1e300 : b->mean_delta;
      return x > y;
    });
    const size_t top = options.top > 0 ? std::min(ranked.size(), size_t(options.top)) : ranked.size();
    out += fmt::format("\n  best points by mean delta over languages ({} of {})\n", top,
                       ranked.size());
    out += fmt::format("    {:<16} {:<44} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8}\n", "point",
                       "intervention", "|set|", "mean", "delta", "non-en", "low-res", "sign p");
    for (size_t i = 0; i < top; ++i) {
      const Summary& s = *ranked[i];
      out += fmt::format("    {:<16} {:<44} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8}\n", s.point->id,
                         describe(*s.point), s.point->set_size, num(s.mean),
                         signed_num(s.mean_delta), signed_num(s.non_english),
                         task.low_resource.empty() ? "-" : signed_num(s.low_resource),
                         pval(s.sign.p_value));
    }
    std::vector<const Summary*> detail(ranked.begin(),
                                       ranked.begin() + std::min(ranked.size(),
                                                                 size_t(std::max(0, options.detail))));
    for (const Summary& s : sums)
      if (std::find(options.points.begin(), options.points.end(), s.point->id) !=
              options.points.end() &&
          std::find(detail.begin(), detail.end(), &s) == detail.end() && !s.point->is_baseline())
        detail.push_back(&s);
    for (const Summary* s : detail) per_language(out, *s, *base, task);
    grids(out, sums);
  }
  return out;
}

}  // namespace moe::results
