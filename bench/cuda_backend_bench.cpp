// cuda_backend_bench: GPU timings of the CUDA backend's main ops on one layer shaped like
// Qwen3-30B-A3B (hidden 2048, 32 query / 4 KV heads of 128, 128 experts, top-8, expert
// intermediate 768; random bf16 weights made in memory) at batch 1, 16 and 64:
//   q_proj linear [4096, 2048], the MoE experts (routing + grouped expert GEMMs + combine), and
//   decode attention of every sequence over a bf16 cache of --context tokens.
// Each op's bytes (weights read once, cache read once) over its time gives GB/s, printed next
// to the device's streaming bandwidth measured in the same run with the backend's own `add`
// (reads two f32 arrays, writes one) over 3 x 256 MiB: the bandwidth bound an op can approach.
// Without a usable GPU it prints why and exits 0 (nothing to time).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <random>
#include <vector>

#include "runtime/backend/cuda/cuda_backend.h"
#include "runtime/backend/kv_cache.h"
#include "runtime/core/dtype.h"

namespace {

using namespace moe;
using Clock = std::chrono::steady_clock;

Tensor random_bf16(std::mt19937_64& g, Shape s, float std) {
  Tensor t = Tensor::empty(DType::BF16, std::move(s));
  std::normal_distribution<float> n(0.0f, std);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<uint16_t>()[i] = f32_to_bf16(n(g));
  return t;
}
Tensor random_f32(std::mt19937_64& g, Shape s, float std) {
  Tensor t = Tensor::empty(DType::F32, std::move(s));
  std::normal_distribution<float> n(0.0f, std);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = n(g);
  return t;
}

// Seconds per call of fn (after one warm-up call), synchronised through to_host of `sync`.
template <class Fn>
double time_op(Backend& be, const Tensor& sync, int iters, const Fn& fn) {
  fn();
  be.to_host(sync);
  const auto t0 = Clock::now();
  for (int i = 0; i < iters; ++i) fn();
  be.to_host(sync);
  return std::chrono::duration<double>(Clock::now() - t0).count() / iters;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"CUDA backend op timings (Qwen3-30B-A3B-shaped layer)"};
  int iters = 20;
  int64_t context = 2048;
  app.add_option("--iters", iters, "timed calls per op")->check(CLI::PositiveNumber);
  app.add_option("--context", context, "cached tokens per sequence for decode attention")
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  std::string why;
  if (cuda_device_count(&why) == 0) {
    fmt::print("cuda_backend_bench: skipped, CUDA backend not available: {}\n", why);
    return 0;
  }
  BackendOptions bo;
  bo.name = "cuda";
  const std::shared_ptr<Backend> be = make_backend(bo);
  std::mt19937_64 g(42);
  const int64_t H = 2048, I = 768, E = 128, k = 8, nh = 32, nkv = 4, d = 128;

  // Reference: streaming bandwidth of the device through add (3 arrays of 256 MiB).
  const int64_t n = int64_t(64) << 20;
  Tensor a = be->alloc(DType::F32, {n}), b = be->alloc(DType::F32, {n});
  be->clamp(a, 0.0f);  // defined contents: clamp to [-0, 0] turns anything (NaN too) into 0
  be->clamp(b, 0.0f);
  const Tensor one = a.slice_rows(0, 1);
  const double t_add = time_op(*be, one, iters, [&] { be->add(a, b); });
  const double bw = 3.0 * double(n) * 4 / t_add / 1e9;
  fmt::print("device streaming bandwidth (add, 3 x 256 MiB): {:.0f} GB/s\n", bw);

  const Tensor wq = be->prepare_weight(random_bf16(g, {nh * d, H}, 0.02f), WeightUse::kProduct);
  ExpertWeights ew;
  ew.hidden = int(H);
  ew.intermediate = int(I);
  for (int64_t e = 0; e < E; ++e) {
    ew.gate.push_back(be->prepare_weight(random_bf16(g, {I, H}, 0.02f), WeightUse::kProduct));
    ew.up.push_back(be->prepare_weight(random_bf16(g, {I, H}, 0.02f), WeightUse::kProduct));
    ew.down.push_back(be->prepare_weight(random_bf16(g, {H, I}, 0.03f), WeightUse::kProduct));
  }
  const Tensor router = be->prepare_weight(random_bf16(g, {E, H}, 0.05f), WeightUse::kProduct);
  routing::RoutingSpec rs;
  rs.num_experts = int(E);
  rs.top_k = int(k);

  fmt::print("{:>6} {:>24} {:>12} {:>10} {:>14}\n", "batch", "op", "time (us)", "GB/s",
             "% of bound");
  const auto report = [&](int64_t T, const char* op, double t, double bytes) {
    const double gbs = bytes / t / 1e9;
    fmt::print("{:>6} {:>24} {:>12.1f} {:>10.1f} {:>13.1f}%\n", T, op, t * 1e6, gbs,
               100.0 * gbs / bw);
  };
  for (int64_t T : {1, 16, 64}) {
    const Tensor x = be->from_host(random_f32(g, {T, H}, 1.0f));
    Tensor q = be->alloc(DType::F32, {T, nh * d});
    const double t_lin = time_op(*be, q.slice_rows(0, 1), iters, [&] { be->linear(x, wq, nullptr, q); });
    report(T, "q_proj linear", t_lin, double(wq.nbytes()));

    Tensor logits = be->alloc(DType::F32, {T, E}), sel = be->alloc(DType::I32, {T, k}),
           w = be->alloc(DType::F32, {T, k}), y = be->alloc(DType::F32, {T, H});
    be->linear(x, router, nullptr, logits);
    be->route(logits, rs, sel, w);
    const Tensor hs = be->to_host(sel);
    std::vector<int32_t> used(hs.data<int32_t>(), hs.data<int32_t>() + T * k);
    std::sort(used.begin(), used.end());
    const double distinct = double(std::unique(used.begin(), used.end()) - used.begin());
    const double t_moe = time_op(*be, y.slice_rows(0, 1), iters, [&] {
      be->linear(x, router, nullptr, logits);
      be->route(logits, rs, sel, w);
      be->moe_experts(x, sel, w, ew, y);
    });
    report(T, fmt::format("MoE ({:.0f} experts)", distinct).c_str(), t_moe,
           distinct * 3.0 * double(H * I) * 2 + double(router.nbytes()));

    KvCacheSpec ks;
    ks.num_layers = 1;
    ks.num_kv_heads = int(nkv);
    ks.head_dim = int(d);
    ks.dtype = DType::BF16;
    ks.max_seqs = int(T);
    ks.max_tokens = T * (context + 1);
    KvCache cache(*be, ks);
    // Every sequence's cache holds the same random keys/values (stored one sequence at a time).
    const Tensor kv = be->from_host(random_f32(g, {context, nkv, d}, 1.0f));
    std::vector<AttentionSeq> seqs;
    for (int s = 0; s < int(T); ++s) {
      cache.reserve(s, context);
      const AttentionSeq fill{0, int32_t(context), context, cache.blocks(s).data()};
      be->kv_store(kv, kv, std::span<const AttentionSeq>(&fill, 1), cache.layer(0));
      cache.set_length(s, context);
      seqs.push_back({s, 1, context, cache.blocks(s).data()});
    }
    const Tensor qd = be->from_host(random_f32(g, {T, nh, d}, 1.0f));
    Tensor o = be->alloc(DType::F32, {T, nh, d});
    AttentionArgs args;
    args.scale = 1.0f / std::sqrt(float(d));
    const double t_att = time_op(*be, o.slice_rows(0, 1), iters,
                                 [&] { be->attention(qd, cache.layer(0), seqs, args, o); });
    report(T, "decode attention", t_att, double(T) * double(context) * double(nkv * d) * 2 * 2);
  }
  return 0;
}
