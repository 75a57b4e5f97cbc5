// small_gemm_bench: the fast backend's streaming bf16 GEMM for few token rows
// (cpu::gemm_bf16_small: the bf16 linear and expert products of decode steps), over weights far
// larger than the caches, next to two references measured in the same run: the memory read
// bandwidth right before each figure, and oneDNN's matmul (cpu::onednn_gemm_bf16, what the
// backend calls for more rows) on the same products. At levels whose kernels read weights in
// panels (kernels.h: the fast backend's prepared weights, avx2), also gemm_bf16_small_panels on
// the same matrices in panels, and its speed over the kernel on rows.
//
// For each row length K and token count M: weight matrices [N, K] bf16 (--mib of them, 384 MiB
// by default: 48 of 2048 x 2048), x [M, K]; one pass runs every matrix's product in one OpenMP
// region, each thread its share of the rows as CpuFastBackend splits them; best of --repeats
// passes after a warm-up. The default K = 2048 and 1024 are OLMoE-1B-7B's gate/up/attention and
// expert down rows (4 and 2 KiB). oneDNN runs each product in turn on all threads (its own
// split), as the backend calls it. Printed: GB/s of weights read, GFLOP/s, the weights' GB/s over
// the read bandwidth, oneDNN's GFLOP/s and the ratio.
//
// Usage: small_gemm_bench [--rows 1,2,3,4,8,16,32,64,128] [--n 2048] [--k 2048,1024] [--mib 384]
//        [--repeats 5] [--threads 0]
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include "bench/machine_figures.h"
#include "runtime/backend/cpu/kernels.h"
#include "runtime/backend/cpu/onednn.h"
#include "runtime/core/dtype.h"

int main(int argc, char** argv) {
  using namespace moe::bench;
  CLI::App app{"Streaming bf16 GEMM of few token rows vs memory read bandwidth"};
  std::vector<int> rows = {1, 2, 3, 4, 8, 16, 32, 64, 128};
  std::vector<int64_t> ks = {2048, 1024};
  int64_t n = 2048;
  int mib = 384, repeats = 5, threads = 0;
  app.add_option("--rows", rows, "token counts M")->delimiter(',')->capture_default_str();
  app.add_option("--n", n, "weight rows")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--k", ks, "weight row lengths")->delimiter(',')->capture_default_str();
  app.add_option("--mib", mib, "weights per row length (MiB)")->check(CLI::PositiveNumber);
  app.add_option("--repeats", repeats, "timed passes (best)")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "OpenMP threads (0: all cores)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  for (int m : rows)
    if (m < 1) {
      fmt::print(stderr, "small_gemm_bench: --rows expects positive counts, found {}\n", m);
      return 2;
    }
  for (int64_t k : ks)
    if (k < 1) {
      fmt::print(stderr, "small_gemm_bench: --k expects positive lengths, found {}\n", k);
      return 2;
    }
  const moe::cpu::Kernels* kern = moe::cpu::kernels();
  if (!kern) {
    fmt::print("small_gemm_bench: SKIPPED: no kernels at the CPU level {}\n",
               moe::cpu::isa_description());
    return 0;
  }
  fmt::print("kernels of the CPU level {}\n", moe::cpu::isa_description());
  if (threads <= 0) threads = int(std::thread::hardware_concurrency());
  omp_set_num_threads(threads);

  std::mt19937 g(1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  int max_rows = 1;
  for (int m : rows) max_rows = std::max(max_rows, m);
  fmt::print("{} threads; read bandwidth (2048 MiB buffer, best of 5) measured right before each "
             "figure\n",
             threads);
  const bool panels = kern->gemm_bf16_small_panels != nullptr;
  fmt::print("{:>6} {:>9} {:>5} {:>8} {:>9} {:>10} {:>13} {:>15} {:>11}{}\n", "K", "matrices",
             "rows", "GB/s", "GFLOP/s", "read GB/s", "of bandwidth", "oneDNN GFLOP/s", "vs oneDNN",
             panels ? "  panels GB/s  vs rows" : "");
  for (int64_t k : ks) {
    const int matrices = int(std::max<int64_t>(1, (int64_t(mib) << 20) / (n * k * 2)));
    std::vector<std::vector<uint16_t>> w(static_cast<size_t>(matrices));
    for (auto& m : w) {
      m.resize(size_t(n * k));
      for (auto& v : m) v = moe::f32_to_bf16(u(g));
    }
    std::vector<std::vector<uint16_t>> wp(panels ? w.size() : 0);
    for (size_t i = 0; i < wp.size(); ++i) {
      wp[i].resize(size_t(moe::cpu::panels_size(n, k)));
      moe::cpu::pack_bf16_panels(w[i].data(), n, k, k, 0, (n + 15) / 16, wp[i].data());
    }
    std::vector<uint16_t> x(size_t(max_rows * k));
    for (auto& v : x) v = moe::f32_to_bf16(u(g));
    std::vector<float> y(size_t(max_rows * n));
    const double weight_bytes = double(matrices) * double(n) * double(k) * 2;
    for (int m : rows) {
      const double bw = read_bandwidth(size_t(2048) << 20, threads, 5);
      auto small = [&] {
#pragma omp parallel
        {
          const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
          for (const auto& wm : w)
            kern->gemm_bf16_small(x.data(), m, k, k, wm.data(), k, n * t / nt, n * (t + 1) / nt,
                                  y.data(), n);
        }
      };
      auto small_panels = [&] {
#pragma omp parallel
        {
          const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
          for (const auto& wm : wp)
            kern->gemm_bf16_small_panels(x.data(), m, k, k, wm.data(), n * t / nt, n * (t + 1) / nt,
                                         y.data(), n);
        }
      };
      bool onednn_ok = true;
      auto onednn = [&] {
        for (const auto& wm : w)
          onednn_ok &= moe::cpu::onednn_gemm_bf16(x.data(), m, k, k, wm.data(), n, y.data(), n);
      };
      auto best_seconds = [&](const auto& pass) {
        pass();  // warm-up
        double best = 1e30;
        for (int r = 0; r < repeats; ++r) {
          const auto t0 = Clock::now();
          pass();
          best = std::min(best, seconds_since(t0));
        }
        return best;
      };
      const double t_small = best_seconds(small), t_onednn = best_seconds(onednn);
      const double t_panels = panels ? best_seconds(small_panels) : 0;
      const double gbs = weight_bytes / t_small, flops = weight_bytes * m;  // 2 FLOP per 2 bytes
      fmt::print("{:>6} {:>9} {:>5} {:>8.1f} {:>9.1f} {:>10.1f} {:>12.1f}% {:>15} {:>11}{}\n", k,
                 matrices, m, gbs / 1e9, flops / t_small / 1e9, bw / 1e9, 100.0 * gbs / bw,
                 onednn_ok ? fmt::format("{:.1f}", flops / t_onednn / 1e9) : "-",
                 onednn_ok ? fmt::format("{:.2f}x", t_onednn / t_small) : "-",
                 panels ? fmt::format("  {:>11.1f}  {:>6.2f}x", weight_bytes / t_panels / 1e9,
                                      t_small / t_panels)
                        : "");
    }
  }
  return 0;
}
