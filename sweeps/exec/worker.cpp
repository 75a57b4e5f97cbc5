#include "sweeps/exec/worker.h"

#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>

namespace moe::sweeps {

BatchOutcome run_batch(UnitRunner& runner, const RunnerContext& ctx, int group,
                       const StopFlag& stop, const std::string& owner) {
  const Plan& plan = *ctx.plan;
  const Group& g = plan.groups[group];
  BatchOutcome out;
  try {
    std::vector<results::UnitResult> rs = runner.run(g, stop);
    if (ctx.replica.rank != 0) return out;
    if (rs.size() != g.units.size())
      throw InternalError(fmt::format("runner {} returned {} results for the {} units of batch {}",
                                      runner.name(), rs.size(), g.units.size(), g.id));
    for (size_t i = 0; i < g.units.size(); ++i) {
      const Unit& u = plan.units[g.units[i]];
      if (ctx.store->done(u.id)) continue;  // committed by a worker presumed dead: same content
      results::UnitMeta meta;
      meta.unit = u.id;
      meta.kind = unit_kind_name(u.kind);
      meta.labels = unit_labels(*ctx.config, plan, u);
      meta.runner = runner.name();
      ctx.store->commit(std::move(meta), rs[i], owner);
    }
  } catch (const Cancelled&) {
    out.outcome = Coordinator::Outcome::kAbandoned;
    out.error = "abandoned";
  } catch (const std::exception& e) {
    out.outcome = Coordinator::Outcome::kFailed;
    out.error = e.what();
  }
  return out;
}

Periodic::Periodic(double period_s, std::function<void()> fn) {
  thread_ = std::thread([this, period_s, fn = std::move(fn)] {
    std::unique_lock<std::mutex> lock(mu_);
    const auto period = std::chrono::duration<double>(period_s);
    while (!cv_.wait_for(lock, period, [this] { return stop_; })) {
      lock.unlock();
      try {
        fn();
      } catch (const std::exception& e) {
        spdlog::warn("background task failed: {}", e.what());
      }
      lock.lock();
    }
  });
}

Periodic::~Periodic() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::string format_duration(double s) {
  if (s < 0) return "?";
  const int64_t t = int64_t(s + 0.5);
  if (t >= 3600) return fmt::format("{}h{:02d}m", t / 3600, (t % 3600) / 60);
  if (t >= 60) return fmt::format("{}m{:02d}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

ProgressOutput::ProgressOutput() : tty_(::isatty(STDERR_FILENO) == 1) {}

ProgressOutput::~ProgressOutput() { finish(); }

void ProgressOutput::draw(const Progress& p) {
  const int width = 30;
  const double frac = p.units_total ? double(p.units_done) / double(p.units_total) : 1.0;
  const int fill = int(frac * width);
  std::string bar(size_t(fill), '=');
  if (fill < width) bar += '>';
  bar.resize(width, ' ');
  std::fprintf(stderr, "\r[%s] %lld/%lld units %3d%% | running %lld | failed %lld | ETA %s  ",
               bar.c_str(), (long long)p.units_done, (long long)p.units_total, int(frac * 100),
               (long long)p.batches_running, (long long)p.batches_failed,
               format_duration(p.eta_s).c_str());
  std::fflush(stderr);
  drawn_ = true;
  last_draw_ = std::chrono::steady_clock::now();
}

void ProgressOutput::event(const std::string& line, const Progress& p) {
  std::lock_guard<std::mutex> lock(mu_);
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s\n", line.c_str());
    draw(p);
  } else {
    spdlog::info("{} | {}/{} units, ETA {}", line, p.units_done, p.units_total,
                 format_duration(p.eta_s));
  }
}

void ProgressOutput::tick(const Progress& p) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!tty_) return;
  if (std::chrono::steady_clock::now() - last_draw_ < std::chrono::milliseconds(250)) return;
  draw(p);
}

void ProgressOutput::finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (tty_ && drawn_) std::fprintf(stderr, "\n");
  drawn_ = false;
}

}  // namespace moe::sweeps
