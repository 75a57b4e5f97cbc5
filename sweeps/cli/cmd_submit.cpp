// `moe-sweep submit CONFIG [key=value ...]`: writes and submits the SLURM array job of a sweep
// (chunked under MaxArraySize, with the config's %throttle) and a merge job that runs after it
// (afterany). Resubmitting runs only the units that are not done.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <set>

#include "results/store.h"
#include "sweeps/cli/command.h"
#include "sweeps/config/config.h"
#include "sweeps/exec/executor.h"
#include "sweeps/exec/slurm.h"
#include "sweeps/phases/sample_counter.h"
#include "sweeps/plan/input_checks.h"
#include "sweeps/plan/plan.h"

MOE_COMMAND(submit, 15, "Submit a sweep as a SLURM array job plus a merge job", [](CLI::App& app) {
  struct Args {
    std::string config, out, templates;
    std::vector<std::string> overrides;
    int tasks = 0;
    bool dry_run = false, accept_changed = false;
  };
  auto a = std::make_shared<Args>();
  app.add_option("CONFIG", a->config, "sweep YAML")->required();
  app.add_option("overrides", a->overrides, "key.path=value overrides");
  app.add_option("--out", a->out, "output directory (default: the config's 'output')");
  app.add_option("--tasks", a->tasks, "array tasks (default: slurm.array_tasks)");
  app.add_option("--templates", a->templates, "folder with the job templates (default: slurm/)");
  app.add_flag("--dry-run", a->dry_run, "write the job scripts and print the sbatch lines only");
  app.add_flag("--accept-changed-inputs", a->accept_changed,
               "submit although checkpoints or data files changed since the units in the output "
               "directory were computed (the affected units are computed again)");
  return [a] {
    using namespace moe::sweeps;
    SweepConfig c = load_config(a->config, a->overrides);
    check_layers(c);
    const std::filesystem::path out = a->out.empty() ? c.output : std::filesystem::path(a->out);
    moe::results::Store store(out);
    // The files are checked here; the numerics are the compute nodes' (their workers check them).
    record_inputs(store, identify_inputs(c), a->accept_changed, /*numerics=*/false);
    const Plan plan = make_plan(c, data_sample_counter(c), recorded_inputs(store, c));
    record_config(store, c);
    store.clear_all_failed();  // a resubmission retries what failed
    const std::set<std::string> done = store.done_units();
    int pending = 0;
    for (const auto& g : plan.groups) {
      bool all = true;
      for (int u : g.units) all = all && done.count(plan.units[u].id);
      pending += !all;
    }
    SubmitOptions o;
    o.out = out;
    o.sweep_bin = std::filesystem::canonical("/proc/self/exe");
    o.templates = a->templates.empty() ? find_templates(o.sweep_bin)
                                       : std::filesystem::path(a->templates);
    o.tasks = a->tasks;
    o.pending_batches = pending;
    o.dry_run = a->dry_run;
    if (pending == 0) {
      std::printf("nothing to submit: all %zu units of %s are done\n", plan.units.size(),
                  out.c_str());
      return 0;
    }
    const SubmitResult r = submit(c, o);
    std::printf("%d of %zu batches pending; MaxArraySize %d\n", pending, plan.groups.size(),
                r.max_array_size);
    for (const auto& cmd : r.commands) std::printf("%s%s\n", a->dry_run ? "would run: " : "", cmd.c_str());
    for (const auto& j : r.array_jobs) std::printf("array job %s\n", j.c_str());
    if (!r.merge_job.empty()) std::printf("merge job %s\n", r.merge_job.c_str());
    return 0;
  };
});
