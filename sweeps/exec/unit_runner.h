// UnitRunner: the work behind the units of a sweep, as seen by the executors.
//
// An executor hands a replica one batch (a plan Group) at a time; the replica's runner computes
// one UnitResult per unit of the batch, in the group's order, and the executor commits them to
// the store. A runner lives as long as its replica: it loads a model once (the first batch that
// needs it) and keeps it for the batches that follow, so many grid points share one load.
// Batches of eval units share (model, task, language, sample range); each unit is one point
// (an intervention or the baseline), applied per sequence through the request tag, so a batch
// evaluates several points in the same forward passes.
//
// Inputs that a batch depends on (routing statistics for an expert set, the expert set of a
// point) are read from the store: dependencies are committed before a batch is handed out.
//
// A runner throws InputError for bad data (the batch fails with that message and is recorded as
// failed) and Cancelled when the stop flag asks it to abandon. Replicas of R ranks call run() on
// every rank of the replica (same group, same order); only the replica's rank 0 returns results.
//
// The product runner runs the real model (make_model_runner); tests may put a test double in
// place with set_runner_override() from a test binary. Every unit file records the runner name.
// Thread-safety: a runner is used by one thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "results/unit_result.h"
#include "sweeps/exec/stop.h"
#include "sweeps/plan/plan.h"

namespace moe::results {
class Store;
}
namespace moe::ep {
class Replica;
}

namespace moe::sweeps {

// Where a runner sits among the world's ranks.
struct ReplicaInfo {
  int index = 0;   // replica number
  int count = 1;   // replicas in the world
  int rank = 0;    // rank inside the replica (0 = leader: talks to the coordinator, commits)
  int size = 1;    // ranks in the replica (the model's expert_parallel)
};

struct RunnerContext {
  const SweepConfig* config = nullptr;
  const Plan* plan = nullptr;
  const results::Store* store = nullptr;
  ReplicaInfo replica;
  // The replica's ranks (expert_parallel/replica.h): loads models with this rank's experts and
  // runs the step protocol. Owned by the executor; outlives the runner.
  ep::Replica* ep = nullptr;
};

class UnitRunner {
 public:
  virtual ~UnitRunner() = default;
  virtual std::string name() const = 0;
  // One result per unit of `group` (in group.units order); empty on non-leader ranks.
  virtual std::vector<results::UnitResult> run(const Group& group, const StopFlag& stop) = 0;
};

using RunnerFactory = std::function<std::unique_ptr<UnitRunner>(const RunnerContext&)>;

// The runner of this binary: the override when one is set, else the model runner.
std::unique_ptr<UnitRunner> make_runner(const RunnerContext& ctx);
// The product runner: models, router hooks, statistics, expert identification, tasks.
std::unique_ptr<UnitRunner> make_model_runner(const RunnerContext& ctx);
// Replaces the runner in this process (test binaries only).
void set_runner_override(RunnerFactory f);

// Inputs of a batch, read from the store (its dependencies are done before it is handed out):
// the routing statistics of Plan::stats[stats] (all its sample ranges combined), and the result
// of the expert-identification unit of Plan::expert_sets[set].
results::UnitResult load_stats(const RunnerContext& ctx, int stats);
results::UnitResult load_expert_set(const RunnerContext& ctx, int set);

// The labels recorded with a unit (model, task, language, point, range, ...).
std::map<std::string, std::string> unit_labels(const SweepConfig& c, const Plan& p, const Unit& u);

}  // namespace moe::sweeps
