// Pieces shared by the executors: running one batch and committing its units, a periodic
// background task (lease heartbeats), and progress output (a bar with ETA on a terminal, plain
// log lines otherwise).
// Thread-safety: run_batch uses HDF5 (one thread per process); Periodic runs its function on
// its own thread; ProgressOutput may be called from any thread (internal mutex).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "results/store.h"
#include "sweeps/exec/coordinator.h"
#include "sweeps/exec/unit_runner.h"

namespace moe::sweeps {

struct BatchOutcome {
  Coordinator::Outcome outcome = Coordinator::Outcome::kDone;
  std::string error;
};

// Runs `group` with `runner` and, on the replica leader, commits one unit file per unit.
// Errors become a kFailed outcome with the message; Cancelled becomes kAbandoned.
BatchOutcome run_batch(UnitRunner& runner, const RunnerContext& ctx, int group,
                       const StopFlag& stop, const std::string& owner);

// "eval tiny/mgsm/de [0, 20) 4 points": what a batch is, for logs.
std::string batch_label(const SweepConfig& c, const Plan& plan, int group);

// Calls `fn` every `period_s` on a background thread until destroyed.
class Periodic {
 public:
  Periodic(double period_s, std::function<void()> fn);
  ~Periodic();
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

class ProgressOutput {
 public:
  ProgressOutput();  // a bar when stderr is a terminal, log lines otherwise
  ~ProgressOutput();
  // A batch ended (or another event worth a line).
  void event(const std::string& line, const Progress& p);
  // Redraws the bar (at most a few times a second); no-op without a terminal.
  void tick(const Progress& p);
  void finish();

 private:
  void draw(const Progress& p);
  bool tty_;
  bool drawn_ = false;
  std::mutex mu_;
  std::chrono::steady_clock::time_point last_draw_{};
};

std::string format_duration(double seconds);  // "1h02m", "3m05s", "12s"

}  // namespace moe::sweeps
