// Machine figures the benchmarks hold their measurements against, measured in the same run:
// memory read bandwidth, the bf16 dot-product instruction's own peak (avx512_bf16 level) and the
// f32 FMA instruction's (avx2 and avx512 levels, whose kernels widen bf16 to f32). Header-only (every
// .cpp in bench/ is a program). Not thread-safe: each function starts and joins its own threads.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

#include "runtime/core/cpu_isa.h"

namespace moe::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The middle element (the upper one of an even count); 0 for none.
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// One thread's run of `iters` rounds of 12 independent vdpbf16ps chains on registers (each
// instruction: 32 bf16 products summed in pairs into 16 f32 lanes, 64 FLOP); returns the sum of
// the accumulators so the chains have an observable result.
__attribute__((target("avx512f,avx512bf16"))) inline float dpbf16_chains(int64_t iters) {
  constexpr int kChains = 12;  // more than latency x throughput of the dot-product units
  __m512 acc[kChains];
  for (__m512& a : acc) a = _mm512_setzero_ps();
  __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3f80);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_dpbf16_ps(acc[c], a, b);
    __asm__ volatile("" : "+v"(a));  // keeps the loop from being folded
  }
  alignas(64) float lanes[16];
  for (int c = 1; c < kChains; ++c) acc[0] = _mm512_add_ps(acc[0], acc[c]);
  _mm512_store_ps(lanes, acc[0]);
  float s = 0;
  for (float v : lanes) s += v;
  return s;
}

// The bf16 dot-product instruction's own peak (FLOP/s over `threads` threads, best of `reps`):
// every thread runs dpbf16_chains, with no memory traffic, so no bf16 kernel on a CPU without
// AMX exceeds it, whoever wrote the kernel. 0 where it does not bound the machine's bf16 work:
// no AVX512-BF16, or AMX tiles (tdpbf16ps), whose products this does not time.
// One thread's run of `iters` rounds of 12 independent AVX2 FMA chains on registers (each
// instruction: 8 f32 multiply-adds, 16 FLOP).
__attribute__((target("avx2,fma"))) inline float fma_chains(int64_t iters) {
  constexpr int kChains = 12;  // more than latency x throughput of two FMA units
  __m256 acc[kChains];
  for (__m256& a : acc) a = _mm256_setzero_ps();
  __m256 a = _mm256_set1_ps(1.0f), b = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(a, b, acc[c]);
    __asm__ volatile("" : "+x"(a));  // keeps the loop from being folded
  }
  alignas(32) float lanes[8];
  for (int c = 1; c < kChains; ++c) acc[0] = _mm256_add_ps(acc[0], acc[c]);
  _mm256_store_ps(lanes, acc[0]);
  float s = 0;
  for (float v : lanes) s += v;
  return s;
}

// FLOP/s of `chains(iters)` (flops_per_iter each) on `threads` threads at once, best of `reps`
// after a warm-up pass (clock ramp).
template <typename Chains>
double chains_peak(Chains chains, double flops_per_iter, int threads, int reps) {
  constexpr int64_t kIters = 20'000'000;  // about 0.1 s per thread at 3 GHz
  std::vector<float> sums(static_cast<size_t>(threads));
  double best = 1e30;
  for (int r = 0; r <= reps; ++r) {
    const auto t0 = Clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] { sums[size_t(t)] += chains(kIters); });
    for (auto& th : pool) th.join();
    if (r > 0) best = std::min(best, seconds_since(t0));
  }
  volatile float keep = 0;
  for (float v : sums) keep = keep + v;
  return flops_per_iter * double(kIters) * threads / best;
}

// The bf16 dot-product instruction's own peak (FLOP/s): no bf16 kernel at the avx512_bf16 level
// exceeds it, whoever wrote the kernel. 0 at other levels (below: no vdpbf16ps; amx: the tiles'
// products, which this does not time).
inline double bf16_instruction_peak(int threads, int reps) {
  if (cpu::active_isa() != cpu::Isa::kAvx512Bf16) return 0;
  return chains_peak(dpbf16_chains, 64.0 * 12, threads, reps);
}

// The AVX2 FMA instruction's own peak (FLOP/s): no kernel of the avx2 level (bf16 widened to
// f32, FMA) exceeds it. 0 below the avx2 level.
inline double fma_instruction_peak(int threads, int reps) {
  if (cpu::active_isa() < cpu::Isa::kAvx2) return 0;
  return chains_peak(fma_chains, 16.0 * 12, threads, reps);
}

// Sums 64-bit words with AVX-512 loads (four independent accumulators).
__attribute__((target("avx512f"))) inline uint64_t read_words_avx512(const uint64_t* p,
                                                                   size_t n) {
  __m512i a0 = _mm512_set1_epi64(0), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm512_add_epi64(a0, _mm512_load_si512(p + i));
    a1 = _mm512_add_epi64(a1, _mm512_load_si512(p + i + 8));
    a2 = _mm512_add_epi64(a2, _mm512_load_si512(p + i + 16));
    a3 = _mm512_add_epi64(a3, _mm512_load_si512(p + i + 24));
  }
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3)));
  uint64_t s = 0;
  for (uint64_t v : lanes) s += v;
  for (; i < n; ++i) s += p[i];
  return s;
}

inline uint64_t read_words(const uint64_t* p, size_t n) {
  if (cpu::active_isa() >= cpu::Isa::kAvx512) return read_words_avx512(p, n);
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += p[i];
    s1 += p[i + 1];
    s2 += p[i + 2];
    s3 += p[i + 3];
  }
  for (; i < n; ++i) s0 += p[i];
  return s0 + s1 + s2 + s3;
}

// Memory read bandwidth (bytes/s): `threads` threads each read their share of a `bytes` buffer
// (far larger than the caches); best of `reps` after one warm-up pass.
inline double read_bandwidth(size_t bytes, int threads, int reps) {
  const size_t words = bytes / 8, chunk = (words / size_t(threads) + 7) / 8 * 8;
  std::unique_ptr<uint64_t[], decltype(&std::free)> buf(
      static_cast<uint64_t*>(std::aligned_alloc(64, words * 8)), &std::free);
  std::vector<uint64_t> sums(static_cast<size_t>(threads));
  auto pass = [&](bool init) {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        const size_t lo = std::min(words, size_t(t) * chunk), hi = std::min(words, lo + chunk);
        if (init)
          for (size_t i = lo; i < hi; ++i) buf[i] = i;  // first touch by the reading thread
        else
          sums[size_t(t)] += read_words(buf.get() + lo, hi - lo);
      });
    for (auto& th : pool) th.join();
  };
  pass(true);
  pass(false);
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    pass(false);
    best = std::min(best, seconds_since(t0));
  }
  volatile uint64_t keep = 0;
  for (uint64_t s : sums) keep = keep + s;  // the reads have an observable result
  return double(words * 8) / best;
}

}  // namespace moe::bench
