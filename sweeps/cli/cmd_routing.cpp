// `moe-sweep routing CONFIG [key=value ...] [--out FILE]`: the routing statistics
// (sweeps/METHODS.md A) of every (model, corpus, language) in a sweep config's `routing:` list, in
// one HDF5 file (results/SCHEMA.md: /routing/<model>/<corpus>/<language>) for `moe-sweep analyze`.
// It is the sweep's statistics phase alone: the config's tasks, grid and expert rules are left
// out, the units run locally into the config's output directory (statistics units have the same
// ids as in `moe-sweep run` of the same config, so either reuses what the other computed), and
// they are merged into FILE (default <output>/routing.h5). A corpus without `samples` counts
// every sequence its files hold. The output directory keeps the routing-only config
// (config.yaml, unless a `run` wrote the whole sweep's), so `status DIR` and `merge DIR` read it
// as any sweep's. Under MPI or SLURM, use `run`/`submit` and `merge` instead.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "results/merge.h"
#include "results/store.h"
#include "runtime/core/error.h"
#include "sweeps/cli/command.h"
#include "sweeps/config/config.h"
#include "sweeps/exec/executor.h"
#include "sweeps/exec/stop.h"
#include "sweeps/phases/sample_counter.h"
#include "sweeps/plan/merge_spec.h"
#include "sweeps/plan/plan.h"

MOE_COMMAND(routing, 12, "Collect the routing statistics of a config's routing list into one HDF5 file",
            [](CLI::App& app) {
  struct Args {
    std::string config, out;
    std::vector<std::string> overrides;
    bool no_progress = false, accept_changed = false;
  };
  auto a = std::make_shared<Args>();
  app.add_option("CONFIG", a->config, "sweep YAML with `models`, `corpora` and `routing`")->required();
  app.add_option("overrides", a->overrides, "key.path=value overrides");
  app.add_option("--out", a->out, "HDF5 file to write (default: <output>/routing.h5)");
  app.add_flag("--no-progress", a->no_progress, "no progress bar or per-batch log lines");
  app.add_flag("--accept-changed-inputs", a->accept_changed,
               "go on although checkpoints, corpora or numerics changed since the statistics in "
               "the output directory were computed (the affected units are computed again)");
  return [a] {
    using namespace moe::sweeps;
    install_stop_handlers();
    const SweepConfig c = routing_only(load_config(a->config, a->overrides));
    moe::results::Store store(c.output);
    // The snapshot `status` and `merge DIR` read, unless a sweep's run of the directory wrote
    // one (its plan holds these statistics units too).
    if (!std::filesystem::exists(store.config_path())) record_config(store, c);
    const InputIdentity inputs = identify_inputs(c);
    record_inputs(store, inputs, a->accept_changed);
    const Plan plan = make_plan(c, data_sample_counter(c), inputs);
    RunOptions o;
    o.progress = !a->no_progress;
    spdlog::info("routing {}: {} statistics in {} units, unit files in {}", c.name,
                 plan.stats.size(), plan.units.size(), store.dir().string());
    const RunSummary s = run_local(c, plan, store, o);
    if (!s.complete()) {
      std::fprintf(stderr, "routing: %lld of %lld units done%s; nothing written (run again to "
                   "resume)\n", (long long)s.units_done, (long long)s.units_total,
                   s.stopped ? " (stopped by a signal)" : "");
      return s.stopped ? moe::cli::kExitStoppedWithWorkLeft : moe::cli::kExitFailed;
    }
    const std::filesystem::path out =
        a->out.empty() ? c.output / "routing.h5" : std::filesystem::path(a->out);
    const auto rep = moe::results::merge(store, merge_spec(c, plan), out, false);
    std::printf("%s: routing statistics of %zu (model, corpus, language)\n", rep.written.c_str(),
                plan.stats.size());
    return 0;
  };
});
