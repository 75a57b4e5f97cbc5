// mxfp4_experts_bench: memory and speed of GPT-OSS's MXFP4 expert weights kept as published
// against the same weights dequantised to bf16 (what a dequantised checkpoint holds).
//
// Memory: bytes of one expert's gate_up [2I, H] and down [H, I] matrices as MXFP4 (4-bit values
// plus one E8M0 scale per 32), bf16 and f32, and the expert weights of the whole model at the
// given shape (default: gpt-oss-20b, 24 layers x 32 experts, H = I = 2880).
// Speed, one thread, one expert's gate_up product over M tokens (M = 1, 4, 16: decode-sized),
// every variant on the same random weights in the same run, repetitions alternated:
//   bf16     gemm_bf16_small on the dequantised bf16 matrix (the reference measurement)
//   fused    gemm_mxfp4_small: MXFP4 decoded in registers, bf16 activations (a bf16 model's)
//   f32 act  gemm_mxfp4_small_f32: the same with f32 activations (an f32 model's, not rounded)
//   decode   mxfp4_rows_to_bf16 into a buffer, then gemm_bf16_small
//   scalar   decode_mxfp4 (runtime/core/dtype.h, the reference backend's decode) of every row
//            into an f32 buffer, without the product (what decoding alone costs there)
// Prints the median milliseconds of thread CPU time (CLOCK_THREAD_CPUTIME_ID: on a loaded machine
// wall time mostly measures the wait for a core) and GB/s of weight bytes read per CPU second.
// Needs AVX512-BF16.
//
// Usage: mxfp4_experts_bench [--hidden 2880] [--inter 2880] [--layers 24] [--experts 32]
//        [--reps 7]
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "bench/machine_figures.h"
#include "runtime/backend/cpu/kernels.h"
#include "runtime/core/dtype.h"

namespace {

using moe::bench::median;

double gib(double bytes) { return bytes / double(1 << 30); }

double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) * 1e-6;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t H = 2880, I = 2880, layers = 24, experts = 32;
  int reps = 7;
  CLI::App app{"MXFP4 expert weights against dequantised bf16: memory and speed"};
  app.add_option("--hidden", H, "hidden size H (multiple of 32)");
  app.add_option("--inter", I, "expert intermediate size I (multiple of 32)");
  app.add_option("--layers", layers, "MoE layers (for the model total)");
  app.add_option("--experts", experts, "experts per layer (for the model total)");
  app.add_option("--reps", reps, "repetitions of each measurement");
  CLI11_PARSE(app, argc, argv);
  if (H % 32 || I % 32) {
    fmt::print(stderr, "--hidden and --inter must be multiples of 32\n");
    return 2;
  }
  const moe::cpu::Kernels* kern = moe::cpu::kernels();
  if (!kern) {
    fmt::print(stderr, "no MXFP4 kernels at the CPU level {}\n", moe::cpu::isa_description());
    return 2;
  }
  fmt::print("kernels of the CPU level {}\n", moe::cpu::isa_description());

  // ---- memory ----------------------------------------------------------------------------------
  const double elems = double(2 * I * H + H * I);  // gate_up + down of one expert
  const double mx = elems / 2 + elems / 32, bf = elems * 2, f32 = elems * 4;
  const double n_exp = double(layers * experts);
  fmt::print("expert weights, H={} I={}: one expert MXFP4 {:.1f} MiB, bf16 {:.1f} MiB, f32 {:.1f} "
             "MiB\n", H, I, mx / (1 << 20), bf / (1 << 20), f32 / (1 << 20));
  fmt::print("all {} x {} experts: MXFP4 {:.2f} GiB, bf16 {:.2f} GiB ({:.2f}x), f32 {:.2f} GiB\n",
             layers, experts, gib(mx * n_exp), gib(bf * n_exp), bf / mx, gib(f32 * n_exp));

  // ---- speed: gate_up [N = 2I, K = H] --------------------------------------------------------
  const int64_t N = 2 * I, K = H;
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<int> byte(0, 255), scale(118, 126);
  std::vector<uint8_t> blocks(size_t(N * K / 2)), scales(size_t(N * K / 32));
  for (auto& b : blocks) b = uint8_t(byte(rng));
  for (auto& s : scales) s = uint8_t(scale(rng));
  std::vector<uint16_t> w_bf16(size_t(N * K));
  kern->mxfp4_rows_to_bf16(blocks.data(), scales.data(), K, 0, N, w_bf16.data());
  std::vector<uint16_t> decoded(size_t(N * K));
  std::vector<float> rowf(size_t(N * K));
  const double mx_bytes = double(N * K) / 2 + double(N * K) / 32, bf_bytes = double(N * K) * 2;

  fmt::print("\none expert's gate_up product [{} x {}], one thread, median of {} (CPU ms, weight GB/s):\n",
             N, K, reps);
  fmt::print("{:>4}  {:>16}  {:>16}  {:>16}  {:>16}  {:>16}\n", "M", "bf16 (reference)",
             "fused MXFP4", "fused, f32 act", "decode + bf16", "scalar decode");
  for (int64_t M : {1, 4, 16}) {
    std::normal_distribution<float> nd(0.f, 1.f);
    std::vector<uint16_t> x(size_t(M * K));
    for (auto& v : x) v = moe::f32_to_bf16(nd(rng));
    std::vector<float> xf(size_t(M * K));
    for (auto& v : xf) v = nd(rng);
    std::vector<float> y(size_t(M * N));
    const std::vector<std::function<void()>> runs = {
        [&] { kern->gemm_bf16_small(x.data(), M, K, K, w_bf16.data(), K, 0, N, y.data(), N); },
        [&] {
          kern->gemm_mxfp4_small(x.data(), M, K, K, blocks.data(), scales.data(), 0, N, y.data(),
                                 N);
        },
        [&] {
          kern->gemm_mxfp4_small_f32(xf.data(), M, K, K, blocks.data(), scales.data(), 0, N,
                                     y.data(), N);
        },
        [&] {
          kern->mxfp4_rows_to_bf16(blocks.data(), scales.data(), K, 0, N, decoded.data());
          kern->gemm_bf16_small(x.data(), M, K, K, decoded.data(), K, 0, N, y.data(), N);
        },
        [&] {
          for (int64_t n = 0; n < N; ++n)
            moe::decode_mxfp4(blocks.data() + n * K / 2, scales.data() + n * K / 32, K,
                              rowf.data() + n * K);
        }};
    std::vector<std::vector<double>> ms(runs.size());
    for (int r = 0; r < reps; ++r)
      for (size_t v = 0; v < runs.size(); ++v) {
        const double t0 = thread_cpu_ms();
        runs[v]();
        ms[v].push_back(thread_cpu_ms() - t0);
      }
    const double bytes[] = {bf_bytes, mx_bytes, mx_bytes, mx_bytes, mx_bytes};
    fmt::print("{:>4}", M);
    for (size_t v = 0; v < runs.size(); ++v) {
      const double m = median(ms[v]);
      fmt::print("  {:>7.2f} {:>6.1f}GB/s", m, bytes[v] / (m * 1e6));
    }
    fmt::print("\n");
  }
  return 0;
}
