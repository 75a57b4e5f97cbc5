// merge: builds a sweep's results.h5 (schema in results/SCHEMA.md) from its unit files.
//
// The caller (the sweeps layer) describes what the plan expects in a MergeSpec: points, expert
// sets, statistics and every unit with its labels. merge() reads each unit file, combines sample
// ranges in plan order (never completion order, so the merged content does not depend on which
// worker ran what or when), computes the accuracy table, and writes the file atomically.
// A task whose language score is not the mean of its per-sample scores (FLORES: corpus chrF)
// brings the function that computes it from the merged samples table of one (point, language).
// Missing units are reported: merge refuses to write unless allow_partial, and then the file is
// marked partial (root attribute partial = 1 and a /missing table).
// Thread-safety: uses HDF5 (one thread per process).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "results/routing_stats.h"
#include "results/significance.h"
#include "results/store.h"

namespace moe::results {

struct MergePoint {
  std::string id, model, task, method;
  std::string rule, rule_kind, expert_set;  // empty for the baseline
  int64_t layer_start = -1, layer_end = -1;  // 0-indexed inclusive; -1 for the baseline
  double tau, lambda, thr;                  // NaN where the point has none
  int64_t top_k = -1;                       // K; -1 where none
  std::string direction;
  std::string baseline;                     // id of the (model, task) baseline point
  std::string canonical;                    // canonical JSON the id hashes
};

struct MergeExpertSet {
  std::string id, model, rule, rule_kind;
  double tau, thr;
  int64_t top_k = -1;
  std::string canonical;
};

struct MergeStats {
  std::string id, model, corpus, language;
  Labels labels;  // provenance written with the statistics (model path, corpus format, ...)
};

// The language score of a task that is not the mean of its per-sample scores: a corpus metric
// of per-sample sufficient statistics (FLORES: corpus chrF). Merge computes the language score
// from every sample of one (point, language) and the baseline comparison's bootstrap CI from
// resamples of them (results/comparison.h), so both are the same function of the same columns.
struct CorpusScore {
  significance::CorpusMetric metric;
  // [n, metric.width] row-major: the statistics of a samples table's rows (every sample range
  // combined, sample order); InputError naming `what` and the column when one is missing.
  std::function<std::vector<double>(const Table& samples, const std::string& what)> statistics;

  explicit operator bool() const { return bool(metric); }
  // The corpus score of every row of `samples`.
  double operator()(const Table& samples, const std::string& what) const;
};

struct MergeTask {
  std::string name, kind, path, options;
  std::vector<std::string> languages, low_resource;
  CorpusScore corpus_score;  // empty: the score is the mean of the per-sample scores
};

struct MergeUnit {
  std::string id, kind;
  std::string point, task, language;  // eval
  std::string stats;                  // stats
  std::string expert_set;             // experts
  int64_t begin = 0, end = 0;
};

struct MergeSpec {
  std::string name;
  std::string config_yaml;    // the YAML as written
  std::string resolved_yaml;  // overrides and ${VAR} applied
  std::string plan_hash;
  bool layers_one_based = false;  // the config's layer_indexing (the file's layers are 0-indexed)
  std::vector<MergePoint> points;
  std::vector<MergeExpertSet> expert_sets;
  std::vector<MergeStats> stats;
  std::vector<MergeTask> tasks;
  std::vector<MergeUnit> units;  // plan order
  significance::BootstrapOptions bootstrap;  // CI of each point's difference from its baseline
};

struct MergeReport {
  int64_t units_total = 0;
  std::vector<std::string> missing;  // unit ids
  std::vector<std::string> damaged;  // "<unit>: <why>" of the unit files moved to quarantine/
  std::filesystem::path written;     // empty if nothing was written
};

// Checks which units are present and intact (damaged unit files are moved to quarantine/ and
// count as missing). With missing units and !allow_partial, writes nothing.
MergeReport merge(const Store& store, const MergeSpec& spec, const std::filesystem::path& out,
                  bool allow_partial);

constexpr int64_t kResultsSchemaVersion = 1;

}  // namespace moe::results
