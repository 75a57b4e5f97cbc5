// Replica: this process's place in a group of R ranks that together hold one copy of a model
// (expert parallelism; README.md "Running a sweep" says how a sweep uses it), and the API the
// executors use.
//
//   MpiSession mpi;                                        // once per process
//   auto world = MpiCommunicator::world();
//   ReplicaOptions ro;  ro.expert_parallel = R;             // the config's expert_parallel
//   Replica rep = Replica::split(*world, ro);              // world.size() / R replicas
//   auto model = rep.load_model(dir, load_options);        // this rank's experts only
//   Engine engine(model, tokenizer);
//   rep.run(*model, [&] { results = engine.generate(my_requests, hooks); });
//
// An executor that has split the world itself wraps its replica communicator instead:
//   Replica rep(MpiCommunicator::dup(replica_mpi_comm), ro, replica_index, replica_count);
// Ranks [i R, (i+1) R) of the world form replica i. Every rank of a replica loads the shared
// parts (embeddings, attention, norms, routers) and its experts (ExpertPlacement, default
// contiguous blocks); attention runs data-parallel: each rank feeds only its own sequences.
// Router hooks run on the rank that owns the sequence, before dispatch, on global expert ids,
// so statistics and interventions do not depend on R. Each rank then holds the results of its
// own sequences: counts are summed over the replica with allreduce_sum(rep.comm(), ...), other
// results (serialised) collected with gather_strings(rep.comm(), ..., 0) (communicator.h).
// run(model, fn): the step protocol. fn may run any number of forward passes (any engine call,
// or none at all: a rank with no sequences); afterwards the rank serves the other ranks'
// exchanges until every rank of the replica is done (dispatcher.h). Every rank of the replica
// calls run() the same number of times, in the same order, with the same model. If fn throws on
// any rank, run() throws on every rank of the replica: the failing rank rethrows its own
// exception, the others a ReplicaError with the lowest failing rank's message (InputError
// stays an InputError), so the replica's leader can record the failure.
// With R = 1 nothing is communicated: no dispatcher is installed and run() just calls fn.
// Ownership: the replica owns its communicators and shares the dispatchers it installs with the
// models (Model::set_expert_runner). Thread-safety: one thread (the replica's driver).
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "expert_parallel/communicator.h"
#include "expert_parallel/dispatcher.h"
#include "expert_parallel/placement.h"
#include "runtime/core/error.h"
#include "runtime/models/model.h"

namespace moe {
class WeightSource;
namespace io {
struct ModelConfig;
}
}  // namespace moe

namespace moe::ep {

struct ReplicaOptions {
  int expert_parallel = 1;                // R: ranks per replica
  std::string placement = "contiguous";   // "contiguous" | "round_robin" | owners .json file
  std::string where = "expert_parallel";  // config key named in errors
  // How the dispatcher moves rows (dispatcher.h). kAuto: the environment variable
  // MOE_EP_TRANSPORT (auto | shared_memory | exchange) when set, else shared memory where every
  // rank of the replica is on one node and the model runs on the CPU, else the exchange.
  Transport transport = Transport::kAuto;
};

// Raised on the ranks of a replica whose own fn succeeded when another rank's failed.
class ReplicaError : public Error {
 public:
  ReplicaError(int failed_rank, const std::string& message);
  int failed_rank() const { return failed_rank_; }

 private:
  int failed_rank_;
};

class Replica {
 public:
  // Splits `world` into world.size() / R replicas of R consecutive ranks (collective over
  // world). InputError naming options.where when R < 1 or R does not divide world.size().
  static Replica split(const Communicator& world, const ReplicaOptions& options);
  // Over an existing communicator of the replica's R ranks (e.g. one the executor split);
  // index/count describe the replica among the world's replicas.
  Replica(std::shared_ptr<Communicator> comm, const ReplicaOptions& options, int index = 0,
          int count = 1);

  int index() const { return index_; }        // replica number in the world
  int count() const { return count_; }        // replicas in the world
  int rank() const { return comm_->rank(); }  // rank in the replica (0 = leader)
  int size() const { return comm_->size(); }  // R
  Communicator& comm() { return *comm_; }

  // The placement of a model's experts over this replica's ranks (options.placement).
  ExpertPlacement placement_for(const io::ModelConfig& config) const;
  // Loads `dir` holding only this rank's experts (R = 1: all of them), checks that every rank
  // loaded the same shape of model, and installs the dispatcher (R > 1). Collective.
  std::shared_ptr<Model> load_model(const std::filesystem::path& dir, ModelLoadOptions options);
  // The same from a parsed config and a weight source (in-memory models, tools, tests).
  std::shared_ptr<Model> build_model(const io::ModelConfig& config, const WeightSource& weights,
                                     ModelLoadOptions options);

  // Runs fn, then serves the other ranks until the replica is done (see above). Collective.
  void run(Model& model, const std::function<void()>& fn);

  // Inside run()'s fn: asks every rank of the replica to give up this run. The request travels
  // with this rank's next exchange headers (also while it serves, after fn has thrown), and
  // from then on cancelled() is true on every rank, whose fn may then throw too. A rank learns
  // of it only through an exchange, i.e. while some rank still runs forward passes. R = 1 and
  // outside run(): cancel() does nothing and cancelled() is false.
  void cancel();
  bool cancelled() const;

  // The dispatcher installed on `model` by this replica; null for R = 1 or another model.
  Dispatcher* dispatcher(const Model& model) const;

 private:
  std::shared_ptr<Model> attach(std::shared_ptr<Model> model, const ExpertPlacement& placement);

  std::shared_ptr<Communicator> comm_;
  ReplicaOptions options_;
  int index_ = 0, count_ = 1;
  struct Installed {
    std::weak_ptr<Model> model;
    const Model* key = nullptr;
    std::shared_ptr<Dispatcher> dispatcher;
  };
  std::vector<Installed> installed_;
  Dispatcher* running_ = nullptr;  // the dispatcher of the model inside run(), R > 1
};

}  // namespace moe::ep
