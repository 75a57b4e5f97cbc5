// Graceful stop: SIGUSR1 (what SLURM sends with --signal=B:USR1@N before the time limit), SIGTERM
// and SIGINT ask the worker to stop. The first signal means "stop after the current batch" (or
// abandon it, with execution.on_stop: abandon); a second one means "abandon now": the model
// runner gives its batch up before its engine's next step (on every rank of a replica,
// sweeps/phases/model_runner.cpp). Abandoned batches are given back (their leases released)
// and nothing half-done is stored.
//
// Thread-safety: the flag is a lock-free atomic, safe from signal handlers and any thread.
#pragma once

#include <atomic>

#include "runtime/core/error.h"

namespace moe::sweeps {

enum class StopLevel : int { kRun = 0, kFinish = 1, kAbandon = 2 };

class StopFlag {
 public:
  StopLevel level() const { return StopLevel(level_.load(std::memory_order_relaxed)); }
  bool stopping() const { return level() != StopLevel::kRun; }
  bool abandon() const { return level() == StopLevel::kAbandon; }
  void raise(StopLevel l) {
    int cur = level_.load();
    while (int(l) > cur && !level_.compare_exchange_weak(cur, int(l))) {
    }
  }
  void escalate() { raise(level() == StopLevel::kRun ? first_ : StopLevel::kAbandon); }
  void set_first(StopLevel l) { first_ = l; }
  // The first stop signal received (0: none). SIGUSR1 is SLURM's time-limit warning: only then
  // does `run --requeue` requeue the job (SIGTERM is a cancellation or a preemption).
  void note_signal(int sig) {
    int none = 0;
    first_signal_.compare_exchange_strong(none, sig);
  }
  int first_signal() const { return first_signal_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int> level_{0};
  std::atomic<int> first_signal_{0};
  StopLevel first_ = StopLevel::kFinish;
};

// The process-wide flag the signal handlers raise.
StopFlag& process_stop_flag();
// Installs handlers for SIGUSR1, SIGTERM, SIGINT that escalate process_stop_flag().
void install_stop_handlers();

// Thrown by a runner that gave up its batch because the stop flag said abandon.
class Cancelled : public Error {
 public:
  Cancelled() : Error("batch abandoned on request (stop signal)") {}
};

}  // namespace moe::sweeps
