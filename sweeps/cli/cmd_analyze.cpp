// `moe-sweep analyze FILE.h5`: the studies' routing analyses of the statistics in a results
// file (sweeps/routing/analysis.h): per (model, corpus), tables per layer of the divergence from
// the reference language, entropy and consistency per language, the correlation of divergence
// with a per-language accuracy (--accuracy CSV), and the expert sets of the first and second
// study's rules. Unless --no-write, stores them under /analysis and /experts of FILE.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "results/h5.h"
#include "runtime/core/error.h"
#include "sweeps/cli/command.h"
#include "sweeps/routing/analysis.h"

namespace {

using moe::analysis::CorpusAnalysis;

std::string cell(double v) { return std::isnan(v) ? "     -" : fmt::format("{:6.3f}", v); }

// Rows = layers, columns = languages.
void print_layer_table(const CorpusAnalysis& c, const std::string& title,
                       const std::vector<std::vector<double>>& per_language) {
  fmt::print("\n{}\n{:>5} {:>5}", title, "moe", "layer");
  for (const auto& l : c.languages) fmt::print(" {:>8.8}", l);
  fmt::print("\n");
  for (int l = 0; l < c.num_layers; ++l) {
    const bool mid = l >= c.middle.first && l <= c.middle.second;
    fmt::print("{:>5} {:>5}", fmt::format("{}{}", mid ? "*" : "", l), c.layers[size_t(l)]);
    for (const auto& v : per_language) fmt::print("   {}", cell(v[size_t(l)]));
    fmt::print("\n");
  }
}

void print_corpus(const CorpusAnalysis& c) {
  fmt::print("\n=== {} / {}: {} languages, {} MoE layers, reference '{}', middle layers {}-{} "
             "(marked *)\n",
             c.model, c.corpus, c.languages.size(), c.num_layers,
             c.reference.empty() ? "(absent)" : c.reference, c.middle.first, c.middle.second);
  fmt::print("{:>10} {:>9} {:>9} {:>22}\n", "language", "sequences", "accuracy", "divergence");
  for (size_t i = 0; i < c.languages.size(); ++i)
    fmt::print("{:>10} {:>9} {:>9} {:>22}\n", c.languages[i], c.num_seqs[i], cell(c.accuracy[i]),
               c.divergence[i].method);
  std::vector<std::vector<double>> div;
  for (const auto& d : c.divergence)
    div.push_back(d.per_layer.empty() ? std::vector<double>(size_t(c.num_layers), NAN)
                                      : d.per_layer);
  print_layer_table(c, fmt::format("divergence from '{}' (entropy-normalised JSD of expert "
                                   "importance)", c.reference),
                    div);
  print_layer_table(c, "routing entropy (mean per-token H(p) of the softmax, nats)", c.entropy);
  print_layer_table(c, "entropy of the sequence importance H(q) (nats)", c.importance_entropy);
  print_layer_table(c, "token routing consistency (mean Jaccard of token pairs)", c.consistency);
  if (c.middle_correlation.n > 0) {
    fmt::print("\ncorrelation of divergence with accuracy across {} languages\n",
               c.middle_correlation.n);
    fmt::print("{:>5} {:>8} {:>8}\n", "layer", "pearson", "spearman");
    for (const auto& r : c.correlation)
      fmt::print("{:>5} {} {}\n", r.layer, cell(r.pearson), cell(r.spearman));
    fmt::print("middle layers {}-{} (mean divergence): pearson {}  spearman {}\n", c.middle.first,
               c.middle.second, cell(c.middle_correlation.pearson),
               cell(c.middle_correlation.spearman));
  }
}

}  // namespace

MOE_COMMAND(analyze, 45, "Routing analyses of a results file: divergence, entropy, consistency, "
                         "correlation, expert sets", [](CLI::App& app) {
  struct Args {
    std::string file, accuracy, accuracy_task, middle, affinity;
    bool no_write = false;
    moe::analysis::AnalysisOptions o;
  };
  auto a = std::make_shared<Args>();
  app.add_option("FILE", a->file, "results file with /routing statistics")->required();
  app.add_option("--reference", a->o.reference, "reference language of the divergence")
      ->capture_default_str();
  app.add_option("--accuracy", a->accuracy,
                 "CSV 'language,accuracy' for the correlation (default: the file's baseline "
                 "accuracies, if it has an /accuracy table)");
  app.add_option("--accuracy-task", a->accuracy_task,
                 "which task's baseline accuracy of the file to correlate with");
  app.add_option("--middle", a->middle, "middle MoE layers FIRST-LAST (0-indexed; default: the "
                                        "middle third)");
  app.add_option("--tau", a->o.tau, "Delta threshold of language/task experts")
      ->capture_default_str();
  app.add_option("--sigma", a->o.sigma, "multiplier of the sigma rule")->capture_default_str();
  app.add_option("--task", a->o.task_corpora,
                 "corpus whose reference-language statistics define task experts (repeatable)");
  app.add_option("--affinity", a->affinity,
                 "normalised-affinity language set S, comma-separated (e.g. en,zh)");
  app.add_option("--K", a->o.affinity_k, "affinity: top-K experts per language and layer")
      ->capture_default_str();
  app.add_option("--thr", a->o.affinity_thr, "affinity: exclusive/shared threshold")
      ->capture_default_str();
  app.add_flag("--no-write", a->no_write, "print only; do not store /analysis and /experts");
  return [a] {
    moe::analysis::AnalysisOptions o = a->o;
    if (!a->accuracy.empty()) {
      o.accuracy = moe::analysis::read_accuracy_csv(a->accuracy);
      o.accuracy_source = a->accuracy;
    }
    if (!a->middle.empty()) {
      int first = 0, last = 0;
      char dash = 0, extra = 0;
      if (std::sscanf(a->middle.c_str(), "%d%c%d%c", &first, &dash, &last, &extra) != 3 ||
          dash != '-')
        throw moe::InputError("--middle", moe::expected_found("FIRST-LAST, e.g. 8-35",
                                                              "'" + a->middle + "'"));
      o.middle = std::pair{first, last};
    }
    for (size_t p = 0; p < a->affinity.size();) {
      const size_t q = std::min(a->affinity.find(',', p), a->affinity.size());
      if (q > p) o.affinity_languages.push_back(a->affinity.substr(p, q - p));
      p = q + 1;
    }
    moe::analysis::Analysis result;
    {
      auto f = moe::h5::File::open(a->file);
      const auto groups = moe::analysis::read_stats_groups(f.root());
      if (groups.empty())
        throw moe::InputError(a->file, "expected routing statistics under /routing, found none");
      if (a->accuracy.empty()) {
        o.accuracy_by_model = moe::analysis::read_baseline_accuracy(f.root(), a->accuracy_task);
        if (!o.accuracy_by_model.empty())
          o.accuracy_source = a->file + ":/accuracy (baseline" +
                              (a->accuracy_task.empty() ? "" : ", task " + a->accuracy_task) + ")";
      }
      result = moe::analysis::analyze(groups, o);
    }
    for (const auto& c : result.corpora) print_corpus(c);
    if (!result.expert_sets.empty()) {
      fmt::print("\nexpert sets (experts per MoE layer)\n");
      for (const auto& s : result.expert_sets) {
        std::vector<size_t> per;
        for (const auto& l : s.set.layers) per.push_back(l.size());
        std::vector<std::string> params;
        for (const auto& [k, v] : s.set.params) params.push_back(k + "=" + v);
        fmt::print("{}/{} [{}] {} vs {}: total {}: {}\n", s.model, s.name,
                   fmt::join(params, " "), s.target, s.reference, s.set.size(),
                   fmt::join(per, " "));
      }
    }
    for (const auto& n : result.notes) fmt::print("note: {}\n", n);
    if (!a->no_write) {
      auto f = moe::h5::File::open_rw(a->file);
      moe::analysis::write_analysis(f.root(), result, o);
      f.flush();
      spdlog::info("analyze: wrote /analysis and /experts to {}", a->file);
    }
    return 0;
  };
});
