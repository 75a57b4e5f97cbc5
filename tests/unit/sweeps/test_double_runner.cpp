#include "test_double_runner.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "results/routing_units.h"
#include "results/store.h"
#include "sweeps/phases/experts_phase.h"

namespace moe::sweeps::testing {
namespace {

using results::Table;
using results::UnitResult;

uint64_t mix(uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t hash(const std::string& s, uint64_t a = 0, uint64_t b = 0, uint64_t c = 0) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
  return mix(mix(mix(h ^ a) ^ b) ^ c);
}

double unit01(uint64_t h) { return double(h >> 11) * 0x1.0p-53; }

class TestDoubleRunner : public UnitRunner {
 public:
  explicit TestDoubleRunner(const RunnerContext& ctx) : ctx_(ctx) {
    if (const char* d = std::getenv("MOE_TEST_DOUBLE_DELAY_MS")) delay_ms_ = std::atoi(d);
    if (const char* f = std::getenv("MOE_TEST_DOUBLE_FAIL_LANGUAGE")) fail_language_ = f;
  }
  std::string name() const override { return "test-double"; }

  std::vector<UnitResult> run(const Group& group, const StopFlag& stop) override {
    std::vector<UnitResult> out;
    for (int ui : group.units) {
      const Unit& u = ctx_.plan->units[ui];
      switch (u.kind) {
        case UnitKind::kStats: out.push_back(stats(u, stop)); break;
        case UnitKind::kExperts: out.push_back(experts(u)); break;
        case UnitKind::kEval: out.push_back(eval(u, stop)); break;
      }
    }
    if (ctx_.replica.rank != 0) return {};
    return out;
  }

 private:
  void pace(const StopFlag& stop) const {
    if (stop.abandon()) throw Cancelled();
    if (delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
  }

  // Pseudo-random but well-formed routing statistics: each token of sequence i picks k experts
  // per layer from a hash, so frequencies, counts and importance agree with each other.
  UnitResult stats(const Unit& u, const StopFlag& stop) const {
    const StatsSpec& spec = ctx_.plan->stats[u.stats];
    const int L = kDoubleLayers, E = kDoubleExperts, k = kDoubleTopK;
    const int N = int(u.end - u.begin);
    results::RoutingStats s;
    s.num_seqs = N;
    s.num_layers = L;
    s.num_experts = E;
    s.top_k = k;
    for (int l = 0; l < L; ++l) s.layers.push_back(l);
    s.importance_q.assign(size_t(N) * L * E, 0.f);
    s.frequency.assign(size_t(N) * L * E, 0.f);
    s.entropy.assign(size_t(N) * L, 0.f);
    s.importance_entropy.assign(size_t(N) * L, 0.f);
    s.consistency.assign(size_t(N) * L, 0.f);
    s.activation_tokens.assign(size_t(L) * E, 0);
    s.total_tokens.assign(size_t(L), 0);
    for (int i = 0; i < N; ++i) {
      pace(stop);
      const uint64_t seq = uint64_t(u.begin + i);
      const int64_t T = 5 + int64_t(hash(spec.id, seq) % 20);
      s.counted_tokens.push_back(T);
      for (int l = 0; l < L; ++l) {
        for (int64_t t = 0; t < T; ++t) {
          // k distinct experts, skewed towards low ids for this corpus/language
          const int e0 = int(hash(spec.id, seq, uint64_t(l), uint64_t(t)) % (E / 2));
          const int e1 = (e0 + 1 + int(hash(spec.id, seq, uint64_t(t), 7) % (E - 1))) % E;
          for (int e : {e0, e1}) {
            s.frequency[(size_t(i) * L + l) * E + e] += 1.f / float(T);
            s.importance_q[(size_t(i) * L + l) * E + e] += 0.5f / float(T);
            s.activation_tokens[size_t(l) * E + e] += 1;
          }
        }
        s.total_tokens[size_t(l)] += T;
        s.entropy[size_t(i) * L + l] = float(unit01(hash(spec.id, seq, uint64_t(l), 99)));
        s.importance_entropy[size_t(i) * L + l] = float(unit01(hash(spec.id, seq, uint64_t(l), 98)));
        s.consistency[size_t(i) * L + l] = float(unit01(hash(spec.id, seq, uint64_t(l), 97)));
      }
    }
    UnitResult r = results::routing_stats_to_unit(s);
    r.notes["source"] = "test double: pseudo-random routing statistics";
    return r;
  }

  // Expert identification needs no model: the real phase runs on the double's statistics.
  UnitResult experts(const Unit& u) const { return run_expert_identification(ctx_, u); }

  UnitResult eval(const Unit& u, const StopFlag& stop) const {
    const Point& p = ctx_.plan->points[u.point];
    const TaskSpec& task = ctx_.config->tasks[u.task];
    if (!fail_language_.empty() && u.language == fail_language_)
      throw InputError(fmt::format("{}: language {} samples [{}, {})", task.path.string(),
                                   u.language, u.begin, u.end),
                       "test double: injected failure");
    double effect = 0;
    if (!p.is_baseline()) {
      const UnitResult set = load_expert_set(ctx_, p.expert_set);
      const auto& layers = set.tables.at("experts").get<int64_t>("layer");
      int64_t in_window = 0;
      for (int64_t l : layers) in_window += l >= p.layers.start && l <= p.layers.end;
      effect = 0.02 * double(in_window % 5) - 0.03 + 0.05 * p.lambda.value_or(0.0);
    }
    UnitResult r;
    Table& t = r.tables["samples"];
    auto& sample = t.col<int64_t>("sample");
    auto& gold = t.col<std::string>("gold");
    auto& pred = t.col<std::string>("prediction");
    auto& correct = t.col<int64_t>("correct");
    auto& score = t.col<double>("score");
    for (int64_t i = u.begin; i < u.end; ++i) {
      pace(stop);
      const double x = unit01(hash(task.name + "/" + u.language, uint64_t(i)));
      const bool ok = x < 0.6 + effect;
      sample.push_back(i);
      gold.push_back(fmt::format("{}", i % 97));
      pred.push_back(ok ? gold.back() : fmt::format("{}", (i + 1) % 97));
      correct.push_back(ok);
      score.push_back(ok ? 1.0 : 0.0);
    }
    r.notes["source"] = "test double: deterministic pseudo-random outcomes";
    return r;
  }

  RunnerContext ctx_;
  int delay_ms_ = 0;
  std::string fail_language_;
};

}  // namespace

std::unique_ptr<UnitRunner> make_test_double_runner(const RunnerContext& ctx) {
  return std::make_unique<TestDoubleRunner>(ctx);
}

}  // namespace moe::sweeps::testing
