// MXFP4 kernels of the AVX2 level (kernels.h), AVX2 + FMA. One 32-value block at a time, decoded
// in registers straight to f32:
//   16 bytes -> the 32 nibble indices, in an order chosen so that the unpacks below give the
//   layout wanted -> vpshufb through the bytes of the bf16 table of the 16 FP4 E2M1 values (high
//   bytes and low bytes) -> unpacked with zeros into f32 bit patterns -> multiplied by the block
//   scale 2^(s-127) as an f32.
// The products are exact for every scale byte (an FP4 value has at most two significant bits,
// and each result is a normal or subnormal f32 with its low 16 bits zero, or inf, or NaN for
// s = 255), so they are the values decode_mxfp4 gives, and those of the AVX512-BF16 level's
// decode to bf16 (whose slow path rounds decode_mxfp4's f32 to bf16, exactly). No scalar path.
// This file alone is compiled with -mavx2 -mfma -mf16c; helpers live in moe::cpu::avx2's
// anonymous namespace and no inline function of another header is called.
#include <immintrin.h>

#include <cstdint>

#include "runtime/backend/cpu/level_kernels.h"

namespace moe::cpu::avx2 {

namespace {

constexpr int kBlock = 32;  // values per E8M0 scale (kMxfp4Block, runtime/core/dtype.h)

// bf16 bits of the FP4 E2M1 values 0, .5, 1, 1.5, 2, 3, 4, 6 and their negatives (-0 first).
constexpr uint16_t kFp4Bf16[16] = {0x0000, 0x3F00, 0x3F80, 0x3FC0, 0x4000, 0x4040, 0x4080, 0x40C0,
                                   0x8000, 0xBF00, 0xBF80, 0xBFC0, 0xC000, 0xC040, 0xC080, 0xC0C0};

// f32 bits of the E8M0 scale 2^(s - 127): s = 0 is the subnormal 2^-127, s = 255 NaN (the quiet
// NaN e8m0_to_f32 gives).
struct ScaleTable {
  uint32_t bits[256];
};
constexpr ScaleTable make_scales() {
  ScaleTable t{};
  t.bits[0] = 0x00400000u;
  for (int s = 1; s < 255; ++s) t.bits[s] = uint32_t(s) << 23;
  t.bits[255] = 0x7fc00000u;
  return t;
}
constexpr ScaleTable kScales = make_scales();

// The order of the 4 x 8 f32 a decoded block comes out in.
enum class Layout {
  kConsecutive,  // elements 0..7, 8..15, 16..23, 24..31
  kEvenOdd,      // even elements of 0..15, odd of 0..15, even of 16..31, odd of 16..31 (the
                 // order even_f32 / odd_f32 of 16 bf16 activations give)
};

template <Layout L>
struct Decoder {
  __m256i gather, lut_lo, lut_hi;
  Decoder() {
    alignas(32) uint8_t g[32], lo[32], hi[32];
    // Source bytes of each 128-bit lane's first 8 bytes (the rest unused): the nibble indices
    // are made from them by unpacklo(lo nibbles, hi nibbles), bytes (kConsecutive) or 32-bit
    // groups (kEvenOdd) at a time.
    static constexpr uint8_t kCons[16] = {0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15};
    static constexpr uint8_t kEo[16] = {0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 12, 13, 14, 15};
    const uint8_t* src = L == Layout::kConsecutive ? kCons : kEo;
    for (int i = 0; i < 8; ++i) {
      g[i] = g[8 + i] = src[i];
      g[16 + i] = g[24 + i] = src[8 + i];
    }
    for (int i = 0; i < 32; ++i) {
      lo[i] = uint8_t(kFp4Bf16[i % 16] & 0xff);
      hi[i] = uint8_t(kFp4Bf16[i % 16] >> 8);
    }
    gather = _mm256_load_si256(reinterpret_cast<const __m256i*>(g));
    lut_lo = _mm256_load_si256(reinterpret_cast<const __m256i*>(lo));
    lut_hi = _mm256_load_si256(reinterpret_cast<const __m256i*>(hi));
  }
  // The 32 values of the block at b (16 bytes) with scale byte s, in layout L.
  inline void block(const uint8_t* b, uint8_t s, __m256 (&w)[4]) const {
    const __m256i nib = _mm256_set1_epi8(0x0f);
    const __m256i v = _mm256_shuffle_epi8(
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b))), gather);
    const __m256i lo = _mm256_and_si256(v, nib);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), nib);
    const __m256i idx =
        L == Layout::kConsecutive ? _mm256_unpacklo_epi8(lo, hi) : _mm256_unpacklo_epi32(lo, hi);
    const __m256i vh = _mm256_shuffle_epi8(lut_hi, idx);
    const __m256i vl = _mm256_shuffle_epi8(lut_lo, idx);
    const __m256i p = _mm256_unpacklo_epi8(vl, vh), q = _mm256_unpackhi_epi8(vl, vh);
    const __m256i z = _mm256_setzero_si256();
    const __m256 sc = _mm256_castsi256_ps(_mm256_set1_epi32(int32_t(kScales.bits[s])));
    w[0] = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_unpacklo_epi16(z, p)), sc);
    w[1] = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_unpackhi_epi16(z, p)), sc);
    w[2] = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_unpacklo_epi16(z, q)), sc);
    w[3] = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_unpackhi_epi16(z, q)), sc);
  }
};

// Exact f32 to bf16 of 16 decoded values (their low 16 bits are zero).
inline __m256i to_bf16(__m256 a, __m256 b) {
  const __m256i p = _mm256_packus_epi32(_mm256_srli_epi32(_mm256_castps_si256(a), 16),
                                        _mm256_srli_epi32(_mm256_castps_si256(b), 16));
  return _mm256_permute4x64_epi64(p, 0xd8);
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// acc[i] += w[i] * (the block's activations in w's layout), i = 0..3.
inline void dot_block(__m256 (&acc)[4], const uint16_t* x, const __m256 (&w)[4]) {
  const __m256i mask = _mm256_set1_epi32(int32_t(0xffff0000u));
  const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
  const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 16));
  acc[0] = _mm256_fmadd_ps(w[0], _mm256_castsi256_ps(_mm256_slli_epi32(x0, 16)), acc[0]);
  acc[1] = _mm256_fmadd_ps(w[1], _mm256_castsi256_ps(_mm256_and_si256(x0, mask)), acc[1]);
  acc[2] = _mm256_fmadd_ps(w[2], _mm256_castsi256_ps(_mm256_slli_epi32(x1, 16)), acc[2]);
  acc[3] = _mm256_fmadd_ps(w[3], _mm256_castsi256_ps(_mm256_and_si256(x1, mask)), acc[3]);
}
inline void dot_block(__m256 (&acc)[4], const float* x, const __m256 (&w)[4]) {
  acc[0] = _mm256_fmadd_ps(w[0], _mm256_loadu_ps(x), acc[0]);
  acc[1] = _mm256_fmadd_ps(w[1], _mm256_loadu_ps(x + 8), acc[1]);
  acc[2] = _mm256_fmadd_ps(w[2], _mm256_loadu_ps(x + 16), acc[2]);
  acc[3] = _mm256_fmadd_ps(w[3], _mm256_loadu_ps(x + 24), acc[3]);
}

template <typename X>
constexpr Layout kLayoutFor = sizeof(X) == 2 ? Layout::kEvenOdd : Layout::kConsecutive;

// One weight row (b: K/2 bytes, s: K/32 scales) against MT token rows: every output sums its
// products in 4 accumulators (the 4 vectors of each block) over the blocks in order, then
// hsum((a0 + a1) + (a2 + a3)), whatever M.
template <int MT, typename X>
inline void mx_row(const Decoder<kLayoutFor<X>>& d, const X* x, int64_t ldx, int64_t nb,
                   const uint8_t* b, const uint8_t* s, float* y, int64_t ldy) {
  __m256 acc[MT][4];
#pragma GCC unroll 16
  for (int t = 0; t < MT; ++t)
#pragma GCC unroll 16
    for (int i = 0; i < 4; ++i) acc[t][i] = _mm256_setzero_ps();
  for (int64_t j = 0; j < nb; ++j) {
    __m256 w[4];
    d.block(b + j * 16, s[j], w);
#pragma GCC unroll 16
    for (int t = 0; t < MT; ++t) dot_block(acc[t], x + t * ldx + j * kBlock, w);
  }
#pragma GCC unroll 16
  for (int t = 0; t < MT; ++t)
    y[t * ldy] = hsum(
        _mm256_add_ps(_mm256_add_ps(acc[t][0], acc[t][1]), _mm256_add_ps(acc[t][2], acc[t][3])));
}

template <typename X>
void gemm_small(const X* x, int64_t M, int64_t K, int64_t ldx, const uint8_t* blocks,
                const uint8_t* scales, int64_t n0, int64_t n1, float* y, int64_t ldy) {
  const Decoder<kLayoutFor<X>> d;
  const int64_t nb = K / kBlock;
  // Row by row, the row's bytes staying in L1 while the tokens pass 2 at a time (8 accumulators
  // next to the 4 decoded vectors).
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* b = blocks + n * (K / 2);
    const uint8_t* s = scales + n * nb;
    int64_t m = 0;
    for (; m + 2 <= M; m += 2) mx_row<2>(d, x + m * ldx, ldx, nb, b, s, y + m * ldy + n, ldy);
    if (m < M) mx_row<1>(d, x + m * ldx, ldx, nb, b, s, y + m * ldy + n, ldy);
  }
}

}  // namespace

void mxfp4_rows_to_bf16(const uint8_t* blocks, const uint8_t* scales, int64_t K, int64_t n0,
                        int64_t n1, uint16_t* out) {
  isa_entry_check(Isa::kAvx2, __func__);
  const Decoder<Layout::kConsecutive> d;
  const int64_t nb = K / kBlock;
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* b = blocks + n * (K / 2);
    const uint8_t* s = scales + n * nb;
    uint16_t* o = out + (n - n0) * K;
    for (int64_t j = 0; j < nb; ++j) {
      __m256 w[4];
      d.block(b + j * 16, s[j], w);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + j * kBlock), to_bf16(w[0], w[1]));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + j * kBlock + 16), to_bf16(w[2], w[3]));
    }
  }
}

void gemm_mxfp4_small(const uint16_t* x, int64_t M, int64_t K, int64_t ldx, const uint8_t* blocks,
                      const uint8_t* scales, int64_t n0, int64_t n1, float* y, int64_t ldy) {
  isa_entry_check(Isa::kAvx2, __func__);
  gemm_small(x, M, K, ldx, blocks, scales, n0, n1, y, ldy);
}

void gemm_mxfp4_small_f32(const float* x, int64_t M, int64_t K, int64_t ldx, const uint8_t* blocks,
                          const uint8_t* scales, int64_t n0, int64_t n1, float* y, int64_t ldy) {
  isa_entry_check(Isa::kAvx2, __func__);
  gemm_small(x, M, K, ldx, blocks, scales, n0, n1, y, ldy);
}

}  // namespace moe::cpu::avx2
