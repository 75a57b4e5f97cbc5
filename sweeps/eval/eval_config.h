// EvalConfig: one evaluation (`moe-sweep eval CONFIG`): one model, one task and its languages,
// the baseline and at most one intervention, read from YAML. The keys follow the sweep schema's
// names (models, tasks, experts, interventions, layer_indexing, method/layers/lambda/direction):
//
//   model:
//     path: /models/qwen3          # checkpoint directory (${VAR} expanded)
//     backend: cpu                 # cpu | cpu-ref | cuda, as the model loader names them
//     threads: 0                   # 0 = the backend's default
//     max_batch_tokens: 4096
//     max_batch_seqs: 64
//   task:
//     kind: mgsm                   # mgsm | gmmlu | belebele | xquad | polymath | flores
//     path: /data/mgsm             # file, directory or template with {lang} (sweeps/eval/task.h)
//     languages: [en, de, sw]
//     samples: 0                   # first N evaluable samples per language (0 = all)
//     variant: direct              # and any other task option of sweeps/eval/task.h
//   layer_indexing: zero_based     # or one_based: layer ranges below are 1-indexed
//   interventions: {std: sample, steer_precision: fp32, hard_seed: 0, hard_eps: 1.0e-6}
//   experts:                       # named expert sets
//     math: {file: routing.h5, set: qwen/task_gsm8k.delta_threshold}   # /experts/{model}/{name}
//     manual: {layers: {8: [3, 17], 9: [4]}}                         # explicit, score 1
//     coef: {layers: {10: {3: 0.25, 17: 0.5}}}                       # explicit with scores
//                                  # (set layers are 0-indexed MoE layers whatever
//                                  # layer_indexing says, as in results files)
//   intervention:                  # absent: the baseline only
//     name: soft_math              # optional (default: the method)
//     method: soft                 # soft | hard | hard_logsoftmax | mask | steer
//     experts: math
//     layers: [8, 35]              # [first, last] inclusive, "8-35", or none (= baseline)
//     lambda: 0.5                  # soft, steer
//     direction: boost             # soft/hard: boost (A+) or suppress (A-); mask: suppress;
//                                  # steer: boost
//     # or several edits applied together (steer, then soft/hard, then mask):
//     # edits: [{method: steer, ...}, {method: mask, ...}]
//   significance: {resamples: 10000, seed: 20250101, confidence: 0.95}
//   output: eval.h5                # optional result file
// Unknown keys are InputErrors; every error names the file, line:column and key path.
// Thread-safety: plain value types.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "results/significance.h"
#include "runtime/routing/intervention.h"
#include "sweeps/eval/task.h"

namespace moe::eval {

struct ModelSection {
  std::filesystem::path path;
  std::string backend = "cpu";
  int threads = 0;
  int max_batch_tokens = 4096;
  int max_batch_seqs = 64;
};

struct ExpertSetSource {
  std::string where;             // "file:line:col: experts.math"
  std::filesystem::path file;    // results file (empty: explicit)
  std::string set;               // /experts path
  routing::LayerExperts layers;  // explicit: [max layer + 1]
};

struct EditSpec {
  std::string where;
  routing::InterventionMethod method = routing::InterventionMethod::kSoft;
  std::string experts;         // name under `experts:`
  routing::LayerRange layers;  // 0-indexed
  double lambda = 0;
  bool suppress = false;  // direction
};

struct EvalConfig {
  std::filesystem::path source;
  std::string text;  // the YAML as read
  ModelSection model;
  TaskConfig task;
  std::vector<std::string> languages;
  int64_t samples = 0;
  bool layers_one_based = false;
  std::string std_kind = "sample";
  std::string steer_precision = "fp32";
  uint64_t hard_seed = 0;
  double hard_eps = routing::kDefaultHardEps;
  std::map<std::string, ExpertSetSource> experts;
  std::string intervention_name;  // "" when there is no intervention
  std::vector<EditSpec> edits;
  significance::BootstrapOptions bootstrap;
  std::filesystem::path output;

  bool has_intervention() const { return !edits.empty(); }
};

EvalConfig load_eval_config(const std::filesystem::path& path);
// From text (tests); `label` stands for the file name in messages.
EvalConfig parse_eval_config(const std::string& yaml_text, const std::string& label);

// The intervention of the config with its expert sets read (results files) or taken from the
// YAML. Throws InputError naming the edit for a set that cannot be read.
routing::Intervention build_intervention(const EvalConfig& c);

}  // namespace moe::eval
