#include "sweeps/exec/coordinator.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "runtime/core/error.h"

namespace moe::sweeps {

Coordinator::Coordinator(const Plan& plan, const results::Store& store, results::Leases& leases,
                         double poll_s)
    : plan_(plan), store_(store), leases_(leases), poll_s_(poll_s) {
  unit_done_.assign(plan.units.size(), 0);
  unit_group_.assign(plan.units.size(), -1);
  for (size_t g = 0; g < plan.groups.size(); ++g)
    for (int u : plan.groups[g].units) unit_group_[u] = int(g);
  std::lock_guard<std::mutex> lock(mu_);
  refresh_locked();
  for (char d : unit_done_) units_done_at_start_ += d;
  // The lease files of finished batches whose worker was killed before removing them.
  std::set<std::string> done;
  for (size_t g = 0; g < plan.groups.size(); ++g)
    if (group_done(int(g))) done.insert(plan.groups[g].id);
  leases_.clean(done);
  start_ = std::chrono::steady_clock::now();
}

void Coordinator::refresh_locked() {
  const std::set<std::string> done = store_.done_units();
  for (size_t u = 0; u < plan_.units.size(); ++u) unit_done_[u] = done.count(plan_.units[u].id);
  failed_.clear();
  for (const auto& [batch, f] : store_.failed()) failed_.insert(batch);
  other_live_.clear();
  for (const auto& l : leases_.list(true))
    if (!leases_.holds(l.name)) other_live_.insert(l.name);
  last_refresh_ = std::chrono::steady_clock::now();
}

void Coordinator::refresh() {
  std::lock_guard<std::mutex> lock(mu_);
  refresh_locked();
}

bool Coordinator::group_done(int g) const {
  for (int u : plan_.groups[g].units)
    if (!unit_done_[u]) return false;
  return true;
}

bool Coordinator::deps_done(int g) const {
  for (int u : plan_.groups[g].deps)
    if (!unit_done_[u]) return false;
  return true;
}

bool Coordinator::deps_failed(int g) const {
  for (int u : plan_.groups[g].deps) {
    if (unit_done_[u]) continue;
    const int dg = unit_group_[u];
    if (failed_.count(plan_.groups[dg].id) || deps_failed(dg)) return true;
  }
  return false;
}

Coordinator::Next Coordinator::next(int model, int* group) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_refresh_).count() >= poll_s_) refresh_locked();
  bool wait = false;
  for (int pass = model >= 0 ? 0 : 1; pass < 2; ++pass) {
    for (size_t gi = 0; gi < plan_.groups.size(); ++gi) {
      const int g = int(gi);
      const Group& grp = plan_.groups[g];
      if (running_.count(g) || group_done(g) || failed_.count(grp.id) || deps_failed(g)) continue;
      if (!deps_done(g)) {
        wait = true;
        continue;
      }
      if (pass == 0 && grp.model != model && grp.model != -1) continue;
      if (other_live_.count(grp.id)) continue;
      if (!leases_.acquire(grp.id)) {
        other_live_.insert(grp.id);
        continue;
      }
      // Someone may have finished it between our last scan and the lease.
      for (int u : grp.units) unit_done_[u] = store_.done(plan_.units[u].id);
      if (group_done(g)) {
        leases_.remove_all(grp.id);
        continue;
      }
      std::vector<int>& todo = running_[g];
      for (int u : grp.units)
        if (!unit_done_[u]) todo.push_back(u);
      *group = g;
      return Next::kBatch;
    }
  }
  if (wait || !running_.empty()) return Next::kWait;
  // Left: batches others hold. Wait only for leases that may expire (holders that died).
  for (size_t g = 0; g < plan_.groups.size(); ++g) {
    const Group& grp = plan_.groups[g];
    if (group_done(int(g)) || failed_.count(grp.id) || deps_failed(int(g))) continue;
    if (!other_live_.count(grp.id)) return Next::kWait;
  }
  return Next::kDone;
}

void Coordinator::finished(int g, Outcome outcome, const std::string& error) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::vector<int> todo = running_.count(g) ? running_[g] : std::vector<int>{};
  running_.erase(g);
  const Group& grp = plan_.groups[g];
  switch (outcome) {
    case Outcome::kDone:
      for (int u : grp.units) unit_done_[u] = 1;
      for (int u : todo) {  // units committed by this batch (not before it ran)
        ++done_here_;
        tokens_here_ += plan_.units[u].est_tokens;
      }
      leases_.remove_all(grp.id);
      break;
    case Outcome::kFailed:
      // The batch's own error comes first: recording it may fail for the same reason (a full
      // disk), and that second error alone would hide the first.
      try {
        store_.mark_failed(grp.id, error, leases_.owner());
      } catch (const std::exception& e) {
        leases_.release(grp.id);
        throw Error(fmt::format("batch {} failed: {} (and recording the failure failed: {})",
                                grp.id, error, e.what()));
      }
      failed_.insert(grp.id);
      ++failed_here_;
      leases_.release(grp.id);
      break;
    case Outcome::kAbandoned:
      leases_.release(grp.id);
      break;
  }
}

void Coordinator::heartbeat() {
  for (const auto& name : leases_.heartbeat())
    spdlog::warn("lease of batch {} was taken over by another worker (this worker was presumed "
                 "dead); its result will still be committed atomically",
                 name);
}

Progress Coordinator::progress() const {
  std::lock_guard<std::mutex> lock(mu_);
  Progress p;
  p.units_total = int64_t(plan_.units.size());
  int64_t tokens_left = 0;
  for (size_t u = 0; u < plan_.units.size(); ++u) {
    p.tokens_total += plan_.units[u].est_tokens;
    if (unit_done_[u]) ++p.units_done;
    else tokens_left += plan_.units[u].est_tokens;
  }
  p.units_done_here = done_here_;
  p.tokens_done_here = tokens_here_;
  p.batches_running = int64_t(running_.size());
  p.batches_failed = int64_t(failed_.size());
  p.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (tokens_here_ > 0 && p.elapsed_s > 0)
    p.eta_s = double(tokens_left) / (double(tokens_here_) / p.elapsed_s);
  else if (p.units_done == p.units_total)
    p.eta_s = 0;
  return p;
}

bool Coordinator::complete() const {
  std::lock_guard<std::mutex> lock(mu_);
  for (char d : unit_done_)
    if (!d) return false;
  return true;
}

int64_t Coordinator::failed_here() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_here_;
}

}  // namespace moe::sweeps
