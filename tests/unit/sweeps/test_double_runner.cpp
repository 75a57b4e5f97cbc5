#include "test_double_runner.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "results/store.h"

namespace moe::sweeps::testing {
namespace {

using results::Array;
using results::Combine;
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

  UnitResult stats(const Unit& u, const StopFlag& stop) const {
    const StatsSpec& s = ctx_.plan->stats[u.stats];
    const uint64_t L = kDoubleLayers, E = kDoubleExperts, N = uint64_t(u.end - u.begin);
    std::vector<int64_t> counts(L * E, 0), tokens(L, 0);
    std::vector<float> freq(N * L * E), importance(N * L * E), entropy(N * L), consistency(N);
    for (uint64_t i = 0; i < N; ++i) {
      pace(stop);
      const uint64_t seq = uint64_t(u.begin) + i;
      const int64_t T = 5 + int64_t(hash(s.id, seq) % 20);
      for (uint64_t l = 0; l < L; ++l) {
        double sum = 0;
        for (uint64_t e = 0; e < E; ++e) {
          const double w = unit01(hash(s.id, seq, l, e));
          importance[(i * L + l) * E + e] = float(w);
          sum += w;
          const int64_t n = int64_t(w * double(T));
          counts[l * E + e] += n;
          freq[(i * L + l) * E + e] = float(double(n) / double(T));
        }
        for (uint64_t e = 0; e < E; ++e) importance[(i * L + l) * E + e] /= float(sum);
        entropy[i * L + l] = float(unit01(hash(s.id, seq, l, 99)));
        tokens[l] += T;
      }
      consistency[i] = float(unit01(hash(s.id, seq, 7, 7)));
    }
    UnitResult r;
    r.arrays["activation_counts"] = {{L, E}, counts, Combine::kSum};
    r.arrays["total_tokens"] = {{L}, tokens, Combine::kSum};
    r.arrays["activation_freq"] = {{N, L, E}, freq, Combine::kConcat};
    r.arrays["importance"] = {{N, L, E}, importance, Combine::kConcat};
    r.arrays["entropy"] = {{N, L}, entropy, Combine::kConcat};
    r.arrays["consistency"] = {{N}, consistency, Combine::kConcat};
    r.notes["source"] = "test double: pseudo-random routing statistics";
    return r;
  }

  // Pooled activation frequency [L, E] of one statistics entry, read from the store.
  std::vector<double> frequencies(int stats) const {
    const UnitResult st = load_stats(ctx_, stats);
    const auto& c = std::get<std::vector<int64_t>>(st.arrays.at("activation_counts").values);
    const auto& t = std::get<std::vector<int64_t>>(st.arrays.at("total_tokens").values);
    std::vector<double> f(c.size());
    for (size_t i = 0; i < c.size(); ++i) f[i] = double(c[i]) / double(t[i / kDoubleExperts]);
    return f;
  }

  UnitResult experts(const Unit& u) const {
    const ExpertSetSpec& x = ctx_.plan->expert_sets[u.expert_set];
    // Delta between the first and the last statistics the set uses (target vs reference).
    const std::vector<double> a = frequencies(x.stats.front());
    const std::vector<double> b = frequencies(x.stats.back());
    const double threshold = x.tau.value_or(x.thr.value_or(0.0)) * 0.1;
    UnitResult r;
    Table& t = r.tables["experts"];
    auto& layer = t.col<int64_t>("layer");
    auto& expert = t.col<int64_t>("expert");
    auto& score = t.col<double>("score");
    for (int l = 0; l < kDoubleLayers; ++l)
      for (int e = 0; e < kDoubleExperts; ++e) {
        const double d = a[l * kDoubleExperts + e] - b[l * kDoubleExperts + e];
        if (d > threshold) {
          layer.push_back(l);
          expert.push_back(e);
          score.push_back(d);
        }
      }
    r.notes["source"] = "test double: threshold on pseudo-random frequency differences";
    return r;
  }

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
