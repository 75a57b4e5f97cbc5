// `moe-sweep run CONFIG [key=value ...]` (also `moe-sweep CONFIG`, `mpirun moe-sweep CONFIG`):
// runs the sweep's pending units into its output directory. Under mpirun/srun the MPI executor
// splits the world into replicas; otherwise one local replica runs everything.
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>

#include "expert_parallel/mpi_communicator.h"
#include "results/store.h"
#include "sweeps/cli/command.h"
#include "sweeps/config/config.h"
#include "sweeps/exec/executor.h"
#include "sweeps/exec/stop.h"
#include "sweeps/phases/sample_counter.h"
#include "sweeps/plan/input_checks.h"
#include "sweeps/plan/plan.h"

namespace {
// Rank 0's `text` on every rank.
void broadcast_text(std::string& text) {
  uint64_t n = text.size();
  MPI_Bcast(&n, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  text.resize(n);
  MPI_Bcast(text.data(), int(n), MPI_CHAR, 0, MPI_COMM_WORLD);
}

// Asks SLURM to run this job again (it goes on where this run stopped).
void requeue_slurm_job() {
  const char* id = std::getenv("SLURM_JOB_ID");
  if (!id || !*id || std::string(id).find_first_not_of("0123456789_") != std::string::npos) {
    spdlog::warn("--requeue: not inside a SLURM job (SLURM_JOB_ID unset), nothing requeued");
    return;
  }
  const std::string cmd = fmt::format("scontrol requeue {}", id);
  const int rc = std::system(cmd.c_str());
  if (rc == 0)
    spdlog::info("stopped with units left: job {} requeued", id);
  else
    spdlog::warn("stopped with units left; `{}` failed (exit status {}): resubmit by hand", cmd,
                 rc);
}
}  // namespace

MOE_COMMAND(run, 10, "Run a sweep (local, or MPI under mpirun/srun)", [](CLI::App& app) {
  struct Args {
    std::string config, out, executor = "auto";
    std::vector<std::string> overrides;
    bool keep_failed = false, retry_failed = false, no_progress = false, accept_changed = false;
    bool requeue = false;
  };
  auto a = std::make_shared<Args>();
  app.add_option("CONFIG", a->config, "sweep YAML")->required();
  app.add_option("overrides", a->overrides, "key.path=value overrides");
  app.add_option("--out", a->out, "output directory (default: the config's 'output')");
  app.add_option("--executor", a->executor, "auto | local | mpi")
      ->check(CLI::IsMember({"auto", "local", "mpi"}))
      ->capture_default_str();
  app.add_flag("--keep-failed", a->keep_failed,
               "do not retry batches that failed before (default inside a SLURM array task)");
  app.add_flag("--retry-failed", a->retry_failed, "retry batches that failed before");
  app.add_flag("--no-progress", a->no_progress, "no progress bar or per-batch log lines");
  app.add_flag("--requeue", a->requeue,
               "inside a SLURM job: when SIGUSR1 (the time-limit warning of sbatch --signal) "
               "stops the run with units left, requeue the job (scontrol requeue $SLURM_JOB_ID; "
               "the job must be requeueable, sbatch --requeue)");
  app.add_flag("--accept-changed-inputs", a->accept_changed,
               "resume although checkpoints, data files or numerics changed since the units in "
               "the output directory were computed (the affected units are computed again)");
  return [a] {
    using namespace moe::sweeps;
    install_stop_handlers();
    const bool mpi = a->executor == "mpi" || (a->executor == "auto" && launched_by_mpi());
    std::optional<moe::ep::MpiSession> session;
    int rank = 0;
    if (mpi) {
      session.emplace();
      MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    }
    // Other ranks log warnings and errors only, unless --log-level asked for debug detail.
    if (rank != 0 && spdlog::get_level() == spdlog::level::info)
      spdlog::set_level(spdlog::level::warn);

    SweepConfig c = load_config(a->config, a->overrides);
    check_layers(c);
    if (c.execution.on_stop == "abandon") process_stop_flag().set_first(StopLevel::kAbandon);
    moe::results::Store store(a->out.empty() ? c.output : std::filesystem::path(a->out));
    // Rank 0 fingerprints the inputs once and checks them against the store's record; every
    // rank plans with the same identity (a refusal on rank 0 stops them all).
    std::string inputs_json;
    std::exception_ptr refusal;
    if (rank == 0) {
      try {
        const InputIdentity now = identify_inputs(c);
        record_inputs(store, now, a->accept_changed);
        inputs_json = now.to_json();
      } catch (const moe::InputError&) {
        if (!mpi) throw;
        refusal = std::current_exception();
      }
    }
    if (mpi) {
      std::string refused = refusal ? "1" : "";
      broadcast_text(refused);
      if (refusal) std::rethrow_exception(refusal);
      if (!refused.empty())
        throw moe::InputError("rank 0", "refused to start the run (its error says why)");
      broadcast_text(inputs_json);
    }
    const InputIdentity inputs =
        InputIdentity::from_json(inputs_json, store.inputs_path().string());
    const Plan plan = make_plan(c, data_sample_counter(c), inputs);
    if (rank == 0) {
      record_config(store, c);
      // Damaged unit files of this plan are moved aside before anyone takes work: their units
      // are pending again. Header and size only: a full check would read every result at every
      // start of every array task; the units a run reads as inputs get the full check in read().
      std::vector<std::string> ids;
      for (const auto& u : plan.units) ids.push_back(u.id);
      for (const auto& d : store.quarantine_damaged(ids, moe::results::Store::Check::kHeader))
        spdlog::warn("damaged unit file moved to quarantine/, computing it again: {}", d);
    }

    RunOptions o;
    const bool array_task = std::getenv("SLURM_ARRAY_TASK_ID") != nullptr;
    o.clear_failed = a->retry_failed || (!a->keep_failed && !array_task);
    o.progress = !a->no_progress;
    if (rank == 0)
      spdlog::info("sweep {}: {} units in {} batches, output {}", c.name, plan.units.size(),
                   plan.groups.size(), store.dir().string());
    const RunSummary s = mpi ? run_mpi(c, plan, store, o) : run_local(c, plan, store, o);
    if (rank == 0) {
      spdlog::info("{} of {} units done ({} by this run){}{}", s.units_done, s.units_total,
                   s.units_done_here, s.stopped ? "; stopped by a signal" : "",
                   s.batches_failed ? fmt::format("; {} batches failed", s.batches_failed) : "");
      if (!s.complete() && !s.stopped && !s.batches_failed)
        spdlog::info("the remaining units are held by other workers (see moe-sweep status {})",
                     store.dir().string());
    }
    if (s.batches_failed > 0) return moe::cli::kExitFailed;
    if (!s.stopped || s.complete()) return moe::cli::kExitOk;
    if (rank == 0 && a->requeue && process_stop_flag().first_signal() == SIGUSR1)
      requeue_slurm_job();
    return moe::cli::kExitStoppedWithWorkLeft;
  };
});
