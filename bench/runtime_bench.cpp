// runtime_bench: prefill and decode throughput of the CPU runtime on a checkpoint, next to the
// machine's bf16 GEMM peak (oneDNN) and memory read bandwidth measured in the same run, the
// bounds they put on this model's throughput, and (with --reference) the figures of Hugging Face
// transformers on the same weights (bench/hf_reference.py's JSON, measured by the caller in the
// same run: bench/run_runtime_bench.sh does both).
//
// Protocol (the same as hf_reference.py's, so the figures compare):
//   prefill: --prefill-seqs sequences of --prefill-len seeded random token ids in one forward
//            step (no padding), next-token logits of each sequence's last position only; one
//            untimed pass of the same batch first (oneDNN primitives, first touch of the mapped
//            weights), then --repeats timed passes (median).
//   decode:  for each batch size B, an untimed prefill of --decode-prompt-len tokens per
//            sequence, then --warmup untimed and --decode-steps timed greedy steps (one token per
//            sequence per step through the KV cache, logits of that token, argmax on the host).
// Steps go straight through Model::forward (what the engine calls once per step), so the figures
// are the model's forward pass, without the engine's scheduling.
//
// Bounds (for bf16 or f32 checkpoints; MXFP4 experts are not accounted for):
//   prefill tokens/s <= GEMM peak / FLOPs per token (2 x active weights per token + causal
//            attention + the last-position logits), i.e. the model at the measured GEMM peak.
//            The peak is measured again right before each timed prefill pass, and each pass is
//            held against its own; "of bound" is the median of those fractions;
//   decode tokens/s at batch 1 <= read bandwidth / bytes per step (the weights one token uses:
//            attention, router, top_k experts per MoE layer, lm_head; plus its KV cache). The
//            bandwidth is measured right before each timed batch-1 pass, paired likewise.
// Ceiling: on a CPU with AVX512-BF16 but no AMX, the bf16 dot-product instruction's own peak
//            (vdpbf16ps chains on registers, no memory traffic) bounds any implementation's
//            prefill, transformers' included; the targets say where 3x transformers falls
//            against it.
// At the avx2 and avx512 CPU levels (runtime/core/cpu_isa.h; MOE_CPU_ISA caps it), whose kernels
// widen bf16 to f32 and multiply-add in f32, the prefill bound uses the AVX2 FMA instruction's
// own peak (FMA chains on registers) instead of oneDNN's bf16 GEMM, which has no fast kernel
// there.
// Targets printed: at avx512_bf16 and amx, prefill >= 3x transformers and >= 50% of its bound,
// decode at batch 1 >= 60% of its bound; at avx2 and avx512, prefill >= 3x transformers and >=
// 60% of its bound, decode at batch 1 >= 70% of its bound and at batch 16 >= 3x transformers.
//
// Usage: runtime_bench MODEL_DIR [--backend cpu] [--threads 0] [--reference hf.json]
//        [--prefill-seqs 8] [--prefill-len 512] [--decode-batches 1,16] [--decode-steps 32]
//        [--decode-prompt-len 32] [--warmup 2] [--repeats 1] [--layers-of-full N]
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <immintrin.h>
#include <nlohmann/json.hpp>
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include "bench/machine_figures.h"
#include "runtime/backend/cpu/kernels.h"
#include "runtime/backend/cpu/onednn.h"
#include "runtime/core/error.h"
#include "runtime/core/heap.h"
#include "runtime/engine/sampling.h"
#include "runtime/models/model.h"

namespace {

using namespace moe;
using namespace moe::bench;

// --- machine reference figures ----------------------------------------------------------------

// FLOP/s of oneDNN's bf16 matmul (f32 accumulation) on an n x n x n product, best of `reps`
// after one warm-up call, two ways:
//   as_used: weights [N, K] in place, as the fast backend calls it (cpu::onednn_gemm_bf16);
//   blocked: weights reordered once (untimed) into the layout oneDNN prefers: the machine's peak.
struct GemmPeak {
  double as_used = 0, blocked = 0;
};

GemmPeak gemm_peak_flops(int64_t n, int reps) {
  std::mt19937 g(1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<uint16_t> x(static_cast<size_t>(n * n)), w(static_cast<size_t>(n * n));
  for (auto& v : x) v = f32_to_bf16(u(g));
  for (auto& v : w) v = f32_to_bf16(u(g));
  std::vector<float> y(static_cast<size_t>(n * n));
  const double flops = 2.0 * double(n) * double(n) * double(n);
  auto best_of = [&](const std::function<void()>& fn) {
    double best = 1e30;
    for (int r = 0; r <= reps; ++r) {
      const auto t0 = Clock::now();
      fn();
      if (r > 0) best = std::min(best, seconds_since(t0));
    }
    return flops / best;
  };
  GemmPeak p;
  if (cpu::onednn_gemm_bf16(x.data(), n, n, n, w.data(), n, y.data(), n))
    p.as_used = best_of([&] { cpu::onednn_gemm_bf16(x.data(), n, n, n, w.data(), n, y.data(), n); });
  try {
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    dnnl::stream strm(eng);
    const dnnl::memory::desc src({n, n}, dt::bf16, tag::ab), any({n, n}, dt::bf16, tag::any),
        wsrc({n, n}, dt::bf16, tag::ba), dst({n, n}, dt::f32, tag::ab);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, any, dst), eng);
    dnnl::matmul mm(pd);
    dnnl::memory xm(src, eng, x.data()), wm(wsrc, eng, w.data()), ym(dst, eng, y.data());
    dnnl::memory wb(pd.weights_desc(), eng);
    dnnl::reorder(wm, wb).execute(strm, wm, wb);
    strm.wait();
    p.blocked = best_of([&] {
      mm.execute(strm, {{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wb}, {DNNL_ARG_DST, ym}});
      strm.wait();
    });
  } catch (const dnnl::error&) {
    p.blocked = 0;  // not supported here: the as-used figure stands alone
  }
  return p;
}

// --- the model's work per token ---------------------------------------------------------------

struct ModelWork {
  double dense_params = 0;      // attention (+ dense FFN) weights of every layer
  double router_params = 0;     // router weights of every MoE layer
  double expert_params = 0;     // one expert's gate/up/down weights
  int moe_layers = 0;
  double head_params = 0;       // lm_head
  double attn_flops_coef = 0;   // attention FLOPs = coef x (context length) per token
  double kv_bytes_per_pos = 0;  // KV cache bytes per cached position (all layers)
};

ModelWork model_work(const io::ModelConfig& c, double kv_elem_bytes) {
  ModelWork w;
  const double H = c.hidden_size, q = double(c.num_heads) * c.head_dim,
               kv = double(c.num_kv_heads) * c.head_dim;
  for (int l = 0; l < c.num_layers; ++l) {
    w.dense_params += H * q + 2 * H * kv + q * H;
    if (c.moe_layer[size_t(l)]) {
      ++w.moe_layers;
      w.router_params += double(c.num_experts) * H;
    } else {
      w.dense_params += 3 * H * c.dense_intermediate_size;
    }
    w.attn_flops_coef += 4.0 * q;  // q.k and p.v per cached position
    w.kv_bytes_per_pos += 2 * kv * kv_elem_bytes;
  }
  w.expert_params = 3.0 * H * c.moe_intermediate_size;
  w.head_params = double(c.vocab_size) * H;
  return w;
}

// --- timed runs -------------------------------------------------------------------------------

std::vector<int32_t> random_tokens(std::mt19937_64& g, int64_t vocab, int64_t n) {
  std::uniform_int_distribution<int64_t> u(0, vocab - 1);
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (auto& v : t) v = int32_t(u(g));
  return t;
}

double time_prefill(Model& m, const std::vector<std::vector<int32_t>>& seqs) {
  int64_t total = 0;
  for (const auto& s : seqs) total += int64_t(s.size());
  auto cache = m.make_cache(int(seqs.size()), total);
  ForwardBatch b;
  for (size_t i = 0; i < seqs.size(); ++i)
    b.add(int(i), seqs[i], uint64_t(i), true, ForwardBatch::Logits::kLast);
  Tensor logits;
  const auto t0 = Clock::now();
  m.forward(b, *cache, {}, &logits);
  return seconds_since(t0);
}

// Seconds of `steps` greedy decode steps of B sequences after an untimed prompt and warm-up.
double time_decode(Model& m, std::mt19937_64& g, int B, int prompt_len, int warmup, int steps) {
  const int64_t V = m.config().vocab_size;
  auto cache = m.make_cache(B, int64_t(B) * (prompt_len + warmup + steps + 1));
  ForwardBatch b;
  for (int s = 0; s < B; ++s)
    b.add(s, random_tokens(g, V, prompt_len), uint64_t(s), true, ForwardBatch::Logits::kLast);
  Tensor logits;
  m.forward(b, *cache, {}, &logits);
  auto next = [&] {
    ForwardBatch d;
    for (int s = 0; s < B; ++s) {
      const int32_t tok =
          argmax(std::span<const float>(logits.data<float>() + int64_t(s) * V, size_t(V)));
      d.add(s, std::span<const int32_t>(&tok, 1), uint64_t(s), false, ForwardBatch::Logits::kLast);
    }
    return d;
  };
  for (int i = 0; i < warmup; ++i) m.forward(next(), *cache, {}, &logits);
  const auto t0 = Clock::now();
  for (int i = 0; i < steps; ++i) m.forward(next(), *cache, {}, &logits);
  return seconds_since(t0);
}

const char* verdict(bool met) { return met ? "met" : "MISSED"; }

}  // namespace

int main(int argc, char** argv) try {
  const bool heap_kept = moe::keep_freed_heap_memory();  // as moe-sweep does
  CLI::App app{"Prefill and decode throughput of the CPU runtime vs GEMM peak, bandwidth and "
               "transformers"};
  std::string dir, backend = "cpu", reference;
  int threads = 0, prefill_seqs = 8, prefill_len = 512, decode_steps = 32, prompt_len = 32,
      warmup = 2, repeats = 1, gemm_n = 4096, full_layers = 0;
  std::vector<int> batches = {1, 16};
  double bw_mib = 2048;
  app.add_option("MODEL_DIR", dir, "checkpoint directory (e.g. made by moe-sweep make-model)")
      ->required();
  app.add_option("--backend", backend, "cpu (fast) or cpu-ref")->capture_default_str();
  app.add_option("--threads", threads, "worker threads (0: all cores)")->capture_default_str();
  app.add_option("--reference", reference, "hf_reference.py's JSON output for the same weights");
  app.add_option("--prefill-seqs", prefill_seqs)->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--prefill-len", prefill_len)->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--decode-batches", batches)->delimiter(',')->capture_default_str();
  app.add_option("--decode-steps", decode_steps)->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--decode-prompt-len", prompt_len)->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "untimed decode steps")->check(CLI::NonNegativeNumber);
  app.add_option("--repeats", repeats, "timed repetitions (median)")->check(CLI::PositiveNumber);
  app.add_option("--gemm-size", gemm_n, "n of the n x n x n bf16 GEMM measuring the peak")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--bandwidth-mib", bw_mib, "buffer read to measure memory bandwidth (MiB)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--layers-of-full", full_layers,
                 "layers of the full model this checkpoint's layers stand for (labels only)");
  CLI11_PARSE(app, argc, argv);
  for (int b : batches)
    if (b < 1) throw input_error("--decode-batches", "expected positive batch sizes, found {}", b);

  ModelLoadOptions lo;
  lo.backend.name = backend;
  lo.backend.threads = threads;
  const auto t_load = Clock::now();
  std::shared_ptr<Model> model = load_model(dir, lo);
  const double load_s = seconds_since(t_load);
  const io::ModelConfig& c = model->config();
  const int cores = threads > 0 ? threads : int(std::thread::hardware_concurrency());

  const size_t bw_bytes = size_t(bw_mib * 1024 * 1024);
  const double instr_peak = bf16_instruction_peak(cores, 3);
  const cpu::Isa level = cpu::active_isa();
  const bool fma_level = level == cpu::Isa::kAvx2 || level == cpu::Isa::kAvx512;

  // Prefill, each timed pass right after a measurement of the GEMM peak: the machine's speed
  // drifts by tens of percent within minutes, so each pass is held against the peak of its own
  // moment (paired samples) rather than against one measurement taken at another time.
  std::mt19937_64 g(0);
  std::vector<std::vector<int32_t>> seqs;
  for (int i = 0; i < prefill_seqs; ++i) seqs.push_back(random_tokens(g, c.vocab_size, prefill_len));
  time_prefill(*model, seqs);  // untimed: primitives, first touch of the weights
  std::vector<double> pre, peaks;
  std::vector<GemmPeak> gps;
  for (int r = 0; r < repeats; ++r) {
    if (fma_level) {
      peaks.push_back(fma_instruction_peak(cores, 2));
    } else {
      gps.push_back(gemm_peak_flops(gemm_n, 2));
      peaks.push_back(std::max(gps.back().as_used, gps.back().blocked));
    }
    pre.push_back(time_prefill(*model, seqs));
  }
  const double prefill_s = median(pre);
  const double prefill_tps = double(prefill_seqs) * prefill_len / prefill_s;
  // Decode; each timed pass at batch 1 right after a measurement of the read bandwidth, for the
  // same reason (on one VM the host's memory speed switched between about 34 and 50 GB/s
  // within seconds).
  std::vector<double> decode_tps, bws, b1_tps;
  for (int B : batches) {
    std::vector<double> t;
    for (int r = 0; r < repeats; ++r) {
      if (B == 1) bws.push_back(read_bandwidth(bw_bytes, cores, 5));
      t.push_back(time_decode(*model, g, B, prompt_len, warmup, decode_steps));
      if (B == 1) b1_tps.push_back(decode_steps / t.back());
    }
    decode_tps.push_back(double(B) * decode_steps / median(t));
  }
  if (bws.empty()) bws.push_back(read_bandwidth(bw_bytes, cores, 5));

  // Bounds.
  const double wbytes = dtype_bits(c.torch_dtype) / 8.0;
  const double kv_bytes = dtype_bits(model->backend().kv_dtype(c.torch_dtype)) / 8.0;
  const ModelWork w = model_work(c, kv_bytes);
  const double active = w.dense_params + w.router_params + w.moe_layers * c.top_k * w.expert_params;
  const double L = prefill_len;
  const double prefill_flops_per_token =
      2.0 * active + w.attn_flops_coef * (L + 1) / 2 + 2.0 * w.head_params / L;
  // Each pass's fraction of the bound its own peak sets; the table shows the medians.
  std::vector<double> of_bound;
  for (int r = 0; r < repeats; ++r)
    of_bound.push_back(double(prefill_seqs) * prefill_len / pre[size_t(r)] /
                       (peaks[size_t(r)] / prefill_flops_per_token));
  const double peak = median(peaks), prefill_of_bound = median(of_bound);
  const double prefill_bound = peak / prefill_flops_per_token;
  const double ctx = prompt_len + warmup + decode_steps / 2.0;  // mean cached positions
  const double b1_bytes = (active + w.head_params) * wbytes + ctx * w.kv_bytes_per_pos;
  const double decode1_bound = median(bws) / b1_bytes;
  std::vector<double> b1_of;  // each batch-1 pass against the bandwidth measured before it
  for (size_t r = 0; r < b1_tps.size(); ++r) b1_of.push_back(b1_tps[r] / (bws[r] / b1_bytes));
  const double decode1_of_bound = b1_of.empty() ? 0.0 : median(b1_of);

  // Transformers' figures, if given.
  double hf_prefill = 0;
  std::vector<double> hf_decode(batches.size(), 0.0);
  std::string hf_label;
  if (!reference.empty()) {
    std::ifstream f(reference);
    if (!f) throw input_error(reference, "expected hf_reference.py's JSON, found no readable file");
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(f);
      hf_prefill = j.at("prefill").at("tokens_per_s").get<double>();
      for (const auto& d : j.at("decode"))
        for (size_t i = 0; i < batches.size(); ++i)
          if (d.at("batch").get<int>() == batches[i])
            hf_decode[i] = d.at("tokens_per_s").get<double>();
      hf_label = fmt::format("transformers {} / torch {}, {} threads",
                             j.at("transformers_version").get<std::string>(),
                             j.at("torch_version").get<std::string>(), j.at("threads").get<int>());
    } catch (const nlohmann::json::exception& e) {
      throw input_error(reference, "expected hf_reference.py's JSON, found: {}", e.what());
    }
  }

  const double gib = 1024.0 * 1024.0 * 1024.0;
  fmt::print("model: {} ({}), {} layers{}, hidden {}, {} experts top-{}, expert intermediate {}, "
             "vocab {}, {}\n",
             dir, io::family_name(c.family), c.num_layers,
             full_layers > 0 ? fmt::format(" (of {} in the full model)", full_layers) : "",
             c.hidden_size, c.num_experts, c.top_k, c.moe_intermediate_size, c.vocab_size,
             dtype_name(c.torch_dtype));
  const char* wait_policy = std::getenv("OMP_WAIT_POLICY");
  fmt::print("backend {} on {} threads (OMP_WAIT_POLICY {}; freed heap memory {}); loaded in "
             "{:.1f} s\n",
             model->backend().name(), cores, wait_policy ? wait_policy : "unset",
             heap_kept ? "kept, as moe-sweep does" : "per the environment's MALLOC_ settings",
             load_s);
  fmt::print("CPU level {}\n", cpu::isa_description());
  if (fma_level) {
    fmt::print("machine: f32 FMA instruction peak (AVX2 vfmadd, 12 register chains per thread, "
               "{} threads, best of 2), measured before each timed prefill pass (GFLOP/s):",
               cores);
    for (double p : peaks) fmt::print(" {:.0f}", p / 1e9);
    fmt::print("\n");
  } else {
    fmt::print("machine: bf16 GEMM peak (oneDNN matmul {}^3, f32 accumulation, best of 2), "
               "measured before each timed prefill pass (GFLOP/s, pre-blocked weights / the "
               "checkpoint's [out, in] weights as the backend uses them):",
               gemm_n);
    for (const GemmPeak& p : gps) fmt::print(" {:.0f}/{:.0f}", p.blocked / 1e9, p.as_used / 1e9);
    fmt::print("; each pass's bound uses the larger\n");
  }
  fmt::print("machine: memory read bandwidth ({:.0f} MiB buffer, {} threads, best of 5{}):",
             bw_mib, cores,
             b1_tps.empty() ? "" : ", measured before each timed batch-1 decode pass");
  for (double b : bws) fmt::print(" {:.1f}", b / 1e9);
  fmt::print(" GB/s\n");
  if (instr_peak > 0)
    fmt::print("machine: bf16 dot-product instruction peak (vdpbf16ps, 12 register chains per "
               "thread, {} threads, best of 3) {:.0f} GFLOP/s: no bf16 kernel on this CPU (no AMX) "
               "exceeds it; prefill at that peak {:.1f} tokens/s\n",
               cores, instr_peak / 1e9, instr_peak / prefill_flops_per_token);
  else
    fmt::print("machine: bf16 dot-product instruction peak not measured ({})\n",
               level == cpu::Isa::kAmx ? "AMX tiles present: their peak is not timed here"
                                       : "no AVX512-BF16 at this level");
  fmt::print("work: {:.2f} GFLOP per prefill token; {:.2f} GiB of weights+KV read per batch-1 "
             "decode step ({:.0f} M active parameters + lm_head {:.0f} M)\n",
             prefill_flops_per_token / 1e9, b1_bytes / gib, active / 1e6, w.head_params / 1e6);
  fmt::print("\n{:<30} {:>12} {:>14} {:>10} {:>12} {:>10}\n", "measurement", "tokens/s",
             "transformers", "ratio", "bound", "of bound");
  auto row = [&](const std::string& what, double tps, double hf, double bound, double of) {
    fmt::print("{:<30} {:>12.1f} {:>14} {:>10} {:>12} {:>10}\n", what, tps,
               hf > 0 ? fmt::format("{:.1f}", hf) : "-",
               hf > 0 ? fmt::format("{:.2f}x", tps / hf) : "-",
               bound > 0 ? fmt::format("{:.1f}", bound) : "-",
               bound > 0 ? fmt::format("{:.1f}%", 100.0 * of) : "-");
  };
  row(fmt::format("prefill {} x {}", prefill_seqs, prefill_len), prefill_tps, hf_prefill,
      prefill_bound, prefill_of_bound);
  for (size_t i = 0; i < batches.size(); ++i)
    row(fmt::format("decode batch {}", batches[i]), decode_tps[i], hf_decode[i],
        batches[i] == 1 ? decode1_bound : 0.0, decode1_of_bound);
  fmt::print("(bounds: prefill = {} / FLOPs per token, of bound = median over the passes "
             "of each pass against its own peak; decode batch 1 = read bandwidth / bytes per "
             "step, paired the same way; median of {} run(s))\n",
             fma_level ? "FMA peak" : "GEMM peak", repeats);
  if (!hf_label.empty()) fmt::print("reference: {}\n", hf_label);

  fmt::print("\ntargets:\n");
  if (hf_prefill > 0)
    fmt::print("  prefill >= 3x transformers:          {:.2f}x  {}\n", prefill_tps / hf_prefill,
               verdict(prefill_tps >= 3 * hf_prefill));
  if (hf_prefill > 0 && instr_peak > 0)
    fmt::print("    (3x transformers = {:.1f} tokens/s = {:.0f}% of the instruction-peak prefill; "
               "transformers {:.0f}%, moe-sweep {:.0f}%)\n",
               3 * hf_prefill, 300.0 * hf_prefill * prefill_flops_per_token / instr_peak,
               100.0 * hf_prefill * prefill_flops_per_token / instr_peak,
               100.0 * prefill_tps * prefill_flops_per_token / instr_peak);
  if (hf_prefill <= 0)
    fmt::print("  prefill >= 3x transformers:          not measured (no transformers figures)\n");
  const double prefill_target = fma_level ? 0.6 : 0.5, decode1_target = fma_level ? 0.7 : 0.6;
  fmt::print("  prefill >= {:.0f}% of {}-peak bound:   {:.1f}%  {}\n", 100 * prefill_target,
             fma_level ? "FMA" : "GEMM", 100.0 * prefill_of_bound,
             verdict(prefill_of_bound >= prefill_target));
  for (size_t i = 0; i < batches.size(); ++i) {
    if (batches[i] == 1)
      fmt::print("  decode batch 1 >= {:.0f}% of bandwidth:  {:.1f}%  {}\n", 100 * decode1_target,
                 100.0 * decode1_of_bound, verdict(decode1_of_bound >= decode1_target));
    if (fma_level && batches[i] == 16 && hf_decode[i] > 0)
      fmt::print("  decode batch 16 >= 3x transformers:  {:.2f}x  {}\n",
                 decode_tps[i] / hf_decode[i], verdict(decode_tps[i] >= 3 * hf_decode[i]));
  }
  return 0;
} catch (const moe::Error& e) {
  fmt::print(stderr, "runtime_bench: {}\n", e.what());
  return 1;
}
