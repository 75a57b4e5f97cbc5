// The avx512_bf16 level's kernels (AVX-512 BF16: vdpbf16ps) and the amx level's attention
// (AMX-BF16 tiles); see kernels.h. This file alone is compiled with -mavx512bf16, -mamx-bf16 & co.
// GCC 12's _mm512_reduce_* use an intentionally undefined register that -Wuninitialized flags.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include "runtime/backend/cpu/level_kernels.h"

namespace moe::cpu::avx512bf16 {

namespace {

inline __m512bh as_bh(__m512i v) {
  return (__m512bh)v;
}

inline __m256i cvt_bf16(__m512 v) {
  return (__m256i)_mm512_cvtneps_pbh(v);
}

// exp(x) for 16 lanes, relative error ~2 ulp (Cephes expf polynomial, 2^n by scalef).
inline __m512 exp512(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.33654f)), _mm512_set1_ps(88.37626f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

inline __m512 silu512(__m512 g) {
  const __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), g));
  return _mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

inline uint32_t pack_bf16_pair(float a, float b) {
  const __m128 v = _mm_set_ps(0.0f, 0.0f, b, a);
  const __m128i h = (__m128i)_mm_cvtneps_pbh(v);
  return uint32_t(_mm_cvtsi128_si32(h));
}

// NR weight rows x MR token rows of y, over the whole K.
template <int NR, int MR>
void small_tile(const uint16_t* x, int64_t K, int64_t ldx, const uint16_t* w, int64_t ldw, float* y,
                int64_t ldy) {
  __m512 acc[NR][MR];
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < MR; ++t) acc[r][t] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 32 <= K; k += 32) {
    __m512i wv[NR], xv[MR];
    for (int r = 0; r < NR; ++r) wv[r] = _mm512_loadu_si512(w + r * ldw + k);
    for (int t = 0; t < MR; ++t) xv[t] = _mm512_loadu_si512(x + t * ldx + k);
    for (int r = 0; r < NR; ++r)
      for (int t = 0; t < MR; ++t)
        acc[r][t] = _mm512_dpbf16_ps(acc[r][t], as_bh(wv[r]), as_bh(xv[t]));
  }
  if (k < K) {
    const __mmask32 m = __mmask32((uint64_t(1) << (K - k)) - 1);
    __m512i wv[NR], xv[MR];
    for (int r = 0; r < NR; ++r) wv[r] = _mm512_maskz_loadu_epi16(m, w + r * ldw + k);
    for (int t = 0; t < MR; ++t) xv[t] = _mm512_maskz_loadu_epi16(m, x + t * ldx + k);
    for (int r = 0; r < NR; ++r)
      for (int t = 0; t < MR; ++t)
        acc[r][t] = _mm512_dpbf16_ps(acc[r][t], as_bh(wv[r]), as_bh(xv[t]));
  }
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < MR; ++t) y[t * ldy + r] = _mm512_reduce_add_ps(acc[r][t]);
}

template <int NR>
void small_rows(const uint16_t* x, int64_t M, int64_t K, int64_t ldx, const uint16_t* w,
                int64_t ldw, float* y, int64_t ldy) {
  int64_t m = 0;
  for (; m + 4 <= M; m += 4) small_tile<NR, 4>(x + m * ldx, K, ldx, w, ldw, y + m * ldy, ldy);
  switch (M - m) {
    case 3:
      small_tile<NR, 3>(x + m * ldx, K, ldx, w, ldw, y + m * ldy, ldy);
      break;
    case 2:
      small_tile<NR, 2>(x + m * ldx, K, ldx, w, ldw, y + m * ldy, ldy);
      break;
    case 1:
      small_tile<NR, 1>(x + m * ldx, K, ldx, w, ldw, y + m * ldy, ldy);
      break;
    default:
      break;
  }
}

}  // namespace

void f32_to_bf16(const float* x, uint16_t* out, int64_t n) {
  isa_entry_check(Isa::kAvx512Bf16, __func__);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256((__m256i*)(out + i), cvt_bf16(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = __mmask16((1u << (n - i)) - 1);
    _mm256_mask_storeu_epi16(out + i, m, cvt_bf16(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

void gemm_bf16_small(const uint16_t* x, int64_t M, int64_t K, int64_t ldx, const uint16_t* w,
                     int64_t ldw, int64_t n0, int64_t n1, float* y, int64_t ldy) {
  isa_entry_check(Isa::kAvx512Bf16, __func__);
  int64_t n = n0;
  // Up to 3 tokens: one weight row at a time, so each thread reads its rows as one sequential
  // stream; 4-row tiles read 4 streams a row apart, which bench/small_gemm_bench measured up to
  // 44% slower at 2 KiB rows (bench/README.md). More tokens reuse each weight load over 4 rows.
  // Every output sums the same products in the same order either way.
  if (M <= 3) {
    for (; n < n1; ++n) small_rows<1>(x, M, K, ldx, w + n * ldw, ldw, y + n, ldy);
    return;
  }
  for (; n + 4 <= n1; n += 4) small_rows<4>(x, M, K, ldx, w + n * ldw, ldw, y + n, ldy);
  switch (n1 - n) {
    case 3:
      small_rows<3>(x, M, K, ldx, w + n * ldw, ldw, y + n, ldy);
      break;
    case 2:
      small_rows<2>(x, M, K, ldx, w + n * ldw, ldw, y + n, ldy);
      break;
    case 1:
      small_rows<1>(x, M, K, ldx, w + n * ldw, ldw, y + n, ldy);
      break;
    default:
      break;
  }
}

void silu_mul_bf16(const float* g, const float* u, uint16_t* out, int64_t n) {
  isa_entry_check(Isa::kAvx512Bf16, __func__);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_mul_ps(silu512(_mm512_loadu_ps(g + i)), _mm512_loadu_ps(u + i));
    _mm256_storeu_si256((__m256i*)(out + i), cvt_bf16(v));
  }
  if (i < n) {
    const __mmask16 m = __mmask16((1u << (n - i)) - 1);
    const __m512 v =
        _mm512_mul_ps(silu512(_mm512_maskz_loadu_ps(m, g + i)), _mm512_maskz_loadu_ps(m, u + i));
    _mm256_mask_storeu_epi16(out + i, m, cvt_bf16(v));
  }
}

void silu_mul_f32(const float* g, const float* u, float* out, int64_t n) {
  isa_entry_check(Isa::kAvx512Bf16, __func__);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(out + i,
                     _mm512_mul_ps(silu512(_mm512_loadu_ps(g + i)), _mm512_loadu_ps(u + i)));
  if (i < n) {
    const __mmask16 m = __mmask16((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(
        out + i, m,
        _mm512_mul_ps(silu512(_mm512_maskz_loadu_ps(m, g + i)), _mm512_maskz_loadu_ps(m, u + i)));
  }
}

void kv_store_bf16(const float* k, const float* v, int D, int j, uint16_t* kblk, uint16_t* vblk) {
  isa_entry_check(Isa::kAvx512Bf16, __func__);
  // K: dims (d, d + 1) are the 32-bit word (d / 2) * 16 + j: 16 pairs at a time, converted
  // together and scattered 16 words apart. V: dim d of key j is element (j / 2) * D * 2 + 2 d +
  // j % 2, so 16 dims at a time, widened to 32-bit lanes with the value in the half j % 2
  // selects, are one masked 16-bit store.
  const __m512i pair_index =
      _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                         _mm512_set1_epi32(16));
  int32_t* kw = reinterpret_cast<int32_t*>(kblk) + j;
  uint16_t* vrow = vblk + (j / 2) * D * 2;
  const __mmask32 vmask = j % 2 ? 0xAAAAAAAAu : 0x55555555u;
  for (int d = 0; d < D; d += 32) {
    const int n = std::min(32, D - d);  // even
    const __mmask16 lo = __mmask16((1u << std::min(16, n)) - 1);
    const __mmask16 hi = __mmask16(n > 16 ? (1u << (n - 16)) - 1 : 0);
    const __m512 k0 = _mm512_maskz_loadu_ps(lo, k + d), k1 = _mm512_maskz_loadu_ps(hi, k + d + 16);
    const __m512i kp = (__m512i)_mm512_cvtne2ps_pbh(k1, k0);  // bf16 of dims d..d+31 in order
    _mm512_mask_i32scatter_epi32(kw + (d / 2) * 16, __mmask16((1u << (n / 2)) - 1), pair_index, kp,
                                 4);
    for (int h = 0; h < n; h += 16) {
      const int m = std::min(16, n - h);
      const __m512i wide = _mm512_cvtepu16_epi32(
          cvt_bf16(_mm512_maskz_loadu_ps(__mmask16((1u << m) - 1), v + d + h)));
      const __m512i placed = j % 2 ? _mm512_slli_epi32(wide, 16) : wide;
      const __mmask32 live = __mmask32((uint64_t(1) << (2 * m)) - 1);
      _mm512_mask_storeu_epi16(vrow + 2 * (d + h), vmask & live, placed);
    }
  }
}

namespace {

// Scores of R query rows (bf16 pairs q2[r]) against the keys of blocks [b0, b1), scaled, into
// s[r][(b - b0) * 16 + key]: each K load serves every row. Per row, the sums are formed exactly
// as for one row alone (two accumulators over even and odd dimension pairs).
template <int R>
void qk_tile(const uint32_t (*q2)[128], int D, const int32_t* blocks, const uint16_t* kbase,
             int64_t block_stride, int64_t b0, int64_t b1, float scale, float* const* s) {
  for (int64_t b = b0; b < b1; ++b) {
    const uint16_t* kb = kbase + int64_t(blocks[b]) * block_stride;
    __m512 a0[R], a1[R];
    for (int r = 0; r < R; ++r) a0[r] = a1[r] = _mm512_setzero_ps();
    int d2 = 0;
    for (; d2 + 2 <= D / 2; d2 += 2) {
      const __m512bh k0 = as_bh(_mm512_loadu_si512(kb + d2 * 32));
      const __m512bh k1 = as_bh(_mm512_loadu_si512(kb + (d2 + 1) * 32));
      for (int r = 0; r < R; ++r) {
        a0[r] = _mm512_dpbf16_ps(a0[r], k0, as_bh(_mm512_set1_epi32(int32_t(q2[r][d2]))));
        a1[r] = _mm512_dpbf16_ps(a1[r], k1, as_bh(_mm512_set1_epi32(int32_t(q2[r][d2 + 1]))));
      }
    }
    if (d2 < D / 2) {
      const __m512bh k0 = as_bh(_mm512_loadu_si512(kb + d2 * 32));
      for (int r = 0; r < R; ++r)
        a0[r] = _mm512_dpbf16_ps(a0[r], k0, as_bh(_mm512_set1_epi32(int32_t(q2[r][d2]))));
    }
    for (int r = 0; r < R; ++r)
      _mm512_storeu_ps(s[r] + (b - b0) * 16,
                       _mm512_mul_ps(_mm512_add_ps(a0[r], a1[r]), _mm512_set1_ps(scale)));
  }
}

// Softmax (f32) in place over s[0, n), the scores of keys [base, base + n) multiplied by `scale`
// first (1: already scaled), of which only [j0, j1) are attended (the rest become 0);
// probabilities normalised before they weight V.
void softmax_row(float* s, int64_t base, int64_t n, int64_t j0, int64_t j1, float scale,
                 const float* sink) {
  const float ninf = -std::numeric_limits<float>::infinity();
  if (scale != 1.0f)
    for (int64_t i = 0; i < n; i += 16)
      _mm512_storeu_ps(s + i, _mm512_mul_ps(_mm512_loadu_ps(s + i), _mm512_set1_ps(scale)));
  for (int64_t j = base; j < j0; ++j) s[j - base] = ninf;
  for (int64_t j = j1; j < base + n; ++j) s[j - base] = ninf;
  __m512 mv = _mm512_set1_ps(sink ? *sink : ninf);
  for (int64_t i = 0; i < n; i += 16) mv = _mm512_max_ps(mv, _mm512_loadu_ps(s + i));
  const float m = _mm512_reduce_max_ps(mv);
  __m512 sv = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __m512 x = _mm512_loadu_ps(s + i);
    const __mmask16 live = _mm512_cmp_ps_mask(x, _mm512_set1_ps(ninf), _CMP_NEQ_OQ);
    const __m512 e = _mm512_maskz_mov_ps(live, exp512(_mm512_sub_ps(x, _mm512_set1_ps(m))));
    _mm512_storeu_ps(s + i, e);
    sv = _mm512_add_ps(sv, e);
  }
  float denom = _mm512_reduce_add_ps(sv);
  if (sink) denom += std::exp(*sink - m);
  const __m512 inv = _mm512_set1_ps(1.0f / denom);
  for (int64_t i = 0; i < n; i += 16)
    _mm512_storeu_ps(s + i, _mm512_mul_ps(_mm512_loadu_ps(s + i), inv));
}

// Rounds each of the rows' probabilities p[r][0, n) (n a multiple of 16) to bf16 in place: key
// pair j / 2 becomes the 32-bit word at byte 4 * (j / 2) of p[r] (packed_pair), as pack_bf16_pair
// gives it (the same conversion instruction), so the value pass converts each probability once.
void pack_probabilities(int R, float* const* p, int64_t n) {
  for (int r = 0; r < R; ++r) {
    uint16_t* out = reinterpret_cast<uint16_t*>(p[r]);
    // Chunk i's 16 halves land in bytes [32 i, 32 i + 32), within chunks already read.
    for (int64_t i = 0; i < n; i += 16)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), cvt_bf16(_mm512_loadu_ps(p[r] + i)));
  }
}

// The bf16 pair `pair` of a row packed by pack_probabilities.
inline uint32_t packed_pair(const float* packed, int64_t pair) {
  uint32_t w;
  std::memcpy(&w, reinterpret_cast<const char*>(packed) + 4 * pair, 4);
  return w;
}

// out[r][16 * (c0 + c)...] = p[r] . V for CG chunks of 16 dims from chunk c0 (the last of the
// NC = ceil(D / 16) chunks masked to D), over keys [b0 * 16, b0 * 16 + n); pk[r] holds row r's
// probabilities as bf16 pairs (pack_probabilities). Each V load serves every row. Key pairs
// whose probabilities are 0 in every row are skipped. A row whose pair is 0 while another's is
// not still accumulates its zero products: they leave its sums bitwise unchanged (an f32 sum
// that starts at +0 never becomes -0, and x + 0 = x), so each row's sums equal those of the
// row alone.
template <int R, int CG>
void pv_tile(const float* const* pk, int64_t n, int D, int c0, const int32_t* blocks, int64_t b0,
             const uint16_t* vbase, int64_t block_stride, float* const* out) {
  const int NC = (D + 15) / 16, tail = D - (NC - 1) * 16;
  __m512 acc[R][CG];
  __mmask32 load_mask[CG];
  for (int c = 0; c < CG; ++c) {
    load_mask[c] = c0 + c < NC - 1 ? ~__mmask32(0) : __mmask32((uint64_t(1) << (2 * tail)) - 1);
    for (int r = 0; r < R; ++r) acc[r][c] = _mm512_setzero_ps();
  }
  for (int64_t j = 0; j < n; j += 2) {
    uint32_t w[R], any = 0;
    for (int r = 0; r < R; ++r) {
      w[r] = packed_pair(pk[r], j / 2);
      any |= w[r];
    }
    if (any == 0) continue;
    const int64_t key = b0 * 16 + j;
    const uint16_t* vb =
        vbase + int64_t(blocks[key / 16]) * block_stride + ((key % 16) / 2) * D * 2;
    __m512bh pp[R];
    for (int r = 0; r < R; ++r) pp[r] = as_bh(_mm512_set1_epi32(int32_t(w[r])));
    for (int c = 0; c < CG; ++c) {
      const __m512bh v = as_bh(_mm512_maskz_loadu_epi16(load_mask[c], vb + (c0 + c) * 32));
      for (int r = 0; r < R; ++r) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], v, pp[r]);
    }
  }
  for (int c = 0; c < CG; ++c) {
    const __mmask16 m = c0 + c < NC - 1 ? __mmask16(0xffff) : __mmask16((1u << tail) - 1);
    for (int r = 0; r < R; ++r) _mm512_mask_storeu_ps(out[r] + (c0 + c) * 16, m, acc[r][c]);
  }
}

using QkFn = void (*)(const uint32_t (*)[128], int, const int32_t*, const uint16_t*, int64_t,
                      int64_t, int64_t, float, float* const*);
constexpr QkFn kQk[] = {nullptr, &qk_tile<1>, &qk_tile<2>, &qk_tile<3>, &qk_tile<4>};
using PvFn = void (*)(const float* const*, int64_t, int, int, const int32_t*, int64_t,
                      const uint16_t*, int64_t, float* const*);
template <int R>
constexpr std::array<PvFn, 5> kPvRow = {nullptr, &pv_tile<R, 1>, &pv_tile<R, 2>, &pv_tile<R, 3>,
                                        &pv_tile<R, 4>};
constexpr std::array<PvFn, 5> kPv[] = {{}, kPvRow<1>, kPvRow<2>, kPvRow<3>, kPvRow<4>};

}  // namespace

void attention_rows_bf16(int rows, const float* const* q, int D, const int32_t* blocks,
                         const uint16_t* kbase, const uint16_t* vbase, int64_t block_stride,
                         const int64_t* j0, const int64_t* j1, float scale, const float* sink,
                         float* scratch, float* const* out) {
  isa_entry_check(Isa::kAvx512Bf16, __func__);
  uint32_t q2[kAttentionTileRows][128];  // q as bf16 pairs
  int64_t lo = j0[0], hi = j1[0];
  for (int r = 0; r < rows; ++r) {
    for (int d2 = 0; d2 < D / 2; ++d2) q2[r][d2] = pack_bf16_pair(q[r][2 * d2], q[r][2 * d2 + 1]);
    lo = std::min(lo, j0[r]);
    hi = std::max(hi, j1[r]);
  }
  const int64_t b0 = lo / 16, b1 = (hi + 15) / 16, n = (b1 - b0) * 16;
  float* s[kAttentionTileRows];
  for (int r = 0; r < rows; ++r) s[r] = scratch + r * (n + 16);
  kQk[rows](q2, D, blocks, kbase, block_stride, b0, b1, scale, s);
  for (int r = 0; r < rows; ++r) softmax_row(s[r], b0 * 16, n, j0[r], j1[r], 1.0f, sink);
  pack_probabilities(rows, s, n);
  const int NC = (D + 15) / 16;
  for (int c0 = 0; c0 < NC; c0 += 4)
    kPv[rows][size_t(std::min(4, NC - c0))](s, n, D, c0, blocks, b0, vbase, block_stride, out);
}

namespace {

// Palette-1 tile configuration (the layout LDTILECFG reads).
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
  void set(int tile, int nrows, int bytes_per_row) {
    rows[tile] = uint8_t(nrows);
    colsb[tile] = uint16_t(bytes_per_row);
  }
};
static_assert(sizeof(TileConfig) == 64);

// S = Q K^T: tiles 0..3 hold the query rows' dimension chunks 32c..32c+31 (bf16, 16 rows), tile 4
// one chunk of a key block ([16 dimension pairs][16 keys][2], the cache's K layout), tile 5 the
// block's 16 x 16 f32 scores.
TileConfig qk_config() {
  TileConfig c;
  for (int t = 0; t < 6; ++t) c.set(t, 16, 64);
  return c;
}

// O += P V: tile 0 holds 16 rows' probabilities of one key block (16 bf16 each), tile 1 one
// 16-dimension chunk of its values ([8 key pairs][16 dims][2], rows D * 4 bytes apart in the
// cache's V layout), tiles 4..7 the f32 sums of 4 chunks.
TileConfig pv_config() {
  TileConfig c;
  c.set(0, 16, 32);
  c.set(1, 8, 64);
  for (int t = 4; t < 8; ++t) c.set(t, 16, 64);
  return c;
}

}  // namespace

}  // namespace moe::cpu::avx512bf16

namespace moe::cpu::amx {

using avx512bf16::f32_to_bf16;
using avx512bf16::pack_probabilities;
using avx512bf16::softmax_row;

void attention_rows_amx(int rows, const float* const* q, int D, const int32_t* blocks,
                        const uint16_t* kbase, const uint16_t* vbase, int64_t block_stride,
                        const int64_t* j0, const int64_t* j1, float scale, const float* sink,
                        float* scratch, float* const* out) {
  isa_entry_check(Isa::kAmx, __func__);
  constexpr int R = kAmxAttentionRows;
  const int NQ = D / 32;             // dimension chunks of the query tiles (1..4)
  alignas(64) uint16_t qb[R * 128];  // [R][D] bf16, rows past `rows` zero
  alignas(64) float ob[R * 128];     // [R][D] f32 sums
  int64_t lo = j0[0], hi = j1[0];
  for (int r = 0; r < R; ++r) {
    uint16_t* qr = qb + r * D;
    if (r >= rows) {
      std::memset(qr, 0, size_t(D) * 2);
      continue;
    }
    f32_to_bf16(q[r], qr, D);
    lo = std::min(lo, j0[r]);
    hi = std::max(hi, j1[r]);
  }
  const int64_t b0 = lo / 16, b1 = (hi + 15) / 16, n = (b1 - b0) * 16, ld = n + 16;
  float* s[R];
  for (int r = 0; r < R; ++r) s[r] = scratch + r * ld;

  const avx512bf16::TileConfig qk = avx512bf16::qk_config();
  _tile_loadconfig(&qk);
  _tile_loadd(0, qb, D * 2);
  if (NQ > 1) _tile_loadd(1, qb + 32, D * 2);
  if (NQ > 2) _tile_loadd(2, qb + 64, D * 2);
  if (NQ > 3) _tile_loadd(3, qb + 96, D * 2);
  for (int64_t b = b0; b < b1; ++b) {
    const uint16_t* kb = kbase + int64_t(blocks[b]) * block_stride;  // [D/2][16][2]
    _tile_zero(5);
    _tile_loadd(4, kb, 64);
    _tile_dpbf16ps(5, 0, 4);
    if (NQ > 1) {
      _tile_loadd(4, kb + 512, 64);
      _tile_dpbf16ps(5, 1, 4);
    }
    if (NQ > 2) {
      _tile_loadd(4, kb + 1024, 64);
      _tile_dpbf16ps(5, 2, 4);
    }
    if (NQ > 3) {
      _tile_loadd(4, kb + 1536, 64);
      _tile_dpbf16ps(5, 3, 4);
    }
    _tile_stored(5, s[0] + (b - b0) * 16, ld * 4);
  }

  for (int r = 0; r < rows; ++r) softmax_row(s[r], b0 * 16, n, j0[r], j1[r], scale, sink);
  pack_probabilities(rows, s, n);
  for (int r = rows; r < R; ++r) std::memset(s[r], 0, size_t(n) * 2);

  const avx512bf16::TileConfig pv = avx512bf16::pv_config();
  _tile_loadconfig(&pv);
  const int NC = D / 16;  // 16-dimension chunks of the output (2..8)
  for (int c0 = 0; c0 < NC; c0 += 4) {
    const int cg = std::min(4, NC - c0);
    _tile_zero(4);
    _tile_zero(5);
    _tile_zero(6);
    _tile_zero(7);
    for (int64_t b = b0; b < b1; ++b) {
      const uint16_t* vb = vbase + int64_t(blocks[b]) * block_stride + c0 * 32;  // [8][D][2]
      _tile_loadd(0, reinterpret_cast<const uint16_t*>(s[0]) + (b - b0) * 16, ld * 4);
      _tile_loadd(1, vb, D * 4);
      _tile_dpbf16ps(4, 0, 1);
      if (cg > 1) {
        _tile_loadd(1, vb + 32, D * 4);
        _tile_dpbf16ps(5, 0, 1);
      }
      if (cg > 2) {
        _tile_loadd(1, vb + 64, D * 4);
        _tile_dpbf16ps(6, 0, 1);
      }
      if (cg > 3) {
        _tile_loadd(1, vb + 96, D * 4);
        _tile_dpbf16ps(7, 0, 1);
      }
    }
    _tile_stored(4, ob + c0 * 16, D * 4);
    if (cg > 1) _tile_stored(5, ob + (c0 + 1) * 16, D * 4);
    if (cg > 2) _tile_stored(6, ob + (c0 + 2) * 16, D * 4);
    if (cg > 3) _tile_stored(7, ob + (c0 + 3) * 16, D * 4);
  }
  _tile_release();
  for (int r = 0; r < rows; ++r) std::memcpy(out[r], ob + r * D, size_t(D) * 4);
}

}  // namespace moe::cpu::amx

namespace moe::cpu::avx512bf16 {

// Products of many rows go through oneDNN's bf16 matmul (AVX-512 BF16 or AMX brgemm kernels).
constinit const Kernels kTable = {Isa::kAvx512Bf16,
                                  &f32_to_bf16,
                                  &gemm_bf16_small,
                                  nullptr,
                                  nullptr,
                                  nullptr,
                                  nullptr,
                                  &silu_mul_bf16,
                                  &silu_mul_f32,
                                  &kv_store_bf16,
                                  &attention_rows_bf16,
                                  nullptr,
                                  &mxfp4_rows_to_bf16,
                                  &gemm_mxfp4_small,
                                  &gemm_mxfp4_small_f32};

}  // namespace moe::cpu::avx512bf16

namespace moe::cpu::amx {

// Constant-initialised, as every table: a dynamic initialiser in this file would run at start-up
// on every CPU, compiled with this file's instructions.
constinit const Kernels kTable = {Isa::kAmx,
                                  &avx512bf16::f32_to_bf16,
                                  &avx512bf16::gemm_bf16_small,
                                  nullptr,
                                  nullptr,
                                  nullptr,
                                  nullptr,
                                  &avx512bf16::silu_mul_bf16,
                                  &avx512bf16::silu_mul_f32,
                                  &avx512bf16::kv_store_bf16,
                                  &avx512bf16::attention_rows_bf16,
                                  &attention_rows_amx,
                                  &avx512bf16::mxfp4_rows_to_bf16,
                                  &avx512bf16::gemm_mxfp4_small,
                                  &avx512bf16::gemm_mxfp4_small_f32};

}  // namespace moe::cpu::amx
