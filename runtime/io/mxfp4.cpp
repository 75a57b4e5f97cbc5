#include "runtime/io/mxfp4.h"

#include <algorithm>
#include <cmath>

namespace moe::io {

uint8_t fp4_e2m1_from_f32(float x) {
  if (std::isnan(x)) return 0;
  const uint8_t sign = std::signbit(x) ? 8 : 0;
  const float a = std::fabs(x);
  int best = 7;
  for (uint8_t k = 0; k < 7; ++k) {  // codes 0..7: the magnitudes in increasing order
    const float mid = 0.5f * (fp4_e2m1_to_f32(k) + fp4_e2m1_to_f32(uint8_t(k + 1)));
    if (a < mid || (a == mid && k % 2 == 0)) {  // below the midpoint, or a tie to the even code
      best = k;
      break;
    }
  }
  return uint8_t(sign | best);
}

void encode_mxfp4_block(const float* x, uint8_t* blocks, uint8_t* scale) {
  float amax = 0.0f;
  for (int i = 0; i < kMxfp4Block; ++i)
    if (std::isfinite(x[i])) amax = std::max(amax, std::fabs(x[i]));
  int e = -127;
  if (amax > 0.0f) e = std::clamp(int(std::floor(std::log2(amax))) - 2, -127, 127);
  *scale = uint8_t(e + 127);
  const float inv = std::ldexp(1.0f, -e);
  for (int b = 0; b < kMxfp4Block / 2; ++b) {
    const uint8_t lo = fp4_e2m1_from_f32(x[2 * b] * inv);
    const uint8_t hi = fp4_e2m1_from_f32(x[2 * b + 1] * inv);
    blocks[b] = uint8_t(lo | (hi << 4));
  }
}

}  // namespace moe::io
