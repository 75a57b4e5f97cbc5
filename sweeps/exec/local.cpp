// The local executor: one process, one replica.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <thread>

#include "expert_parallel/replica.h"
#include "sweeps/exec/executor.h"
#include "sweeps/exec/worker.h"
#include "sweeps/plan/describe.h"

namespace moe::sweeps {

std::string batch_label(const SweepConfig& c, const Plan& plan, int group) {
  const Group& g = plan.groups[group];
  const Unit& u = plan.units[g.units[0]];
  switch (g.kind) {
    case UnitKind::kStats:
      return fmt::format("stats {}/{}/{} [{}, {})", c.models[u.model].name,
                         c.corpora[plan.stats[u.stats].corpus].name, u.language, u.begin, u.end);
    case UnitKind::kExperts: {
      const ExpertSetSpec& x = plan.expert_sets[u.expert_set];
      return fmt::format("experts {}/{}", c.models[x.model].name, c.rules[x.rule].name);
    }
    case UnitKind::kEval:
      return fmt::format("eval {}/{}/{} [{}, {}) {} points", c.models[u.model].name,
                         c.tasks[u.task].name, u.language, u.begin, u.end, g.units.size());
  }
  return g.id;
}

void record_config(const results::Store& store, const SweepConfig& c) {
  std::string source = c.source_text;
  if (!c.overrides.empty()) {
    source += "\n# command-line overrides:\n";
    for (const auto& o : c.overrides) source += "#   " + o + "\n";
  }
  store.write_config(c.resolved_text, source);
}

void record_inputs(const results::Store& store, const InputIdentity& now, bool accept_changed,
                   bool numerics) {
  const std::string text = store.read_inputs();
  InputIdentity record = now;
  if (!numerics) {  // not this machine's to record
    record.numerics.clear();
    record.numerics_version.clear();
  }
  if (!text.empty()) {
    const InputIdentity stored = InputIdentity::from_json(text, store.inputs_path().string());
    const std::vector<std::string> changes = changed_inputs(stored, record);
    // Inputs of the store that this command does not read (`routing` reads no task) stay.
    record.files.insert(stored.files.begin(), stored.files.end());
    record.numerics.insert(stored.numerics.begin(), stored.numerics.end());
    if (record.numerics_version.empty()) record.numerics_version = stored.numerics_version;
    if (!changes.empty() && !accept_changed)
      throw InputError(
          store.inputs_path().string(),
          fmt::format("the inputs differ from those the units in {} were computed from:\n  {}\n"
                      "Resuming would mix results of different inputs. Run into a new output "
                      "directory (--out), or pass --accept-changed-inputs to compute the "
                      "affected units again (their old files stay unused). A CPU level that "
                      "differs between node types can be pinned with MOE_CPU_ISA=<level>.",
                      store.dir().string(), fmt::join(changes, "\n  ")));
    if (!changes.empty())
      spdlog::warn(
          "inputs changed since the last run (accepted), the affected units are "
          "computed again:\n  {}",
          fmt::join(changes, "\n  "));
  }
  store.write_inputs(record.to_json());
}

InputIdentity recorded_inputs(const results::Store& store, const SweepConfig& c) {
  const std::string text = store.read_inputs();
  if (text.empty()) return identify_inputs(c);
  InputIdentity stored = InputIdentity::from_json(text, store.inputs_path().string());
  // Inputs the config gained since the last run: as the next run will fingerprint them.
  bool complete = true;
  for (const auto& m : c.models) complete = complete && stored.files.count("models." + m.name);
  for (const auto& cp : c.corpora) complete = complete && stored.files.count("corpora." + cp.name);
  for (const auto& t : c.tasks) complete = complete && stored.files.count("tasks." + t.name);
  if (complete) return stored;
  const InputIdentity now = identify_inputs(c);
  stored.files.insert(now.files.begin(), now.files.end());  // keeps the stored values
  stored.numerics.insert(now.numerics.begin(), now.numerics.end());
  return stored;
}

RunSummary run_local(const SweepConfig& c, const Plan& plan, results::Store& store,
                     const RunOptions& o) {
  for (const auto& m : c.models)
    if (m.expert_parallel > 1)
      throw InputError(
          fmt::format("{}: models.{}.expert_parallel", c.source.string(), m.name),
          fmt::format("expected 1 for a run without MPI, found {} (start it with mpirun -np "
                      "<multiple of {}>)",
                      m.expert_parallel, m.expert_parallel));
  const std::string owner = o.owner.empty() ? results::Leases::make_owner() : o.owner;
  results::Leases leases(store.leases_dir(), owner, c.execution.lease_ttl_s);
  if (o.clear_failed) store.clear_all_failed();
  store.clean_tmp(c.execution.lease_ttl_s);
  Coordinator coord(plan, store, leases, c.execution.poll_s);
  StopFlag& stop = process_stop_flag();

  ep::ReplicaOptions ro;
  ro.where = c.source.string() + ": models.*.expert_parallel";
  ep::Replica replica(std::make_shared<ep::LocalCommunicator>(), ro);
  RunnerContext ctx{&c, &plan, &store, {}, &replica};
  std::unique_ptr<UnitRunner> runner;
  ProgressOutput out;
  Periodic heartbeat(c.execution.heartbeat_s, [&] { coord.heartbeat(); });
  RunSummary s;
  int model = -1;
  while (!stop.stopping()) {
    int g = -1;
    const Coordinator::Next next = coord.next(model, &g);
    if (next == Coordinator::Next::kDone) break;
    if (next == Coordinator::Next::kWait) {
      if (o.progress) out.tick(coord.progress());
      std::this_thread::sleep_for(std::chrono::duration<double>(c.execution.poll_s));
      continue;
    }
    if (!runner) {
      runner = make_runner(ctx);
      spdlog::info("runner: {}", runner->name());
    }
    const auto t0 = std::chrono::steady_clock::now();
    BatchOutcome r = run_batch(*runner, ctx, g, stop, owner);
    coord.finished(g, r.outcome, r.error);
    if (plan.groups[g].model >= 0) model = plan.groups[g].model;
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::string label = batch_label(c, plan, g);
    if (r.outcome == Coordinator::Outcome::kFailed) {
      ++s.batches_failed;
      spdlog::error("batch {} ({}) failed: {}", plan.groups[g].id, label, r.error);
    } else if (o.progress && r.outcome == Coordinator::Outcome::kDone) {
      out.event(fmt::format("done {} in {}", label, format_duration(dt)), coord.progress());
    }
  }
  out.finish();
  coord.refresh();
  const Progress p = coord.progress();
  s.units_total = p.units_total;
  s.units_done = p.units_done;
  s.units_done_here = p.units_done_here;
  s.stopped = stop.stopping();
  return s;
}

}  // namespace moe::sweeps
