// AVX2 + FMA + F16C kernels (see kernels.h): the same computations as the AVX512-BF16 level's,
// with bf16 operands widened to f32 (exact: the bf16 bits are the high half of an f32) and f32
// fused multiply-adds, since AVX2 has no bf16 dot product. This file alone is compiled with
// -mavx2 -mfma -mf16c; every helper lives in moe::cpu::avx2's anonymous namespace and no inline
// function of another header is called (an out-of-line copy compiled here could be the one the
// linker keeps for the whole program).
//
// bf16 pairs: a 256-bit load of 16 bf16 values gives the even-indexed ones as f32 by a 16-bit
// left shift of each 32-bit lane and the odd-indexed ones by masking the low halves, so every
// product below is an exact f32 product of two bf16 values.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "runtime/backend/cpu/level_kernels.h"

namespace moe::cpu::avx2 {

namespace {

inline int64_t min64(int64_t a, int64_t b) {
  return a < b ? a : b;
}
inline int64_t max64(int64_t a, int64_t b) {
  return a > b ? a : b;
}

// moe::f32_to_bf16 (runtime/core/dtype.h), restated here: round to nearest even, NaN kept and
// made quiet.
inline uint16_t bf16_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

inline float f32_of(uint16_t b) {
  const uint32_t u = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// The even-indexed (low halves) and odd-indexed (high halves) bf16 values of 16, as 8 f32.
inline __m256 even_f32(__m256i v) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}
inline __m256 odd_f32(__m256i v) {
  return _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32(int32_t(0xffff0000u))));
}

// bf16_of for 8 lanes, each result in the low half of its 32-bit lane (high half zero).
inline __m256i bf16_lanes(__m256 x) {
  const __m256i u = _mm256_castps_si256(x);
  const __m256i abs = _mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff));
  const __m256i nan = _mm256_cmpgt_epi32(abs, _mm256_set1_epi32(0x7f800000));
  const __m256i hi = _mm256_srli_epi32(u, 16);
  const __m256i bias =
      _mm256_add_epi32(_mm256_set1_epi32(0x7fff), _mm256_and_si256(hi, _mm256_set1_epi32(1)));
  const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(u, bias), 16);
  const __m256i quiet = _mm256_or_si256(hi, _mm256_set1_epi32(0x40));
  return _mm256_blendv_epi8(rounded, quiet, nan);
}

// 16 floats (a: 0..7, b: 8..15) to 16 bf16 in order.
inline __m256i bf16x16(__m256 a, __m256 b) {
  const __m256i p = _mm256_packus_epi32(bf16_lanes(a), bf16_lanes(b));  // a0-3 b0-3 | a4-7 b4-7
  return _mm256_permute4x64_epi64(p, 0xd8);
}

// 8 floats to 8 bf16 in order.
inline __m128i bf16x8(__m256 a) {
  const __m256i l = bf16_lanes(a);
  return _mm_packus_epi32(_mm256_castsi256_si128(l), _mm256_extracti128_si256(l, 1));
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// exp(x) for 8 lanes: the AVX512-BF16 level's exp512 (Cephes expf polynomial), with 2^n applied
// as two exact power-of-two multiplies (n in [-126, 128]; each factor a normal float), which
// rounds once where the result is subnormal, as scalef does.
inline __m256 exp256(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.33654f)), _mm256_set1_ps(88.37626f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1);
  const __m256i n2 = _mm256_sub_epi32(ni, n1);
  const __m256 f1 =
      _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
  const __m256 f2 =
      _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, f1), f2);
}

inline __m256 silu256(__m256 g) {
  const __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), g));
  return _mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

}  // namespace

void f32_to_bf16(const float* x, uint16_t* out, int64_t n) {
  isa_entry_check(Isa::kAvx2, __func__);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                        bf16x16(_mm256_loadu_ps(x + i), _mm256_loadu_ps(x + i + 8)));
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), bf16x8(_mm256_loadu_ps(x + i)));
  for (; i < n; ++i) out[i] = bf16_of(x[i]);
}

void silu_mul_bf16(const float* g, const float* u, uint16_t* out, int64_t n) {
  isa_entry_check(Isa::kAvx2, __func__);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 a = _mm256_mul_ps(silu256(_mm256_loadu_ps(g + i)), _mm256_loadu_ps(u + i));
    const __m256 b = _mm256_mul_ps(silu256(_mm256_loadu_ps(g + i + 8)), _mm256_loadu_ps(u + i + 8));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), bf16x16(a, b));
  }
  for (; i < n; i += 8) {
    const int64_t c = min64(8, n - i);
    alignas(32) float gt[8] = {}, ut[8] = {};
    alignas(16) uint16_t ot[8];
    std::memcpy(gt, g + i, size_t(c) * 4);
    std::memcpy(ut, u + i, size_t(c) * 4);
    _mm_store_si128(reinterpret_cast<__m128i*>(ot),
                    bf16x8(_mm256_mul_ps(silu256(_mm256_load_ps(gt)), _mm256_load_ps(ut))));
    std::memcpy(out + i, ot, size_t(c) * 2);
  }
}

void silu_mul_f32(const float* g, const float* u, float* out, int64_t n) {
  isa_entry_check(Isa::kAvx2, __func__);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i,
                     _mm256_mul_ps(silu256(_mm256_loadu_ps(g + i)), _mm256_loadu_ps(u + i)));
  if (i < n) {
    const int64_t c = n - i;
    alignas(32) float gt[8] = {}, ut[8] = {}, ot[8];
    std::memcpy(gt, g + i, size_t(c) * 4);
    std::memcpy(ut, u + i, size_t(c) * 4);
    _mm256_store_ps(ot, _mm256_mul_ps(silu256(_mm256_load_ps(gt)), _mm256_load_ps(ut)));
    std::memcpy(out + i, ot, size_t(c) * 4);
  }
}

void kv_store_bf16(const float* k, const float* v, int D, int j, uint16_t* kblk, uint16_t* vblk) {
  isa_entry_check(Isa::kAvx2, __func__);
  // K: dims (d, d + 1) of key j are the 32-bit word (d / 2) * 16 + j. V: dim d of key j is
  // element ((j / 2) * D + d) * 2 + j % 2. One token: converted 64 dims at a time, then placed.
  uint32_t* kw = reinterpret_cast<uint32_t*>(kblk) + j;
  uint16_t* vrow = vblk + (j / 2) * D * 2 + j % 2;
  alignas(32) uint16_t kb[64], vb[64];
  for (int d0 = 0; d0 < D; d0 += 64) {
    const int c = int(min64(64, D - d0));  // even
    int i = 0;
    for (; i + 16 <= c; i += 16) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(kb + i),
                         bf16x16(_mm256_loadu_ps(k + d0 + i), _mm256_loadu_ps(k + d0 + i + 8)));
      _mm256_store_si256(reinterpret_cast<__m256i*>(vb + i),
                         bf16x16(_mm256_loadu_ps(v + d0 + i), _mm256_loadu_ps(v + d0 + i + 8)));
    }
    for (; i < c; ++i) {
      kb[i] = bf16_of(k[d0 + i]);
      vb[i] = bf16_of(v[d0 + i]);
    }
    for (int p = 0; p < c / 2; ++p)
      kw[(d0 / 2 + p) * 16] = uint32_t(kb[2 * p]) | (uint32_t(kb[2 * p + 1]) << 16);
    for (int d = 0; d < c; ++d) vrow[2 * (d0 + d)] = vb[d];
  }
}

namespace {

// ---- attention ---------------------------------------------------------------------------------

constexpr int kMaxHeadDim = 256;

// Query rows rounded to bf16, as f32, split into even and odd dimensions: qe[d/2] = q[d] for
// even d, qo[d/2] = q[d + 1].
struct QueryRows {
  alignas(32) float qe[kAttentionTileRows][kMaxHeadDim / 2];
  alignas(32) float qo[kAttentionTileRows][kMaxHeadDim / 2];
};

// Scores of R query rows against the 16 keys of blocks [b0, b1), scaled, into
// s[r][(b - b0) * 16 + key]; each K load serves every row. Per row and per half block (keys
// 0..7, 8..15), two accumulators (even and odd dimensions) over the dimension pairs in order,
// whatever R: each row's scores are those of the row alone. H: the halves done together (2,
// R <= 2) or one after the other (1: fewer live accumulators); the same sums either way.
template <int R, int H>
void qk_tile(const QueryRows& q, int D, const int32_t* blocks, const uint16_t* kbase,
             int64_t block_stride, int64_t b0, int64_t b1, float scale, float* const* s) {
  const __m256 sc = _mm256_set1_ps(scale);
  for (int64_t b = b0; b < b1; ++b) {
    const uint16_t* kb = kbase + int64_t(blocks[b]) * block_stride;
    for (int h0 = 0; h0 < 2; h0 += H) {
      __m256 ae[R][H], ao[R][H];
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
        for (int h = 0; h < H; ++h) ae[r][h] = ao[r][h] = _mm256_setzero_ps();
      for (int d2 = 0; d2 < D / 2; ++d2) {
        __m256 ke[H], ko[H];
#pragma GCC unroll 16
        for (int h = 0; h < H; ++h) {
          const __m256i v =
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kb + d2 * 32 + (h0 + h) * 16));
          ke[h] = even_f32(v);
          ko[h] = odd_f32(v);
        }
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
          const __m256 qe = _mm256_broadcast_ss(&q.qe[r][d2]);
          const __m256 qo = _mm256_broadcast_ss(&q.qo[r][d2]);
#pragma GCC unroll 16
          for (int h = 0; h < H; ++h) {
            ae[r][h] = _mm256_fmadd_ps(ke[h], qe, ae[r][h]);
            ao[r][h] = _mm256_fmadd_ps(ko[h], qo, ao[r][h]);
          }
        }
      }
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
        for (int h = 0; h < H; ++h)
          _mm256_storeu_ps(s[r] + (b - b0) * 16 + (h0 + h) * 8,
                           _mm256_mul_ps(_mm256_add_ps(ae[r][h], ao[r][h]), sc));
    }
  }
}

// Softmax (f32) in place over s[0, n) (n a multiple of 16), the scores of keys [base, base + n),
// of which only [j0, j1) are attended (the rest become 0); probabilities normalised before they
// weight V.
void softmax_row(float* s, int64_t base, int64_t n, int64_t j0, int64_t j1, const float* sink) {
  const float ninf = -__builtin_huge_valf();
  for (int64_t j = base; j < j0; ++j) s[j - base] = ninf;
  for (int64_t j = j1; j < base + n; ++j) s[j - base] = ninf;
  __m256 mv = _mm256_set1_ps(sink ? *sink : ninf);
  for (int64_t i = 0; i < n; i += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(s + i));
  const float m = hmax(mv);
  const __m256 mm = _mm256_set1_ps(m), vninf = _mm256_set1_ps(ninf);
  __m256 sv = _mm256_setzero_ps();
  for (int64_t i = 0; i < n; i += 8) {
    const __m256 x = _mm256_loadu_ps(s + i);
    const __m256 live = _mm256_cmp_ps(x, vninf, _CMP_NEQ_OQ);
    const __m256 e = _mm256_and_ps(live, exp256(_mm256_sub_ps(x, mm)));
    _mm256_storeu_ps(s + i, e);
    sv = _mm256_add_ps(sv, e);
  }
  float denom = hsum(sv);
  if (sink) denom += __builtin_expf(*sink - m);
  const __m256 inv = _mm256_set1_ps(1.0f / denom);
  for (int64_t i = 0; i < n; i += 8)
    _mm256_storeu_ps(s + i, _mm256_mul_ps(_mm256_loadu_ps(s + i), inv));
}

// Rounds each row's probabilities p[r][0, n) (n a multiple of 16) to bf16 in place: key j's
// bf16 at byte 2 j of p[r], so key pair j / 2 is the 32-bit word at byte 4 (j / 2). Chunk i's
// 16 halves land in bytes [32 i, 32 i + 32), within floats already read.
void pack_probabilities(int R, float* const* p, int64_t n) {
  for (int r = 0; r < R; ++r) {
    uint16_t* out = reinterpret_cast<uint16_t*>(p[r]);
    for (int64_t i = 0; i < n; i += 16)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                          bf16x16(_mm256_loadu_ps(p[r] + i), _mm256_loadu_ps(p[r] + i + 8)));
  }
}

inline uint32_t packed_pair(const float* packed, int64_t pair) {
  uint32_t w;
  std::memcpy(&w, reinterpret_cast<const char*>(packed) + 4 * pair, 4);
  return w;
}

// out[r][8 (c0 + c) ...] = p[r] . V for CG chunks of 8 dims from chunk c0 (of NC = ceil(D / 8),
// the last one masked to D), over keys [b0 * 16, b0 * 16 + n); pk[r]: row r's probabilities as
// bf16 pairs. Each V load serves every row; per row and chunk one accumulator, the even key's
// product then the odd key's, key pairs in order. Pairs whose probabilities are 0 in every row
// are skipped; a row whose pair is 0 while another's is not adds zero products, which leave its
// sums bitwise unchanged (an f32 sum from +0 never becomes -0, and x + 0 = x), so each row's
// sums equal those of the row alone.
template <int R, int CG>
void pv_tile(const float* const* pk, int64_t n, int D, int c0, const int32_t* blocks, int64_t b0,
             const uint16_t* vbase, int64_t block_stride, float* const* out) {
  const int NC = (D + 7) / 8, tail = D - (NC - 1) * 8;
  const __m256i tail_mask =
      _mm256_cmpgt_epi32(_mm256_set1_epi32(tail), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  const __m256i all = _mm256_set1_epi32(-1);
  __m256 acc[R][CG];
  __m256i mask[CG];
#pragma GCC unroll 16
  for (int c = 0; c < CG; ++c) {
    mask[c] = c0 + c < NC - 1 ? all : tail_mask;
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) acc[r][c] = _mm256_setzero_ps();
  }
  const bool masked = c0 + CG == NC && tail < 8;
  for (int64_t j = 0; j < n; j += 2) {
    uint32_t w[R], any = 0;
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      w[r] = packed_pair(pk[r], j / 2);
      any |= w[r];
    }
    if (any == 0) continue;
    const int64_t key = b0 * 16 + j;
    const uint16_t* vb =
        vbase + int64_t(blocks[key / 16]) * block_stride + ((key % 16) / 2) * D * 2 + c0 * 16;
    __m256 pe[R], po[R];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      pe[r] = _mm256_castsi256_ps(_mm256_set1_epi32(int32_t(w[r] << 16)));
      po[r] = _mm256_castsi256_ps(_mm256_set1_epi32(int32_t(w[r] & 0xffff0000u)));
    }
#pragma GCC unroll 16
    for (int c = 0; c < CG; ++c) {
      const int* src = reinterpret_cast<const int*>(vb + c * 16);
      const __m256i v = masked && c == CG - 1
                            ? _mm256_maskload_epi32(src, mask[c])
                            : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
      const __m256 ve = even_f32(v), vo = odd_f32(v);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        acc[r][c] = _mm256_fmadd_ps(ve, pe[r], acc[r][c]);
        acc[r][c] = _mm256_fmadd_ps(vo, po[r], acc[r][c]);
      }
    }
  }
#pragma GCC unroll 16
  for (int c = 0; c < CG; ++c)
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      float* o = out[r] + (c0 + c) * 8;
      if (masked && c == CG - 1)
        _mm256_maskstore_ps(o, mask[c], acc[r][c]);
      else
        _mm256_storeu_ps(o, acc[r][c]);
    }
}

// Chunks per pass for R rows: at most 8 accumulators.
constexpr int kPvChunks[kAttentionTileRows + 1] = {0, 8, 4, 2, 2};

using PvFn = void (*)(const float* const*, int64_t, int, int, const int32_t*, int64_t,
                      const uint16_t*, int64_t, float* const*);

// pv_tile for a last pass of CG (< kPvChunks[R]) chunks; null where no such pass occurs.
template <int R, int CG>
constexpr PvFn pv_tail() {
  if constexpr (CG < kPvChunks[R])
    return &pv_tile<R, CG>;
  else
    return nullptr;
}
template <int R>
constexpr PvFn kPvTail[8] = {nullptr,         pv_tail<R, 1>(), pv_tail<R, 2>(), pv_tail<R, 3>(),
                             pv_tail<R, 4>(), pv_tail<R, 5>(), pv_tail<R, 6>(), pv_tail<R, 7>()};

template <int R>
void pv_rows(const float* const* pk, int64_t n, int D, const int32_t* blocks, int64_t b0,
             const uint16_t* vbase, int64_t block_stride, float* const* out) {
  constexpr int G = kPvChunks[R];
  const int NC = (D + 7) / 8;
  int c0 = 0;
  for (; c0 + G <= NC; c0 += G) pv_tile<R, G>(pk, n, D, c0, blocks, b0, vbase, block_stride, out);
  if (c0 < NC) kPvTail<R>[NC - c0](pk, n, D, c0, blocks, b0, vbase, block_stride, out);
}

}  // namespace

void attention_rows_bf16(int rows, const float* const* q, int D, const int32_t* blocks,
                         const uint16_t* kbase, const uint16_t* vbase, int64_t block_stride,
                         const int64_t* j0, const int64_t* j1, float scale, const float* sink,
                         float* scratch, float* const* out) {
  isa_entry_check(Isa::kAvx2, __func__);
  QueryRows qr;
  int64_t lo = j0[0], hi = j1[0];
  for (int r = 0; r < rows; ++r) {
    for (int d2 = 0; d2 < D / 2; ++d2) {
      qr.qe[r][d2] = f32_of(bf16_of(q[r][2 * d2]));
      qr.qo[r][d2] = f32_of(bf16_of(q[r][2 * d2 + 1]));
    }
    lo = min64(lo, j0[r]);
    hi = max64(hi, j1[r]);
  }
  const int64_t b0 = lo / 16, b1 = (hi + 15) / 16, n = (b1 - b0) * 16;
  float* s[kAttentionTileRows];
  for (int r = 0; r < rows; ++r) s[r] = scratch + r * (n + 16);
  switch (rows) {
    case 1:
      qk_tile<1, 2>(qr, D, blocks, kbase, block_stride, b0, b1, scale, s);
      break;
    case 2:
      qk_tile<2, 2>(qr, D, blocks, kbase, block_stride, b0, b1, scale, s);
      break;
    case 3:
      qk_tile<3, 1>(qr, D, blocks, kbase, block_stride, b0, b1, scale, s);
      break;
    default:
      qk_tile<4, 1>(qr, D, blocks, kbase, block_stride, b0, b1, scale, s);
      break;
  }
  for (int r = 0; r < rows; ++r) softmax_row(s[r], b0 * 16, n, j0[r], j1[r], sink);
  pack_probabilities(rows, s, n);
  switch (rows) {
    case 1:
      pv_rows<1>(s, n, D, blocks, b0, vbase, block_stride, out);
      break;
    case 2:
      pv_rows<2>(s, n, D, blocks, b0, vbase, block_stride, out);
      break;
    case 3:
      pv_rows<3>(s, n, D, blocks, b0, vbase, block_stride, out);
      break;
    default:
      pv_rows<4>(s, n, D, blocks, b0, vbase, block_stride, out);
      break;
  }
}

const Kernels kTable = {Isa::kAvx2,
                        &f32_to_bf16,
                        &gemm_bf16_small,
                        &gemm_bf16_large,
                        &gemm_bf16_large_scratch,
                        &gemm_bf16_small_panels,
                        &gemm_bf16_large_panels,
                        &silu_mul_bf16,
                        &silu_mul_f32,
                        &kv_store_bf16,
                        &attention_rows_bf16,
                        nullptr /*amx*/,
                        &mxfp4_rows_to_bf16,
                        &gemm_mxfp4_small,
                        &gemm_mxfp4_small_f32};

}  // namespace moe::cpu::avx2
