// Rng: a seeded random generator whose every output is the same on every platform and compiler.
//
// The C++ standard fixes the sequence of std::mt19937_64 but not the algorithms of its
// distributions (uniform_int_distribution, normal_distribution differ between libstdc++, libc++
// and MSVC). Everything moe-sweep draws for a result (bootstrap resamples, exemplar choices,
// dataset subsamples, token pairs, intervention noise) goes through this class so that a seed
// written into a result file reproduces it anywhere:
//   below(n)   Lemire's multiply-shift with rejection (exactly uniform on [0, n));
//   uniform()  the top 53 bits of one draw, in [0, 1);
//   normal()   Box-Muller on two uniform() draws (no cached second value).
// Thread-safety: an Rng is a value; do not share one instance between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace moe {

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  uint64_t next() { return engine_(); }
  // Uniform integer in [0, n). REQUIRES: n > 0.
  uint64_t below(uint64_t n);
  // Uniform double in [0, 1).
  double uniform();
  // Standard normal draw (mean 0, standard deviation 1).
  double normal();

 private:
  std::mt19937_64 engine_;
};

// k distinct indices of [0, n) drawn uniformly without replacement (partial Fisher-Yates), in the
// order drawn. REQUIRES: k <= n.
std::vector<size_t> sample_without_replacement(size_t n, size_t k, Rng& rng);

}  // namespace moe
