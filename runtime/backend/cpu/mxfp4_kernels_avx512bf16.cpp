// MXFP4 kernels of the avx512_bf16 level (kernels.h), AVX-512 BW + BF16. One 32-value block at a time:
//   16 bytes -> 32 nibble indices in element order (low nibble first) -> vpermw through the bf16
//   table of the 16 FP4 E2M1 values -> the block scale 2^(s-127) added to the exponent field of
//   the non-zero values (exact; blocks whose scale would leave the normal range take the scalar
//   path through decode_mxfp4).
// GCC 12's _mm512_reduce_* use an intentionally undefined register that -Wuninitialized flags.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "runtime/backend/cpu/level_kernels.h"
#include "runtime/core/dtype.h"

namespace moe::cpu::avx512bf16 {

namespace {

// bf16 bits of the FP4 E2M1 values 0, .5, 1, 1.5, 2, 3, 4, 6 and their negatives (-0 first).
constexpr uint16_t kFp4Bf16[16] = {0x0000, 0x3F00, 0x3F80, 0x3FC0, 0x4000, 0x4040, 0x4080, 0x40C0,
                                   0x8000, 0xBF00, 0xBF80, 0xBFC0, 0xC000, 0xC040, 0xC080, 0xC0C0};

// The table's exponents are 126..129: adding e = s - 127 stays a normal bf16 for s in [2, 252].
inline bool fast_scale(uint8_t s) { return s >= 2 && s <= 252; }

struct Decoder {
  __m512i lut;
  __m128i low4 = _mm_set1_epi8(0x0f);
  __m512i magnitude = _mm512_set1_epi16(0x7fff);
  Decoder() {
    alignas(64) uint16_t t[32];
    for (int i = 0; i < 32; ++i) t[i] = kFp4Bf16[i % 16];
    lut = _mm512_load_si512(t);
  }
  // 32 bf16 values of one block (element order) from its 16 bytes and scale byte.
  __m512i block(const uint8_t* b, uint8_t s) const {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b));
    const __m128i lo = _mm_and_si128(bytes, low4);
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), low4);
    // element 2i = lo[i], 2i+1 = hi[i]
    const __m256i idx8 = _mm256_set_m128i(_mm_unpackhi_epi8(lo, hi), _mm_unpacklo_epi8(lo, hi));
    const __m512i v = _mm512_permutexvar_epi16(_mm512_cvtepu8_epi16(idx8), lut);
    const __mmask32 nonzero = _mm512_test_epi16_mask(v, magnitude);
    const __m512i exp = _mm512_set1_epi16(int16_t((int(s) - 127) << 7));
    return _mm512_mask_add_epi16(v, nonzero, v, exp);
  }
};

// Scalar decode of one block to bf16 (any scale).
void block_scalar(const uint8_t* b, const uint8_t* s, uint16_t* out) {
  float f[kMxfp4Block];
  decode_mxfp4(b, s, kMxfp4Block, f);
  // Every MXFP4 value is a bf16 value: the top half of its f32 bits (no rounding; and not
  // dtype.h's inline f32_to_bf16, whose out-of-line copy from this file could serve the program).
  for (int i = 0; i < kMxfp4Block; ++i) {
    uint32_t u;
    std::memcpy(&u, &f[i], 4);
    out[i] = uint16_t(u >> 16);
  }
}

inline float hsum(__m512 v) { return _mm512_reduce_add_ps(v); }

}  // namespace

void mxfp4_rows_to_bf16(const uint8_t* blocks, const uint8_t* scales, int64_t K, int64_t n0,
                        int64_t n1, uint16_t* out) {
  isa_entry_check(Isa::kAvx512Bf16, __func__);
  const Decoder d;
  const int64_t nb = K / kMxfp4Block;
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* b = blocks + n * (K / 2);
    const uint8_t* s = scales + n * nb;
    uint16_t* o = out + (n - n0) * K;
    for (int64_t j = 0; j < nb; ++j) {
      if (fast_scale(s[j]))
        _mm512_storeu_si512(o + j * kMxfp4Block, d.block(b + j * 16, s[j]));
      else
        block_scalar(b + j * 16, s + j, o + j * kMxfp4Block);
    }
  }
}

namespace {

// acc += the 32 products of one decoded block w with 32 activations x (bf16 or f32).
inline void dot_block(__m512& acc, const uint16_t* x, __m512i w) {
  acc = _mm512_dpbf16_ps(acc, (__m512bh)_mm512_loadu_si512(x), (__m512bh)w);
}
inline void dot_block(__m512& acc, const float* x, __m512i w) {
  // bf16 -> f32 is exact: the bf16 bits in the high half of each 32-bit lane.
  const __m512 lo = _mm512_castsi512_ps(
      _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(w)), 16));
  const __m512 hi = _mm512_castsi512_ps(
      _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(w, 1)), 16));
  acc = _mm512_fmadd_ps(_mm512_loadu_ps(x), lo, acc);
  acc = _mm512_fmadd_ps(_mm512_loadu_ps(x + 16), hi, acc);
}

template <typename X>
void gemm_small(const X* x, int64_t M, int64_t K, int64_t ldx, const uint8_t* blocks,
                const uint8_t* scales, int64_t n0, int64_t n1, float* y, int64_t ldy) {
  const Decoder d;
  const int64_t nb = K / kMxfp4Block;
  alignas(64) uint16_t tmp[kMxfp4Block];
  for (int64_t m0 = 0; m0 < M; m0 += 4) {
    const int64_t mc = std::min<int64_t>(4, M - m0);
    for (int64_t n = n0; n < n1; ++n) {
      const uint8_t* b = blocks + n * (K / 2);
      const uint8_t* s = scales + n * nb;
      __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                       _mm512_setzero_ps()};
      for (int64_t j = 0; j < nb; ++j) {
        __m512i w;
        if (fast_scale(s[j])) {
          w = d.block(b + j * 16, s[j]);
        } else {
          block_scalar(b + j * 16, s + j, tmp);
          w = _mm512_load_si512(tmp);
        }
        for (int64_t m = 0; m < mc; ++m)
          dot_block(acc[m], x + (m0 + m) * ldx + j * kMxfp4Block, w);
      }
      for (int64_t m = 0; m < mc; ++m) y[(m0 + m) * ldy + n] = hsum(acc[m]);
    }
  }
}

}  // namespace

void gemm_mxfp4_small(const uint16_t* x, int64_t M, int64_t K, int64_t ldx, const uint8_t* blocks,
                      const uint8_t* scales, int64_t n0, int64_t n1, float* y, int64_t ldy) {
  isa_entry_check(Isa::kAvx512Bf16, __func__);
  gemm_small(x, M, K, ldx, blocks, scales, n0, n1, y, ldy);
}

void gemm_mxfp4_small_f32(const float* x, int64_t M, int64_t K, int64_t ldx,
                          const uint8_t* blocks, const uint8_t* scales, int64_t n0, int64_t n1,
                          float* y, int64_t ldy) {
  isa_entry_check(Isa::kAvx512Bf16, __func__);
  gemm_small(x, M, K, ldx, blocks, scales, n0, n1, y, ldy);
}

}  // namespace moe::cpu::avx512bf16
