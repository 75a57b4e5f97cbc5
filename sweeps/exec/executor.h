// Executors: run a plan's pending batches and commit their units to the store.
//
//  - run_local: one process, one replica (the model loaded once), batches taken in plan order.
//  - run_mpi:   `mpirun -np N`: the world splits into N/R replicas of R = expert_parallel ranks;
//               rank 0 also runs a coordinator thread that hands batches out dynamically,
//               prefers batches of the model a replica has loaded, collects outcomes, keeps the
//               leases alive and gives a lost replica's batch back (no heartbeat for a lease TTL).
// Both take their work through a Coordinator over the shared store, so any number of runs (local,
// MPI, SLURM array tasks) may work on one output directory at once: leases keep them from
// running the same batch, and a dead worker's batches become pending again when its leases
// expire. A stop signal (stop.h) ends the run after (or in the middle of) the current batches.
// Thread-safety: call from the main thread.
#pragma once

#include <cstdint>
#include <string>

#include "results/store.h"
#include "sweeps/plan/plan.h"

namespace moe::sweeps {

struct RunOptions {
  bool clear_failed = true;  // retry batches that failed in earlier runs
  std::string owner;         // lease owner id; empty = results::Leases::make_owner()
  bool progress = true;      // progress bar / log lines
};

struct RunSummary {
  int64_t units_total = 0;
  int64_t units_done = 0;         // present in the store at the end (by anyone)
  int64_t units_done_here = 0;    // committed by this run
  int64_t batches_failed = 0;     // failed in this run
  bool stopped = false;           // a stop signal ended the run early
  bool complete() const { return units_done == units_total; }
};

// Writes the config snapshot the workers and `merge DIR` read (config.yaml, config.source.yaml).
void record_config(const results::Store& store, const SweepConfig& c);

// Compares `now` with the inputs the store's units were computed from (DIR/inputs.json) and
// records `now`. A difference is an InputError listing every change, unless `accept_changed`
// (the affected units then have new ids and are computed again). `numerics`: false compares the
// files only and keeps the stored numerics (`submit` runs on a login node whose CPU may not be
// the compute nodes').
void record_inputs(const results::Store& store, const InputIdentity& now, bool accept_changed,
                   bool numerics = true);
// The inputs the store's units were computed from, for reading them (status, merge): the
// store's inputs.json, or identify_inputs(c) for a store that has none yet.
InputIdentity recorded_inputs(const results::Store& store, const SweepConfig& c);

RunSummary run_local(const SweepConfig& c, const Plan& plan, results::Store& store,
                     const RunOptions& o);

// Under mpirun/srun: true when this process was started as one rank of several (or by a
// launcher that expects MPI_Init).
bool launched_by_mpi();

// REQUIRES: MPI initialised with MPI_THREAD_MULTIPLE (ep::MpiSession; rank 0 runs the
// coordinator thread beside its replica's work).
RunSummary run_mpi(const SweepConfig& c, const Plan& plan, results::Store& store,
                   const RunOptions& o);

}  // namespace moe::sweeps
