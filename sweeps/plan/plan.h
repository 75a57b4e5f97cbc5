// Plan: everything a sweep will compute, as resumable units grouped into batches.
//
// Data flow: SweepConfig -> grid points (stable ids) -> phases -> units -> groups.
//   phase 1  stats    routing statistics of one (model, corpus, language), one sample range
//   phase 2  experts  one expert set (a rule with its tau / K / thr) of one model, from the stats
//   phase 3  eval     one point (the baseline or an intervention) on one task language and range
// A unit is the smallest resumable piece: its result is one file named by its id, and the file's
// presence means done. A group is the batch one replica runs at once: eval units of one (model,
// task, language, range) and several points (interventions are per sequence), in a fixed order,
// so every executor runs the same batches and produces the same numbers.
//
// make_plan() is deterministic: the same config gives the same ids, units and groups on every
// rank and every node (Plan::hash lets ranks check this). Ids hash the canonical JSON of the
// resolved configuration of what they compute (paths included, execution settings excluded),
// with the fingerprints of the inputs they read and the numerics that compute them
// (sweeps/plan/inputs.h). An expert set's id covers the sample count of every statistics it is
// built from, so a changed `samples` recomputes the set (the statistics of each sample range
// stay valid and are reused).
// Thread-safety: plain value types.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sweeps/config/config.h"
#include "sweeps/plan/inputs.h"

namespace moe::sweeps {

struct Plan;

// The routing statistics of one (model, corpus, language) (phase 1).
struct StatsSpec {
  std::string id;  // 16 hex digits
  int model = 0;
  int corpus = 0;
  std::string language;
  int64_t samples = 0;    // sequences
  std::string canonical;  // canonical JSON
};

// One expert set: a rule with resolved parameters, for one model (phase 2).
struct ExpertSetSpec {
  std::string id;
  int model = 0;
  int rule = 0;
  std::optional<double> tau, thr;
  std::optional<int> top_k;
  std::vector<int> stats;  // indices into Plan::stats it is computed from
  std::string canonical;
};

// A resolved grid point: one intervention (or none: the baseline) of one model on one task.
struct Point {
  std::string id;
  int model = 0;
  int task = 0;
  Method method = Method::kNone;
  int expert_set = -1;     // index into Plan::expert_sets (-1 for the baseline)
  LayerRange layers;       // empty for the baseline
  std::optional<double> lambda;
  std::string direction;   // boost | suppress where the method uses it, else ""
  int baseline = -1;       // index of the baseline point of (model, task)
  std::string canonical;
  bool is_baseline() const { return method == Method::kNone; }
};

enum class UnitKind { kStats, kExperts, kEval };
const char* unit_kind_name(UnitKind k);  // "stats", "experts", "eval"

struct Unit {
  std::string id;          // "s.<stats>.<lang>.<begin>-<end>", "x.<set>", "e.<point>.<lang>.<b>-<e>"
  UnitKind kind = UnitKind::kEval;
  int model = -1;
  int stats = -1;          // kStats: index into Plan::stats
  int expert_set = -1;     // kExperts: index into Plan::expert_sets
  int point = -1;          // kEval: index into Plan::points
  int task = -1;           // kEval
  std::string language;    // kStats, kEval
  int64_t begin = 0, end = 0;  // sample range [begin, end)
  std::vector<int> deps;   // units that must be done first (indices into Plan::units)
  int64_t est_tokens = 0;  // rough estimate (see plan.cpp)
};

struct Group {
  std::string id;          // "g.<hash of the unit ids>"
  UnitKind kind = UnitKind::kEval;
  int model = -1;          // -1: needs no model
  std::vector<int> units;  // indices into Plan::units, in batch order
  std::vector<int> deps;   // union of the units' deps
};

struct Plan {
  std::vector<StatsSpec> stats;
  std::vector<ExpertSetSpec> expert_sets;
  std::vector<Point> points;
  std::vector<Unit> units;
  std::vector<Group> groups;
  std::string hash;        // of all group and unit ids, in order
  InputIdentity inputs;    // what the ids cover besides the config (empty: the config only)
  int64_t est_tokens() const;
};

// Samples available for a task language / corpus language, when the config does not fix them.
struct SampleCounter {
  std::function<int64_t(const TaskSpec&, const std::string& language)> task;
  std::function<int64_t(const CorpusSpec&, const std::string& language)> corpus;
};

// Throws InputError (naming the config key) for grids that cannot be resolved. `inputs`
// (identify_inputs, or the store's record of them) enters every id: a changed checkpoint, data
// file, backend numeric class or numerics version gives new ids. Tests of the grid alone pass none.
Plan make_plan(const SweepConfig& c, const SampleCounter& counter = {},
               const InputIdentity& inputs = {});

// The grid points and the expert sets they use (called by make_plan).
void expand_grid(const SweepConfig& c, Plan& plan);

// Finds or adds the statistics of (model, corpus, language); returns its index in plan.stats.
int add_stats(const SweepConfig& c, Plan& plan, int model, int corpus, const std::string& lang);

// 16 hex digits of a stable 64-bit hash (FNV-1a) of `text`.
std::string stable_id(const std::string& text);

}  // namespace moe::sweeps
