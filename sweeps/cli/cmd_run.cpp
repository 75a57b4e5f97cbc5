// `moe-sweep run CONFIG [key=value ...]` (also `moe-sweep CONFIG`, `mpirun moe-sweep CONFIG`):
// runs the sweep's pending units into its output directory. Under mpirun/srun the MPI executor
// splits the world into replicas; otherwise one local replica runs everything.
#include <spdlog/spdlog.h>

#include <cstdlib>
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

MOE_COMMAND(run, 10, "Run a sweep (local, or MPI under mpirun/srun)", [](CLI::App& app) {
  struct Args {
    std::string config, out, executor = "auto";
    std::vector<std::string> overrides;
    bool keep_failed = false, retry_failed = false, no_progress = false;
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
    const Plan plan = make_plan(c, data_sample_counter(c));
    moe::results::Store store(a->out.empty() ? c.output : std::filesystem::path(a->out));
    if (rank == 0) record_config(store, c);

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
    return s.batches_failed > 0 ? 1 : 0;
  };
});
