// The studies' analyses of stored routing statistics (sweeps/METHODS.md B): per (model, corpus),
// the divergence from a reference language per layer, entropy and consistency per layer, the
// cross-language similarity matrices, the correlation of divergence with a per-language accuracy
// (per layer and over the middle layers), and expert sets chosen by the rules of
// sweeps/experts.h. Reads and writes results files (results/SCHEMA.md: /routing, /analysis,
// /experts); `moe-sweep analyze` is its command-line face.
//
// Paired divergence is used when the corpus is parallel (its "parallel" label is "true") and
// both languages have the same number of sequences; otherwise the corpus means are compared and
// the curve says "unpaired_corpus_mean".
// Thread-safety: pure functions over values; the file functions use HDF5 (one thread).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "results/metrics.h"
#include "results/routing_stats.h"
#include "sweeps/experts.h"

namespace moe::h5 {
class Group;
}

namespace moe::analysis {

// One /routing/{model}/{corpus}/{language} group.
struct StatsGroup {
  std::string model, corpus, language;
  results::RoutingStats stats;
  results::Labels labels;
  std::string label(const std::string& key) const;  // "" if absent
};

// Every routing statistics group under `root`/routing, sorted by (model, corpus, language).
std::vector<StatsGroup> read_stats_groups(const h5::Group& root);

struct AnalysisOptions {
  std::string reference = "en";   // the language divergence is measured from
  // Middle layers (0-indexed MoE layers, inclusive); unset = the middle third [L/3, 2L/3).
  std::optional<std::pair<int, int>> middle;
  // Per-language accuracy (language -> score) for the correlation, for every model; empty =
  // none. accuracy_by_model (model -> language -> score) takes precedence for its models.
  // Languages match through the language table ("de" meets "deu_Latn").
  std::map<std::string, double> accuracy;
  std::map<std::string, std::map<std::string, double>> accuracy_by_model;
  std::string accuracy_source;    // where the scores came from (file, table), recorded
  // Expert identification.
  double tau = 0.4;               // Delta > tau (language and task experts)
  double sigma = 3.0;             // Delta > sigma * std (the 3-sigma rule)
  std::vector<std::string> task_corpora;      // task experts: Delta(task/ref - parallel/ref)
  std::vector<std::string> affinity_languages;  // S for normalised affinity (empty: skip)
  int affinity_k = 15;
  double affinity_thr = 0.4;
};

// Middle layer range of L layers: options.middle or [L/3, max(L/3, 2L/3 - 1)].
std::pair<int, int> middle_layers(const AnalysisOptions& o, int num_layers);

struct CorpusAnalysis {
  std::string model, corpus;
  std::string reference;                 // the reference language as stored ("" if absent)
  int num_layers = 0;
  std::vector<int32_t> layers;           // [L] decoder layer of each MoE layer
  std::vector<std::string> languages;    // [A], in file order
  std::vector<int> num_seqs;             // [A]
  // [A] divergence from the reference (the reference's own entry: zeros, method "reference";
  // absent reference: empty curves, method "none").
  std::vector<metrics::DivergenceCurve> divergence;
  std::vector<std::vector<double>> entropy;             // [A][L] mean per-token H(p)
  std::vector<std::vector<double>> importance_entropy;  // [A][L] mean H(q_i)
  std::vector<std::vector<double>> consistency;         // [A][L]
  std::vector<double> similarity;                       // [L, A, A] 1 - JSD of mean q
  std::vector<double> accuracy;                         // [A] NaN where unknown
  std::pair<int, int> middle{0, -1};
  std::vector<metrics::LayerCorrelation> correlation;   // per layer (languages with accuracy)
  metrics::LayerCorrelation middle_correlation;         // of the middle-layer mean divergence
  std::vector<double> middle_divergence;                // [A] mean over the middle layers
};

struct NamedExpertSet {
  std::string model, corpus;
  std::string name;                   // "lang_de.delta_threshold", "multilingual.delta_sigma", ...
  std::string target, reference;      // what Delta/W compared ("de" vs "en", ...)
  experts::ExpertSet set;
  std::vector<double> scores;         // [L, E] Delta (delta rules) or the rule's W score
};

struct Analysis {
  std::vector<CorpusAnalysis> corpora;
  std::vector<NamedExpertSet> expert_sets;
  std::vector<std::string> notes;  // what was skipped and why
};

Analysis analyze(const std::vector<StatsGroup>& groups, const AnalysisOptions& options);

// Writes /analysis/{model}/{corpus}/... (replacing /analysis) and /experts/{model}/{name}
// (attribute source = "moe-sweep analyze"; sets an earlier analyze wrote are replaced, other sets
// are kept, and a name clash with one of them is an InputError).
void write_analysis(const h5::Group& root, const Analysis& a, const AnalysisOptions& options);

// Baseline accuracies of a merged results file: the `score` (the language score: accuracy, the
// mean over subjects for Global-MMLU, corpus chrF for FLORES) of the /accuracy rows with method
// "none" of `task` (or of its only task when `task` is empty), as model -> language -> score.
// Empty when the file has no /accuracy table. InputError if several tasks are present and none
// is named, or the named one is absent.
std::map<std::string, std::map<std::string, double>> read_baseline_accuracy(
    const h5::Group& root, const std::string& task);

// Reads "language,accuracy" rows (a header line is required; '#' lines skipped). InputError
// naming the file and line for anything else.
std::map<std::string, double> read_accuracy_csv(const std::filesystem::path& path);

}  // namespace moe::analysis
