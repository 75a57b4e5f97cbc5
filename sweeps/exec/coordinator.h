// Coordinator: the dynamic queue of a sweep's batches for one worker process (local run, the
// rank 0 of an MPI run, or one SLURM array task), cooperating with every other worker through
// the shared store: done = unit files present, running = leases, failed = failure markers.
//
// next() hands out a batch whose dependencies are done and that nobody else holds, claimed
// with a lease; it prefers batches of the model a replica has loaded. finished() commits the
// outcome and releases the lease. heartbeat() keeps this worker's leases alive; a worker that
// dies stops heartbeating, so its batches become free again after the lease TTL.
// Thread-safety: all methods lock an internal mutex (an MPI coordinator thread and a heartbeat
// thread may call them concurrently).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "results/lease.h"
#include "results/store.h"
#include "sweeps/plan/plan.h"

namespace moe::sweeps {

struct Progress {
  int64_t units_total = 0, units_done = 0;    // done includes units done by other workers
  int64_t units_done_here = 0;                 // by this worker, in this run
  int64_t tokens_total = 0, tokens_done_here = 0;
  int64_t batches_running = 0, batches_failed = 0;
  double elapsed_s = 0;
  double eta_s = -1;  // -1 when unknown
};

class Coordinator {
 public:
  enum class Next { kBatch, kWait, kDone };

  Coordinator(const Plan& plan, const results::Store& store, results::Leases& leases,
              double poll_s);

  // A batch for a replica holding `model` (-1: none loaded). kWait: nothing ready now (batches
  // wait for dependencies or for leases that may expire); kDone: nothing left for this worker.
  Next next(int model, int* group);
  // The batch ended: committed (ok) or failed with `error`, or given back (abandoned).
  enum class Outcome { kDone, kFailed, kAbandoned };
  void finished(int group, Outcome outcome, const std::string& error = "");
  // Keeps this worker's leases alive; logs batches taken over by others.
  void heartbeat();
  // Re-reads which units are done and which batches failed (other workers' progress).
  void refresh();

  Progress progress() const;
  bool complete() const;  // every unit of the plan is done
  int64_t failed_here() const;

 private:
  bool group_done(int g) const;
  bool deps_done(int g) const;
  bool deps_failed(int g) const;
  void refresh_locked();

  const Plan& plan_;
  const results::Store& store_;
  results::Leases& leases_;
  double poll_s_;
  mutable std::mutex mu_;
  std::vector<char> unit_done_;       // [units]
  std::vector<int> unit_group_;       // [units] group of each unit
  std::set<std::string> failed_;      // failed batches (any worker)
  std::map<int, std::vector<int>> running_;  // batch -> its units not done when handed out
  std::set<std::string> other_live_;  // batches leased by other live workers (at last refresh)
  int64_t done_here_ = 0, tokens_here_ = 0, failed_here_ = 0;
  int64_t units_done_at_start_ = 0;
  std::chrono::steady_clock::time_point start_, last_refresh_;
};

}  // namespace moe::sweeps
