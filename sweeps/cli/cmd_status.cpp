// `moe-sweep status DIR`: what a sweep's output directory holds: done, running (with the age of
// the last heartbeat), pending (ready or waiting for dependencies), stale leases of dead workers,
// and failed batches with their errors. --check also verifies every done unit file's checksum
// (a damaged file is not done) and exits 0 only when every unit is done.
#include <fmt/format.h>

#include <cstdio>
#include <map>
#include <memory>
#include <set>

#include "results/lease.h"
#include "results/store.h"
#include "sweeps/cli/command.h"
#include "sweeps/cli/sweep_dir.h"
#include "sweeps/config/config.h"
#include "sweeps/exec/worker.h"

MOE_COMMAND(status, 30, "Show done, running, pending and failed work of a sweep directory",
            [](CLI::App& app) {
  struct Args {
    std::string dir;
    std::vector<std::string> overrides;
    bool check = false, all = false;
  };
  auto a = std::make_shared<Args>();
  app.add_option("DIR", a->dir, "the sweep's output directory, or its YAML")->required();
  app.add_option("overrides", a->overrides, "key.path=value overrides (with a YAML)");
  app.add_flag("--check", a->check, "exit 0 only if every unit is done (1 otherwise)");
  app.add_flag("--all", a->all, "list every pending batch");
  return [a] {
    using namespace moe::sweeps;
    const SweepDir sweep = open_sweep_dir(a->dir, a->overrides);
    const std::filesystem::path& dir = sweep.dir;
    const SweepConfig& c = sweep.config;
    const Plan& plan = sweep.plan;
    moe::results::Store store(dir);
    std::set<std::string> done = store.done_units();
    // --check reads every unit file: a damaged one is not done (run and merge quarantine it).
    std::vector<std::string> damaged;
    if (a->check)
      for (const auto& u : plan.units)
        if (done.count(u.id))
          if (std::string why = store.damage(u.id); !why.empty()) {
            damaged.push_back(fmt::format("  {}  {}", u.id, why));
            done.erase(u.id);
          }
    const auto failed = store.failed();
    moe::results::Leases leases(store.leases_dir(), moe::results::Leases::make_owner(),
                                c.execution.lease_ttl_s);
    std::map<std::string, moe::results::LeaseInfo> lease_of;
    for (auto& l : leases.list()) lease_of[l.name] = l;

    std::vector<char> unit_done(plan.units.size());
    std::vector<int> unit_group(plan.units.size());
    int64_t units_done = 0;
    for (size_t u = 0; u < plan.units.size(); ++u) {
      unit_done[u] = done.count(plan.units[u].id);
      units_done += unit_done[u];
    }
    for (size_t g = 0; g < plan.groups.size(); ++g)
      for (int u : plan.groups[g].units) unit_group[u] = int(g);
    auto group_done = [&](int g) {
      for (int u : plan.groups[g].units)
        if (!unit_done[u]) return false;
      return true;
    };
    std::function<bool(int)> blocked = [&](int g) {
      for (int u : plan.groups[g].deps) {
        if (unit_done[u]) continue;
        const int dg = unit_group[u];
        if (failed.count(plan.groups[dg].id) || blocked(dg)) return true;
      }
      return false;
    };
    std::vector<std::string> running, stale, failed_lines, pending_lines;
    int64_t n_done = 0, n_ready = 0, n_waiting = 0, n_blocked = 0;
    for (size_t gi = 0; gi < plan.groups.size(); ++gi) {
      const int g = int(gi);
      const Group& grp = plan.groups[g];
      const std::string label = batch_label(c, plan, g);
      if (group_done(g)) {
        ++n_done;
        continue;
      }
      if (auto f = failed.find(grp.id); f != failed.end()) {
        failed_lines.push_back(fmt::format("  {}  {}  (on {})\n      {}", grp.id, label,
                                           f->second.owner, f->second.error));
        continue;
      }
      if (auto l = lease_of.find(grp.id); l != lease_of.end()) {
        if (l->second.age_s <= c.execution.lease_ttl_s && !l->second.dead) {
          running.push_back(fmt::format("  {}  {}  owner {}  heartbeat {} ago", grp.id, label,
                                        l->second.owner, format_duration(l->second.age_s)));
          continue;
        }
        stale.push_back(fmt::format("  {}  {}  owner {}  {} (pending again)", grp.id, label,
                                    l->second.owner,
                                    l->second.dead
                                        ? std::string("holder process gone")
                                        : "silent for " + format_duration(l->second.age_s)));
      }
      bool deps = true;
      for (int u : grp.deps) deps = deps && unit_done[u];
      if (blocked(g)) ++n_blocked;
      else if (deps) ++n_ready;
      else ++n_waiting;
      if (a->all) pending_lines.push_back(fmt::format("  {}  {}{}", grp.id, label,
                                                      deps ? "" : "  (waiting for dependencies)"));
    }
    std::printf("sweep %s (plan %s) in %s\n", c.name.c_str(), plan.hash.c_str(), dir.c_str());
    std::printf("units    %lld of %lld done\n", (long long)units_done, (long long)plan.units.size());
    std::printf("batches  %lld done, %zu running, %lld pending (%lld ready, %lld waiting for "
                "dependencies), %zu failed, %lld blocked by failures\n",
                (long long)n_done, running.size(), (long long)(n_ready + n_waiting),
                (long long)n_ready, (long long)n_waiting, failed_lines.size(),
                (long long)n_blocked);
    if (!running.empty()) std::printf("running:\n");
    for (auto& l : running) std::printf("%s\n", l.c_str());
    if (!stale.empty()) std::printf("stale leases (workers presumed dead):\n");
    for (auto& l : stale) std::printf("%s\n", l.c_str());
    if (!failed_lines.empty()) std::printf("failed:\n");
    for (auto& l : failed_lines) std::printf("%s\n", l.c_str());
    if (!damaged.empty())
      std::printf(
          "damaged unit files (not done; the next run or merge moves them to "
          "quarantine/):\n");
    for (auto& l : damaged) std::printf("%s\n", l.c_str());
    if (!pending_lines.empty()) std::printf("pending:\n");
    for (auto& l : pending_lines) std::printf("%s\n", l.c_str());
    if (a->check) return units_done == int64_t(plan.units.size()) ? 0 : 1;
    return 0;
  };
});
