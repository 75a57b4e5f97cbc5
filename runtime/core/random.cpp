#include "runtime/core/random.h"

#include <cmath>
#include <numbers>
#include <numeric>

#include "runtime/core/error.h"

namespace moe {

uint64_t Rng::below(uint64_t n) {
  MOE_ASSERT(n > 0, "Rng::below(0)");
  // Lemire, "Fast Random Integer Generation in an Interval" (2019): the high word of x * n is
  // uniform on [0, n) once the low word's biased region (below 2^64 mod n) is rejected.
  unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < n) {
    const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    while (low < threshold) {
      m = static_cast<unsigned __int128>(next()) * n;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

double Rng::uniform() {
  return static_cast<double>(next() >> 11) * 0x1.0p-53;
}

double Rng::normal() {
  double u1 = uniform();
  const double u2 = uniform();
  while (u1 <= 0.0) u1 = uniform();  // log(0) is -inf
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

std::vector<size_t> sample_without_replacement(size_t n, size_t k, Rng& rng) {
  MOE_ASSERT(k <= n, "cannot draw {} distinct indices from {}", k, n);
  std::vector<size_t> pool(n);
  std::iota(pool.begin(), pool.end(), size_t{0});
  for (size_t i = 0; i < k; ++i) {
    const size_t j = i + static_cast<size_t>(rng.below(n - i));
    std::swap(pool[i], pool[j]);
  }
  pool.resize(k);
  return pool;
}

}  // namespace moe
