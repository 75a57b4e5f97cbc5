// Next-token choice from one row of logits: greedy argmax, or seeded sampling with temperature,
// top-k and top-p (applied in that order, as transformers' logits processors do).
//
// SamplerRng is a per-request stream (mt19937_64 seeded with the request's seed) from which each
// sampled token draws exactly one uniform, so a request's tokens depend only on its seed and its
// logits, never on how requests were batched.
// Thread-safety: pure functions; an Rng belongs to one request.
#pragma once

#include <cstdint>
#include <random>
#include <span>

#include "runtime/engine/engine.h"

namespace moe {

class SamplerRng {
 public:
  explicit SamplerRng(uint64_t seed) : gen_(seed) {}
  // Uniform in [0, 1) with 53 random bits (portable, unlike std::uniform_real_distribution).
  double uniform() { return double(gen_() >> 11) * 0x1.0p-53; }

 private:
  std::mt19937_64 gen_;
};

// Index of the largest logit (the lowest index among equal maxima).
int32_t argmax(std::span<const float> logits);

// Greedy when options.greedy (or temperature == 0); otherwise samples. logits: [V]
int32_t sample_token(std::span<const float> logits, const SamplingOptions& options,
                     SamplerRng& rng);

// log softmax of logits [V] evaluated at `token`, in double.
double log_prob(std::span<const float> logits, int32_t token);

}  // namespace moe
