#include "sweeps/routing/analysis.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <set>

#include "results/h5.h"
#include "runtime/core/error.h"
#include "sweeps/tasks/languages.h"

namespace moe::analysis {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A language code in its canonical form from the language table (as given if unknown), so that
// "de", "deu_Latn" and a task's "de" meet.
std::string canonical(const std::string& code) {
  const tasks::Language* l = tasks::find_language(code);
  return l ? std::string(l->code) : code;
}

bool is_language(const StatsGroup& g, const std::string& code) {
  return canonical(g.language) == canonical(code);
}

// Removes a link (and what hangs below it) if present.
void remove_link(const h5::Group& parent, const std::string& name) {
  if (parent.has(name)) H5Ldelete(parent.id(), name.c_str(), H5P_DEFAULT);
}

constexpr const char* kWriter = "moe-sweep analyze";  // `source` of the expert sets it writes

}  // namespace

std::string StatsGroup::label(const std::string& key) const {
  for (const auto& [k, v] : labels)
    if (k == key) return v;
  return {};
}

std::vector<StatsGroup> read_stats_groups(const h5::Group& root) {
  std::vector<StatsGroup> out;
  if (!root.has("routing")) return out;
  const h5::Group routing = root.open_group("routing");
  for (const std::string& model : routing.children()) {
    const h5::Group m = routing.open_group(model);
    for (const std::string& corpus : m.children()) {
      const h5::Group c = m.open_group(corpus);
      for (const std::string& language : c.children()) {
        StatsGroup g;
        g.model = model;
        g.corpus = corpus;
        g.language = language;
        g.stats = results::read_routing_stats(c.open_group(language), &g.labels);
        out.push_back(std::move(g));
      }
    }
  }
  return out;
}

std::pair<int, int> middle_layers(const AnalysisOptions& o, int num_layers) {
  if (o.middle) {
    const auto [a, b] = *o.middle;
    if (a < 0 || b < a || b >= num_layers)
      throw input_error("--middle", "expected a layer range inside [0, {}], found {}-{}",
                        num_layers - 1, a, b);
    return *o.middle;
  }
  const int a = num_layers / 3;
  return {a, std::max(a, 2 * num_layers / 3 - 1)};
}

namespace {

CorpusAnalysis analyze_corpus(const std::vector<const StatsGroup*>& gs, const AnalysisOptions& o,
                              std::vector<std::string>& notes) {
  CorpusAnalysis a;
  a.model = gs[0]->model;
  a.corpus = gs[0]->corpus;
  a.num_layers = gs[0]->stats.num_layers;
  a.layers = gs[0]->stats.layers;
  const int L = a.num_layers;
  const StatsGroup* ref = nullptr;
  for (const StatsGroup* g : gs) {
    if (g->stats.num_layers != L || g->stats.num_experts != gs[0]->stats.num_experts)
      throw input_error(fmt::format("/routing/{}/{}/{}", g->model, g->corpus, g->language),
                        "expected {} layers x {} experts like the corpus' other languages, found "
                        "{} x {}",
                        L, gs[0]->stats.num_experts, g->stats.num_layers, g->stats.num_experts);
    if (is_language(*g, o.reference)) ref = g;
  }
  a.reference = ref ? ref->language : "";
  const bool parallel = gs[0]->label("parallel") == "true";
  std::vector<metrics::LayerDistributions> means;
  for (const StatsGroup* g : gs) {
    a.languages.push_back(g->language);
    a.num_seqs.push_back(g->stats.num_seqs);
    const auto q = g->stats.importance_distributions();
    means.push_back(q.mean());
    metrics::DivergenceCurve d;
    const std::string what = fmt::format("{} {}: {} vs {}", a.model, a.corpus, g->language,
                                         a.reference);
    if (!ref) {
      d.method = "none";
    } else if (g == ref) {
      d.method = "reference";
      d.per_layer.assign(size_t(L), 0.0);
    } else if (parallel && g->stats.num_seqs == ref->stats.num_seqs) {
      d = metrics::paired_divergence(ref->stats.importance_distributions(), q, what);
    } else {
      if (parallel)
        notes.push_back(fmt::format("{}: {} sequences against {}: compared corpus means", what,
                                    g->stats.num_seqs, ref->stats.num_seqs));
      d = metrics::unpaired_divergence(ref->stats.importance_distributions(), q, what);
    }
    a.divergence.push_back(std::move(d));
    a.entropy.push_back(g->stats.layer_mean(g->stats.entropy));
    a.importance_entropy.push_back(g->stats.layer_mean(g->stats.importance_entropy));
    a.consistency.push_back(g->stats.layer_mean(g->stats.consistency));
    double acc = kNaN;
    const auto by_model = o.accuracy_by_model.find(g->model);
    for (const auto& [lang, v] :
         by_model != o.accuracy_by_model.end() ? by_model->second : o.accuracy)
      if (is_language(*g, lang)) acc = v;
    a.accuracy.push_back(acc);
  }
  if (!ref)
    notes.push_back(fmt::format("{} {}: no '{}' statistics: no divergence curves", a.model,
                                a.corpus, o.reference));
  a.similarity = metrics::similarity_matrices(means);

  a.middle = middle_layers(o, L);
  const auto [m0, m1] = a.middle;
  a.middle_divergence.assign(a.languages.size(), kNaN);
  std::vector<metrics::DivergenceCurve> curves;
  std::vector<double> scores, mids;
  for (size_t i = 0; i < a.languages.size(); ++i) {
    if (a.divergence[i].per_layer.empty()) continue;
    a.middle_divergence[i] = metrics::mean_in_layers(a.divergence[i], m0, m1);
    if (gs[i] == ref || std::isnan(a.accuracy[i])) continue;
    curves.push_back(a.divergence[i]);
    scores.push_back(a.accuracy[i]);
    mids.push_back(a.middle_divergence[i]);
  }
  a.middle_correlation.layer = -1;
  a.middle_correlation.n = int(mids.size());
  a.middle_correlation.pearson = metrics::pearson(mids, scores);
  a.middle_correlation.spearman = metrics::spearman(mids, scores);
  if (!curves.empty()) a.correlation = metrics::correlate_per_layer(curves, scores);
  return a;
}

NamedExpertSet named(const StatsGroup& g, std::string name, std::string target,
                     std::string reference, experts::ExpertSet set, std::vector<double> scores) {
  NamedExpertSet n;
  n.model = g.model;
  n.corpus = g.corpus;
  n.name = std::move(name);
  n.target = std::move(target);
  n.reference = std::move(reference);
  n.set = std::move(set);
  n.scores = std::move(scores);
  return n;
}

// Delta sets (threshold and sigma) of `target` against `reference`, named "{prefix}.{rule}".
void delta_sets(const StatsGroup& target, const StatsGroup& reference, const std::string& prefix,
                const AnalysisOptions& o, std::vector<NamedExpertSet>& out) {
  const std::string what = fmt::format("{}: Delta of {}/{} against {}/{}", target.model,
                                       target.corpus, target.language, reference.corpus,
                                       reference.language);
  const auto d = experts::delta(target.stats.frequency_distributions(),
                                reference.stats.frequency_distributions(), what);
  const std::string t = target.corpus + "/" + target.language;
  const std::string r = reference.corpus + "/" + reference.language;
  for (experts::ExpertSet set :
       {experts::select_by_threshold(d, o.tau), experts::select_by_sigma(d, o.sigma)}) {
    const std::string rule = set.rule;
    out.push_back(named(target, prefix + "." + rule, t, r, std::move(set), d.data));
  }
}

}  // namespace

Analysis analyze(const std::vector<StatsGroup>& groups, const AnalysisOptions& o) {
  Analysis out;
  // (model, corpus) -> its groups, in file order.
  std::vector<std::vector<const StatsGroup*>> by_corpus;
  for (const StatsGroup& g : groups) {
    if (by_corpus.empty() || by_corpus.back()[0]->model != g.model ||
        by_corpus.back()[0]->corpus != g.corpus)
      by_corpus.emplace_back();
    by_corpus.back().push_back(&g);
  }
  for (const auto& gs : by_corpus) out.corpora.push_back(analyze_corpus(gs, o, out.notes));

  for (const auto& gs : by_corpus) {
    const StatsGroup* ref = nullptr;
    for (const StatsGroup* g : gs)
      if (is_language(*g, o.reference)) ref = g;
    const bool parallel = gs[0]->label("parallel") == "true";
    // Language experts (first study): Delta(X - reference) on a parallel corpus, and their union.
    if (ref && parallel && gs.size() > 1) {
      std::vector<std::string> langs;
      std::vector<experts::ExpertSet> thr_sets, sig_sets;
      for (const StatsGroup* g : gs) {
        if (g == ref) continue;
        const size_t before = out.expert_sets.size();
        delta_sets(*g, *ref, fmt::format("{}.lang_{}", g->corpus, g->language), o,
                   out.expert_sets);
        langs.push_back(g->language);
        thr_sets.push_back(out.expert_sets[before].set);
        sig_sets.push_back(out.expert_sets[before + 1].set);
      }
      for (const auto* sets : {&thr_sets, &sig_sets}) {
        experts::ExpertSet u = experts::multilingual_union(langs, *sets);
        const std::string name = fmt::format("{}.multilingual.{}", gs[0]->corpus, (*sets)[0].rule);
        out.expert_sets.push_back(named(*ref, name, fmt::format("{}/*", gs[0]->corpus),
                                        gs[0]->corpus + "/" + ref->language, std::move(u), {}));
      }
    }
    // Normalised affinity (second study) over the explicit language set S.
    if (!o.affinity_languages.empty()) {
      std::vector<metrics::LayerDistributions> freq;
      std::vector<std::string> missing;
      for (const std::string& s : o.affinity_languages) {
        const StatsGroup* hit = nullptr;
        for (const StatsGroup* g : gs)
          if (is_language(*g, s)) hit = g;
        if (hit)
          freq.push_back(hit->stats.pooled_frequency());
        else
          missing.push_back(s);
      }
      if (!missing.empty()) {
        out.notes.push_back(fmt::format("{} {}: affinity skipped, no statistics for {}",
                                        gs[0]->model, gs[0]->corpus, fmt::join(missing, ",")));
      } else {
        const auto w = experts::normalized_affinity(o.affinity_languages, freq, o.affinity_k);
        const size_t LE = size_t(w.num_layers) * w.num_experts;
        const std::string S = fmt::format("{}", fmt::join(o.affinity_languages, ","));
        for (size_t s = 0; s < o.affinity_languages.size(); ++s) {
          const std::string& t = o.affinity_languages[s];
          std::vector<double> ws(w.weights.begin() + long(s * LE),
                                 w.weights.begin() + long((s + 1) * LE));
          out.expert_sets.push_back(named(*gs[0],
                                          fmt::format("{}.exclusive_{}.affinity", gs[0]->corpus, t),
                                          gs[0]->corpus + "/" + t, gs[0]->corpus + "/" + S,
                                          experts::exclusive_experts(w, std::vector{t},
                                                                     o.affinity_thr),
                                          std::move(ws)));
        }
        out.expert_sets.push_back(named(
            *gs[0], fmt::format("{}.shared.affinity", gs[0]->corpus), gs[0]->corpus + "/" + S,
            gs[0]->corpus + "/" + S, experts::shared_experts(w, o.affinity_thr),
            std::vector<double>(w.weights.begin(), w.weights.begin() + long(LE))));
      }
    }
  }
  // Task experts: Delta(task corpus, reference language - a parallel corpus, reference).
  for (const std::string& task : o.task_corpora) {
    bool found = false;
    for (const StatsGroup& t : groups) {
      if (t.corpus != task || !is_language(t, o.reference)) continue;
      const StatsGroup* base = nullptr;
      for (const StatsGroup& g : groups)
        if (g.model == t.model && g.corpus != task && g.label("parallel") == "true" &&
            is_language(g, o.reference))
          base = base ? base : &g;
      if (!base) {
        out.notes.push_back(fmt::format("{}: task experts of {} need a parallel corpus in '{}'",
                                        t.model, task, o.reference));
        continue;
      }
      delta_sets(t, *base, fmt::format("{}.task", task), o, out.expert_sets);
      found = true;
    }
    if (!found)
      out.notes.push_back(fmt::format("task experts: no '{}' statistics of corpus '{}'",
                                      o.reference, task));
  }
  return out;
}

void write_analysis(const h5::Group& root, const Analysis& a, const AnalysisOptions& o) {
  // Refuse before changing anything: a set name analyze would write that belongs to a sweep.
  auto analyze_owned = [](const h5::Group& g) {
    return g.has_attr("source") && g.attr_string("source") == kWriter;
  };
  for (const NamedExpertSet& n : a.expert_sets) {
    const std::string path = "experts/" + n.model + "/" + n.name;
    if (root.has(path) && !analyze_owned(root.open_group(path)))
      throw input_error(root.file().string() + ":/" + path,
                        "expected no expert set of that name besides analyze's own, found one "
                        "(a sweep's set)");
  }
  remove_link(root, "analysis");
  const h5::Group an = root.group("analysis");
  an.set_attr("reference", o.reference);
  an.set_attr("accuracy_source", o.accuracy_source);
  if (!a.notes.empty()) an.set_attr("notes", a.notes);
  for (const CorpusAnalysis& c : a.corpora) {
    const h5::Group g = an.group(c.model + "/" + c.corpus);
    const uint64_t A = c.languages.size(), L = uint64_t(c.num_layers);
    g.set_attr("reference", c.reference);
    g.set_attr("middle_first", int64_t(c.middle.first));
    g.set_attr("middle_last", int64_t(c.middle.second));
    g.set_attr("middle_n", int64_t(c.middle_correlation.n));
    g.set_attr("middle_pearson", c.middle_correlation.pearson);
    g.set_attr("middle_spearman", c.middle_correlation.spearman);
    g.write_strings("languages", c.languages);
    g.write("layers", c.layers);
    g.write("num_sequences", std::vector<int64_t>(c.num_seqs.begin(), c.num_seqs.end()));
    std::vector<double> div, ent, hq, con;
    std::vector<std::string> methods;
    for (size_t i = 0; i < A; ++i) {
      const auto& d = c.divergence[i];
      methods.push_back(d.method);
      for (uint64_t l = 0; l < L; ++l) {
        div.push_back(d.per_layer.empty() ? kNaN : d.per_layer[l]);
        ent.push_back(c.entropy[i][l]);
        hq.push_back(c.importance_entropy[i][l]);
        con.push_back(c.consistency[i][l]);
      }
    }
    g.write("divergence", div, {A, L});
    g.write_strings("divergence_method", methods);
    g.write("entropy", ent, {A, L});
    g.write("importance_entropy", hq, {A, L});
    g.write("consistency", con, {A, L});
    g.write("similarity", c.similarity, {L, A, A});
    g.write("accuracy", c.accuracy);
    g.write("middle_divergence", c.middle_divergence);
    const h5::Group t = g.group("correlation");
    std::vector<int64_t> layer, n;
    std::vector<double> pr, sp;
    for (const auto& r : c.correlation) {
      layer.push_back(r.layer);
      n.push_back(r.n);
      pr.push_back(r.pearson);
      sp.push_back(r.spearman);
    }
    t.write("layer", layer);
    t.write("n", n);
    t.write("pearson", pr);
    t.write("spearman", sp);
    t.set_attr("columns", std::vector<std::string>{"layer", "n", "pearson", "spearman"});
  }
  // Expert sets: replace the ones an earlier analyze wrote; never touch a sweep's own sets.
  const h5::Group ex = root.group("experts");
  for (const std::string& model : ex.children()) {
    const h5::Group m = ex.open_group(model);
    for (const std::string& name : m.children()) {
      if (analyze_owned(m.open_group(name))) remove_link(m, name);
    }
  }
  for (const NamedExpertSet& n : a.expert_sets) {
    const h5::Group g = ex.group(n.model + "/" + n.name);
    g.set_attr("source", std::string(kWriter));
    g.set_attr("rule", n.set.rule);
    g.set_attr("corpus", n.corpus);
    g.set_attr("target", n.target);
    g.set_attr("reference", n.reference);
    std::vector<std::string> keys;
    for (const auto& [k, v] : n.set.params) {
      g.set_attr("param_" + k, v);
      keys.push_back(k);
    }
    if (!keys.empty()) g.set_attr("params", keys);
    std::vector<int64_t> layer, expert, count(n.set.layers.size(), 0);
    std::vector<double> score;
    for (size_t l = 0; l < n.set.layers.size(); ++l)
      for (const auto& e : n.set.layers[l]) {
        layer.push_back(int64_t(l));
        expert.push_back(e.expert);
        score.push_back(e.score);
        ++count[l];
      }
    g.write("layer", layer);
    g.write("expert", expert);
    g.write("score", score);
    g.set_attr("columns", std::vector<std::string>{"layer", "expert", "score"});
    g.write("per_layer_count", count);
    if (!n.scores.empty()) {
      const uint64_t L = n.set.layers.size();
      g.write("scores", n.scores, {L, uint64_t(n.scores.size()) / std::max<uint64_t>(L, 1)});
    }
  }
}

std::map<std::string, double> read_accuracy_csv(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path.string(), "expected a readable CSV file, found none");
  std::map<std::string, double> out;
  std::string line;
  bool header = false;
  for (int n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const std::string where = fmt::format("{}: line {}", path.string(), n);
    const size_t comma = line.find(',');
    if (comma == std::string::npos || line.find(',', comma + 1) != std::string::npos)
      throw InputError(where, expected_found("two comma-separated fields (language,accuracy)",
                                             "'" + line + "'"));
    const std::string lang = line.substr(0, comma), value = line.substr(comma + 1);
    if (!header) {
      if (lang != "language" || value != "accuracy")
        throw InputError(where, expected_found("the header 'language,accuracy'", "'" + line + "'"));
      header = true;
      continue;
    }
    size_t used = 0;
    double v = kNaN;
    try {
      v = std::stod(value, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != value.size() || !std::isfinite(v))
      throw InputError(where, expected_found("a number", "'" + value + "'"));
    if (!out.emplace(lang, v).second)
      throw InputError(where, fmt::format("language '{}' given twice", lang));
  }
  if (out.empty()) throw InputError(path.string(), "expected at least one language row, found none");
  return out;
}

}  // namespace moe::analysis

namespace moe::analysis {

std::map<std::string, std::map<std::string, double>> read_baseline_accuracy(
    const h5::Group& root, const std::string& task) {
  std::map<std::string, std::map<std::string, double>> out;
  if (!root.has("accuracy")) return out;
  const h5::Group t = root.open_group("accuracy");
  // A file without scored tasks (`moe-sweep routing`'s) has the table with no rows: no columns.
  if (!t.has("model")) return out;
  const auto model = t.read_strings("model");
  const auto tasks_col = t.read_strings("task");
  const auto method = t.read_strings("method");
  const auto language = t.read_strings("language");
  const auto accuracy = t.read<double>("score");  // the language score (SCHEMA.md)
  const size_t n = model.size();
  if (tasks_col.size() != n || method.size() != n || language.size() != n || accuracy.size() != n)
    throw InputError(root.file().string() + ":/accuracy",
                     "expected columns of equal length, found different lengths");
  std::set<std::string> names;
  for (size_t i = 0; i < n; ++i)
    if (method[i] == "none") names.insert(tasks_col[i]);
  std::string pick = task;
  if (pick.empty()) {
    if (names.size() > 1)
      throw InputError(root.file().string() + ":/accuracy",
                       fmt::format("expected one task or --accuracy-task, found baselines of {}",
                                   fmt::join(names, ", ")));
    if (names.empty()) return out;
    pick = *names.begin();
  } else if (!names.count(pick)) {
    throw InputError(root.file().string() + ":/accuracy",
                     fmt::format("expected baseline rows of task '{}', found tasks {}", pick,
                                 fmt::join(names, ", ")));
  }
  for (size_t i = 0; i < n; ++i)
    if (method[i] == "none" && tasks_col[i] == pick) out[model[i]][language[i]] = accuracy[i];
  return out;
}

}  // namespace moe::analysis
