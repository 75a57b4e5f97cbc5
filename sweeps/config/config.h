// SweepConfig: a validated sweep configuration, read from YAML (the keys are the fields below;
// sweeps/CONFIG.md documents every key with its type, default and range; configs/*.yaml use
// them).
//
// load_config() reads the YAML, applies command-line overrides (`key.path=value`), expands
// ${VAR} in path values, fills defaults and validates every key. Any problem is an InputError
// whose `where` names the file with line:column (or the override) and the key path, e.g.
//   configs/a.yaml:12:7: grid[0].lambda[1]: expected a number, found 'abc'
// Unknown keys are errors (typos never pass silently), and so are a key repeated in a mapping,
// a number that is NaN or infinite, and a tau / thr / lambda / K outside the range
// sweeps/METHODS.md B and C give it. Layer ranges are stored 0-indexed and inclusive; a config
// may write 1-indexed ranges when it sets `layer_indexing: one_based`.
//
// The struct holds only plain values; nothing here touches the model or the data files (the
// layer ranges are checked against the checkpoints by sweeps/plan/input_checks.h).
// Thread-safety: plain value type.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moe::sweeps {

// ---- models, data ----------------------------------------------------------------------------
struct ModelSpec {
  std::string name;                 // key under `models:`
  std::filesystem::path path;       // checkpoint directory (${VAR} expanded)
  std::string path_where;           // where `path` was written: "file:line:col: models.x.path"
  std::string backend = "cpu";      // cpu | cpu-ref | cuda (the model loader's names)
  int expert_parallel = 1;          // R: ranks per replica
  int max_batch_tokens = 4096;
  int max_batch_seqs = 64;
  int threads = 0;                  // CPU worker threads per rank (0 = the backend's default)
};

// A routing corpus (sweeps/routing/corpus.h has the formats and path placeholders).
struct CorpusSpec {
  std::string name;                 // key under `corpora:`
  std::string format;               // flores | belebele | gsm8k | jsonl | text
  std::filesystem::path path;       // file or directory; may hold {language} / {flores}
  std::string split;                // flores: dev | devtest
  std::string field;                // gsm8k: question | answer | question_answer; jsonl: a field
  std::string prompt = "chat";      // chat (the family's template, as the studies) | raw
  int64_t samples = 0;              // sequences per language (0 = every sequence of the file)
};

// How routing statistics are collected (sweeps/METHODS.md A).
struct StatisticsOptions {
  std::string importance = "topk_renorm";  // topk_renorm | router_weights | softmax
  std::string tokens = "all";              // all | content
  int consistency_pairs = 500;
  uint64_t seed = 0;
  bool raw_logits = false;                 // also keep per-token logits (bf16)
};

// Extra routing statistics to collect (analysis only: divergence, similarity, correlations).
struct RoutingCollect {
  std::string corpus;
  std::vector<std::string> languages;
};

// ---- expert identification rules (sweeps/METHODS.md B) ------------------------------------------
enum class RuleKind {
  kDelta,              // Delta_e > tau
  kDelta3Sigma,        // Delta_e > 3 std_e(Delta)
  kAffinityExclusive,  // sum_{t in T} W[t,l,e] > thr
  kAffinityShared,     // some W > 0 and every W < thr
};
const char* rule_kind_name(RuleKind k);
bool rule_uses_tau(RuleKind k);
bool rule_uses_affinity(RuleKind k);

struct DataRef {
  std::string corpus;
  std::vector<std::string> languages;  // delta target: several = union (multilingual experts)
};

struct RuleSpec {
  std::string name;                 // key under `experts:`
  RuleKind kind = RuleKind::kDelta;
  // delta rules: Delta = freq(target) - freq(reference)
  DataRef target;
  DataRef reference;                // exactly one language
  // affinity rules: corpus, the language set S, the target set T (ordered; T[0] gives steer c)
  std::string corpus;
  std::vector<std::string> languages;   // S
  std::vector<std::string> target_languages;  // T
  // parameters; grid axes of the same name override them
  std::optional<double> tau;
  std::optional<int> top_k;         // K
  std::optional<double> thr;
};

// ---- tasks (sweeps/METHODS.md D) ----------------------------------------------------------------
struct TaskSpec {
  std::string name;                 // key under `tasks:`
  std::string kind;                 // mgsm | gmmlu | belebele | xquad | polymath | flores
  std::filesystem::path path;
  std::vector<std::string> languages;
  int64_t samples = 0;              // samples per language (0 = every sample in the file)
  std::vector<std::string> low_resource;  // languages averaged separately in reports
  std::string options_json;         // every other key, as canonical JSON: the evaluator's task
                                    // options (sweeps/eval/task.h: variant, shots, level, ...)
};

// ---- interventions and the grid (sweeps/METHODS.md C) -------------------------------------------
enum class Method { kNone, kSoft, kHard, kHardLogSoftmax, kMask, kSteer };
const char* method_name(Method m);
bool method_uses_lambda(Method m);
bool method_uses_direction(Method m);

// Layers are MoE layers (the index router hooks, interventions and routing statistics use; in
// the four supported families every decoder layer is an MoE layer).
struct LayerRange {
  int start = 0, end = -1;  // 0-indexed, inclusive; end < start = empty (no intervention)
  bool empty() const { return end < start; }
  bool operator==(const LayerRange&) const = default;
};

struct InterventionOptions {
  std::string std_kind = "sample";      // soft: sample | population
  std::string steer_precision = "fp32";  // fp32 | bf16
  uint64_t hard_seed = 0;               // hard: eps ~ N(0, hard_eps^2)
  double hard_eps = 1e-6;
};

// A grid block is a product of factors. A plain axis (`tau: [0.3, 0.4]`) is a factor with one
// choice per value; a zip group (`zip: {experts: [a, b], lambda: [0.022, 0.034]}`) is one factor
// whose choices set several axes together. Each choice is a partial point (unset = not given).
struct PointDraft {
  std::optional<std::string> model, task, experts, direction;
  std::optional<Method> method;
  std::optional<LayerRange> layers;
  std::optional<double> tau, lambda, thr;
  std::optional<int> top_k;
  // Where `layers` was written ("file:line:col: grid[0].layers[1]") and as what ("[2, 5]"), for
  // the checks against a checkpoint's MoE layers (sweeps/plan/input_checks.h).
  std::string layers_where, layers_text;

  // Sets every axis that `v` gives (a later factor or zip value overrides an earlier one).
  void overlay(const PointDraft& v) {
    if (v.model) model = v.model;
    if (v.task) task = v.task;
    if (v.method) method = v.method;
    if (v.experts) experts = v.experts;
    if (v.layers) {
      layers = v.layers;
      layers_where = v.layers_where;
      layers_text = v.layers_text;
    }
    if (v.tau) tau = v.tau;
    if (v.lambda) lambda = v.lambda;
    if (v.thr) thr = v.thr;
    if (v.top_k) top_k = v.top_k;
    if (v.direction) direction = v.direction;
  }
};

struct GridFactor {
  std::vector<std::string> axes;   // axis names this factor sets
  std::vector<PointDraft> choices;
};

struct GridBlock {
  std::string where;                             // "file:line:col: grid[i]"
  std::map<std::string, std::string> axis_where;  // axis name -> where it was written
  std::vector<GridFactor> factors;
};

// ---- execution ------------------------------------------------------------------------------
struct ExecutionOptions {
  int64_t unit_samples = 50;   // samples per unit (the resumable piece)
  int batch_points = 8;        // units of one (model, task, language, range) run in one batch
  double lease_ttl_s = 300;    // a lease not refreshed for this long is stale
  double heartbeat_s = 20;     // lease refresh period
  double poll_s = 2;           // how often an idle worker looks for new work
  std::string on_stop = "finish";  // finish | abandon the current batch on SIGUSR1/SIGTERM
  // Grid points (combinations of the blocks' factors, before de-duplication) a sweep may have;
  // a larger grid is refused before it is expanded (sweeps/METHODS.md C, "Grid size").
  int64_t max_points = 100000;
};

struct SlurmOptions {
  int array_tasks = 4;
  int throttle = 0;            // %throttle (0 = none)
  std::string time = "24:00:00";
  std::string partition, account, gres, mem, qos;
  int nodes = 1;
  int ntasks = 1;              // MPI ranks per array task
  int cpus_per_task = 0;
  int signal_s = 300;          // --signal=B:USR1@signal_s
  std::vector<std::string> sbatch_args;  // extra sbatch options, verbatim
  std::vector<std::string> setup;        // shell lines run before the worker (module load ...)
  std::string launcher = "srun";         // srun | mpirun | none
};

struct SweepConfig {
  std::filesystem::path source;          // the YAML file
  std::string source_text;               // its text
  std::vector<std::string> overrides;    // as given on the command line
  // The effective YAML (overrides applied, ${VAR} expanded in paths): what result files record
  // and what the workers of a submitted job read back (parsing it gives the same plan).
  std::string resolved_text;
  std::string name;
  std::filesystem::path output;
  std::vector<ModelSpec> models;
  std::vector<CorpusSpec> corpora;
  StatisticsOptions statistics;
  std::vector<RoutingCollect> routing;
  std::vector<RuleSpec> rules;
  std::vector<TaskSpec> tasks;
  bool layers_one_based = false;
  InterventionOptions interventions;
  std::vector<GridBlock> grid;
  bool baseline = true;                  // evaluate the baseline of every (model, task)
  ExecutionOptions execution;
  SlurmOptions slurm;

  int model_index(const std::string& name) const;   // -1 if absent
  int corpus_index(const std::string& name) const;
  int rule_index(const std::string& name) const;
  int task_index(const std::string& name) const;
};

// The keys each mapping of a config may have, by section ("models.<name>", "grid[i]", ...):
// the parser checks every mapping against its section's list, and sweeps/CONFIG.md documents
// every key of every section (tests/unit/sweeps/config_reference_test.cpp holds the two equal).
struct ConfigSection {
  std::string path;
  std::vector<std::string> keys;
};
const std::vector<ConfigSection>& config_sections();
const std::vector<std::string>& section_keys(std::string_view section);  // a listed section

// Reads `path`, applies `overrides` ("a.b[1].c=value", value parsed as YAML), validates.
SweepConfig load_config(const std::filesystem::path& path,
                        const std::vector<std::string>& overrides = {});
// Same from text (tests); `label` stands for the file name in messages.
SweepConfig parse_config(const std::string& yaml_text, const std::string& label,
                         const std::vector<std::string>& overrides = {});

// The statistics phase of `c` alone (`moe-sweep routing`): no tasks, grid, interventions,
// expert rules or baseline, and resolved_text the same YAML without those keys, so that the
// snapshot a store keeps (config.yaml) and a merged file record what ran. `c` needs a
// `routing` list (InputError naming it otherwise).
SweepConfig routing_only(SweepConfig c);

// Expands ${NAME} and ${NAME:-default} in `value`; an unset variable without a default is an
// InputError at `where`.
std::string expand_env(const std::string& value, const std::string& where);

}  // namespace moe::sweeps
