// routing_stats_overhead: what the routing statistics collector costs during a corpus prefill.
//
// Prefills the same prompts through the engine without hooks (the reference) and with one
// RoutingStatsCollector per importance variant, alternating the runs (--reps of each) so that
// load on the machine affects both alike, and prints the median seconds of each and the
// collector's overhead relative to the forward pass, two ways: from the separate run times, and
// from the time spent inside the collector within one run (the second is not disturbed by other
// processes' load). With MODEL_DIR it loads that checkpoint (a
// made one: `moe-sweep make-model`); without, it builds a random qwen3_moe-layout model in memory
// with the dimensions given by the flags.
//
// Usage: routing_stats_overhead [MODEL_DIR] [--prompts 64] [--len 128] [--reps 5]
//        [--hidden 512] [--experts 64] [--top-k 8] [--layers 4] [--moe-inter 256]
//        [--backend cpu] [--threads 0]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/machine_figures.h"
#include "runtime/core/error.h"
#include "runtime/core/heap.h"
#include "runtime/engine/engine.h"
#include "runtime/models/model.h"
#include "runtime/routing/statistics.h"
#include "tests/unit/models/tiny_model.h"

namespace {

using moe::bench::median;

// Forwards to a hook and adds up the wall time spent inside it.
class TimedHook : public moe::RouterHook {
 public:
  explicit TimedHook(moe::RouterHook& inner) : inner_(inner) {}
  void on_logits(const moe::RouterContext& ctx, moe::Tensor& logits) override {
    const auto t0 = std::chrono::steady_clock::now();
    inner_.on_logits(ctx, logits);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  void on_routed(const moe::RouterContext& ctx, const moe::Tensor& logits,
                 const moe::Tensor& experts, const moe::Tensor& weights) override {
    const auto t0 = std::chrono::steady_clock::now();
    inner_.on_routed(ctx, logits, experts, weights);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  double seconds = 0;

 private:
  moe::RouterHook& inner_;
};

}  // namespace

int main(int argc, char** argv) {
  moe::keep_freed_heap_memory();  // as moe-sweep does (runtime/core/heap.h)
  std::string model_dir, backend = "cpu";
  int prompts = 64, len = 128, reps = 5, threads = 0;
  moe::testing::TinySpec spec;
  spec.hidden = 512;
  spec.heads = 8;
  spec.kv_heads = 4;
  spec.head_dim = 64;
  spec.vocab = 4096;
  spec.experts = 64;
  spec.top_k = 8;
  spec.layers = 4;
  spec.moe_inter = 256;
  spec.dense_inter = 1024;
  spec.dense_first_layer = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] {
      if (i + 1 >= argc) {
        fmt::print(stderr, "routing_stats_overhead: {} needs a value\n", a);
        std::exit(2);
      }
      return std::atoi(argv[++i]);
    };
    if (a == "--prompts") prompts = next();
    else if (a == "--len") len = next();
    else if (a == "--reps") reps = next();
    else if (a == "--hidden") spec.hidden = next();
    else if (a == "--experts") spec.experts = next();
    else if (a == "--top-k") spec.top_k = next();
    else if (a == "--layers") spec.layers = next();
    else if (a == "--moe-inter") spec.moe_inter = next();
    else if (a == "--threads") threads = next();
    else if (a == "--backend" && i + 1 < argc) backend = argv[++i];
    else if (a.rfind("--", 0) != 0) model_dir = a;
    else {
      fmt::print(stderr, "routing_stats_overhead: unknown option {}\n", a);
      return 2;
    }
  }
  moe::ModelLoadOptions lo;
  lo.backend.name = backend;
  lo.backend.threads = threads;
  std::shared_ptr<moe::Model> model;
  std::string what;
  if (!model_dir.empty()) {
    try {
      model = moe::load_model(model_dir, lo);
    } catch (const moe::Error& e) {
      fmt::print(stderr, "routing_stats_overhead: {}\n", e.what());
      return 1;
    }
    const auto& c = model->config();
    what = fmt::format("{} ({}) H={} E={} k={} layers={} I={}", model_dir,
                       moe::io::family_name(c.family), c.hidden_size, c.num_experts, c.top_k,
                       c.num_layers, c.moe_intermediate_size);
  } else {
    spec.head_dim = spec.hidden / spec.heads;
    model = moe::build_model(moe::testing::tiny_config(spec), moe::testing::tiny_weights(spec), lo);
    what = fmt::format("in-memory qwen3_moe layout H={} E={} k={} layers={} I={}", spec.hidden,
                       spec.experts, spec.top_k, spec.layers, spec.moe_inter);
  }
  const auto& cfg = model->config();
  std::vector<moe::PrefillRequest> reqs;
  for (int i = 0; i < prompts; ++i)
    reqs.push_back({moe::testing::tiny_prompt(len, i, int(cfg.vocab_size)), uint64_t(i)});
  moe::Engine engine(model, moe::TextDecoder{});
  const int L = model->num_moe_layers();

  using Clock = std::chrono::steady_clock;
  auto run = [&](moe::RouterHook* hook) {
    std::vector<moe::RouterHook*> hooks;
    if (hook) hooks.push_back(hook);
    const auto t0 = Clock::now();
    engine.prefill(reqs, hooks);
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  const moe::routing::Importance variants[] = {moe::routing::Importance::kTopkRenorm,
                                               moe::routing::Importance::kRouterWeights,
                                               moe::routing::Importance::kSoftmax};
  std::vector<double> base;
  std::vector<std::vector<double>> with(3), inside(3);
  run(nullptr);  // warm-up
  for (int r = 0; r < reps; ++r) {
    base.push_back(run(nullptr));
    for (int v = 0; v < 3; ++v) {
      moe::routing::CollectorOptions o;
      o.importance = variants[v];
      moe::routing::RoutingStatsCollector c(L, cfg.num_experts, cfg.top_k, o);
      std::vector<moe::routing::CollectedSequence> seqs;
      for (const auto& q : reqs) {
        moe::routing::CollectedSequence s;
        s.tag = q.tag;
        s.num_tokens = int64_t(q.tokens.size());
        s.pair_stream = q.tag;
        seqs.push_back(s);
      }
      c.add(seqs);
      TimedHook timed(c);
      double t = run(&timed);
      const auto t1 = Clock::now();
      c.finish();  // the per-sequence means, pooled counts and the remaining pair Jaccards
      const double fin = std::chrono::duration<double>(Clock::now() - t1).count();
      with[size_t(v)].push_back(t + fin);
      inside[size_t(v)].push_back((timed.seconds + fin) / (t - timed.seconds));
    }
  }
  const double b = median(base);
  const double tokens = double(prompts) * len;
  fmt::print("model: {} ({} MoE layers, backend {})\n", what, L, model->backend().name());
  fmt::print("prefill of {} prompts x {} tokens, median of {} alternating runs\n", prompts, len,
             reps);
  fmt::print("overhead A: (run time with the collector - without) / without, separate runs\n");
  fmt::print("overhead B: time inside the collector (hook calls + finish) / the rest of the same "
             "run (robust to load from other processes)\n");
  fmt::print("{:<34} {:>9} {:>12} {:>11} {:>11}\n", "run", "seconds", "tokens/s", "overhead A",
             "overhead B");
  fmt::print("{:<34} {:>9.4f} {:>12.0f} {:>11} {:>11}\n", "no hooks (reference)", b, tokens / b,
             "-", "-");
  for (int v = 0; v < 3; ++v) {
    const double t = median(with[size_t(v)]);
    fmt::print("{:<34} {:>9.4f} {:>12.0f} {:>10.2f}% {:>10.2f}%\n",
               fmt::format("collector importance={}", moe::routing::importance_name(variants[v])),
               t, tokens / t, 100.0 * (t - b) / b, 100.0 * median(inside[size_t(v)]));
  }
  return 0;
}
