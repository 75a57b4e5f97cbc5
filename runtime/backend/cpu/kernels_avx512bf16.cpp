// AVX-512 BF16 kernels (see kernels.h). This file alone is compiled with -mavx512bf16 & co.
// GCC 12's _mm512_reduce_* use an intentionally undefined register that -Wuninitialized flags.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "runtime/backend/cpu/kernels.h"

namespace moe::cpu {

bool cpu_has_avx512_bf16() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vl") &&
                         __builtin_cpu_supports("avx512bf16");
  return ok;
}

namespace {

inline __m512bh as_bh(__m512i v) { return (__m512bh)v; }

inline __m256i cvt_bf16(__m512 v) { return (__m256i)_mm512_cvtneps_pbh(v); }

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
void small_tile(const uint16_t* x, int64_t K, int64_t ldx, const uint16_t* w, int64_t ldw,
                float* y, int64_t ldy) {
  __m512 acc[NR][MR];
  for (int r = 0; r < NR; ++r)
    for (int t = 0; t < MR; ++t) acc[r][t] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 32 <= K; k += 32) {
    __m512i wv[NR], xv[MR];
    for (int r = 0; r < NR; ++r) wv[r] = _mm512_loadu_si512(w + r * ldw + k);
    for (int t = 0; t < MR; ++t) xv[t] = _mm512_loadu_si512(x + t * ldx + k);
    for (int r = 0; r < NR; ++r)
      for (int t = 0; t < MR; ++t) acc[r][t] = _mm512_dpbf16_ps(acc[r][t], as_bh(wv[r]), as_bh(xv[t]));
  }
  if (k < K) {
    const __mmask32 m = __mmask32((uint64_t(1) << (K - k)) - 1);
    __m512i wv[NR], xv[MR];
    for (int r = 0; r < NR; ++r) wv[r] = _mm512_maskz_loadu_epi16(m, w + r * ldw + k);
    for (int t = 0; t < MR; ++t) xv[t] = _mm512_maskz_loadu_epi16(m, x + t * ldx + k);
    for (int r = 0; r < NR; ++r)
      for (int t = 0; t < MR; ++t) acc[r][t] = _mm512_dpbf16_ps(acc[r][t], as_bh(wv[r]), as_bh(xv[t]));
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
    case 3: small_tile<NR, 3>(x + m * ldx, K, ldx, w, ldw, y + m * ldy, ldy); break;
    case 2: small_tile<NR, 2>(x + m * ldx, K, ldx, w, ldw, y + m * ldy, ldy); break;
    case 1: small_tile<NR, 1>(x + m * ldx, K, ldx, w, ldw, y + m * ldy, ldy); break;
    default: break;
  }
}

}  // namespace

void f32_to_bf16(const float* x, uint16_t* out, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm256_storeu_si256((__m256i*)(out + i), cvt_bf16(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = __mmask16((1u << (n - i)) - 1);
    _mm256_mask_storeu_epi16(out + i, m, cvt_bf16(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

void gemm_bf16_small(const uint16_t* x, int64_t M, int64_t K, int64_t ldx, const uint16_t* w,
                     int64_t ldw, int64_t n0, int64_t n1, float* y, int64_t ldy) {
  int64_t n = n0;
  for (; n + 4 <= n1; n += 4) small_rows<4>(x, M, K, ldx, w + n * ldw, ldw, y + n, ldy);
  switch (n1 - n) {
    case 3: small_rows<3>(x, M, K, ldx, w + n * ldw, ldw, y + n, ldy); break;
    case 2: small_rows<2>(x, M, K, ldx, w + n * ldw, ldw, y + n, ldy); break;
    case 1: small_rows<1>(x, M, K, ldx, w + n * ldw, ldw, y + n, ldy); break;
    default: break;
  }
}

void silu_mul_bf16(const float* g, const float* u, uint16_t* out, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_mul_ps(silu512(_mm512_loadu_ps(g + i)), _mm512_loadu_ps(u + i));
    _mm256_storeu_si256((__m256i*)(out + i), cvt_bf16(v));
  }
  if (i < n) {
    const __mmask16 m = __mmask16((1u << (n - i)) - 1);
    const __m512 v = _mm512_mul_ps(silu512(_mm512_maskz_loadu_ps(m, g + i)), _mm512_maskz_loadu_ps(m, u + i));
    _mm256_mask_storeu_epi16(out + i, m, cvt_bf16(v));
  }
}

void silu_mul_f32(const float* g, const float* u, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(out + i, _mm512_mul_ps(silu512(_mm512_loadu_ps(g + i)), _mm512_loadu_ps(u + i)));
  if (i < n) {
    const __mmask16 m = __mmask16((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(silu512(_mm512_maskz_loadu_ps(m, g + i)),
                                                    _mm512_maskz_loadu_ps(m, u + i)));
  }
}

void kv_store_bf16(const float* k, const float* v, int D, int j, uint16_t* kblk, uint16_t* vblk) {
  for (int d = 0; d < D; ++d) {
    const __m128i kb = (__m128i)_mm_cvtneps_pbh(_mm_set1_ps(k[d]));
    const __m128i vb = (__m128i)_mm_cvtneps_pbh(_mm_set1_ps(v[d]));
    kblk[((d / 2) * 16 + j) * 2 + d % 2] = uint16_t(_mm_extract_epi16(kb, 0));
    vblk[((j / 2) * D + d) * 2 + j % 2] = uint16_t(_mm_extract_epi16(vb, 0));
  }
}

namespace {

// acc[c] += p-pair . V rows, NC chunks of 16 dims (the last one masked to D).
template <int NC>
void pv_accumulate(const float* p, int64_t nkeys_aligned, int D, const int32_t* blocks,
                   int64_t b0, const uint16_t* vbase, int64_t block_stride, float* out) {
  __m512 acc[NC];
  for (int c = 0; c < NC; ++c) acc[c] = _mm512_setzero_ps();
  const int tail = D - (NC - 1) * 16;
  const __mmask32 tail_mask = __mmask32((uint64_t(1) << (2 * tail)) - 1);
  for (int64_t j = 0; j < nkeys_aligned; j += 2) {
    const int64_t key = b0 * 16 + j;
    const uint16_t* vb = vbase + int64_t(blocks[key / 16]) * block_stride + ((key % 16) / 2) * D * 2;
    if (p[j] == 0.0f && p[j + 1] == 0.0f) continue;
    const __m512bh pp = as_bh(_mm512_set1_epi32(int32_t(pack_bf16_pair(p[j], p[j + 1]))));
    for (int c = 0; c < NC - 1; ++c)
      acc[c] = _mm512_dpbf16_ps(acc[c], as_bh(_mm512_loadu_si512(vb + c * 32)), pp);
    acc[NC - 1] = _mm512_dpbf16_ps(acc[NC - 1], as_bh(_mm512_maskz_loadu_epi16(tail_mask, vb + (NC - 1) * 32)), pp);
  }
  for (int c = 0; c < NC - 1; ++c) _mm512_storeu_ps(out + c * 16, acc[c]);
  _mm512_mask_storeu_ps(out + (NC - 1) * 16, __mmask16((1u << tail) - 1), acc[NC - 1]);
}

using PvFn = void (*)(const float*, int64_t, int, const int32_t*, int64_t, const uint16_t*,
                      int64_t, float*);
constexpr PvFn kPv[] = {nullptr,          &pv_accumulate<1>,  &pv_accumulate<2>,  &pv_accumulate<3>,
                        &pv_accumulate<4>,  &pv_accumulate<5>,  &pv_accumulate<6>,  &pv_accumulate<7>,
                        &pv_accumulate<8>,  &pv_accumulate<9>,  &pv_accumulate<10>, &pv_accumulate<11>,
                        &pv_accumulate<12>, &pv_accumulate<13>, &pv_accumulate<14>, &pv_accumulate<15>,
                        &pv_accumulate<16>};

}  // namespace

void attention_row_bf16(const float* q, int D, const int32_t* blocks, const uint16_t* kbase,
                        const uint16_t* vbase, int64_t block_stride, int64_t j0, int64_t j1,
                        float scale, const float* sink, float* scratch, float* out) {
  // q as bf16 pairs.
  uint32_t q2[128];
  for (int d2 = 0; d2 < D / 2; ++d2) q2[d2] = pack_bf16_pair(q[2 * d2], q[2 * d2 + 1]);
  const int64_t b0 = j0 / 16, b1 = (j1 + 15) / 16;
  const int64_t base = b0 * 16;  // scratch[j - base]
  // Scores of 16 keys per block.
  for (int64_t b = b0; b < b1; ++b) {
    const uint16_t* kb = kbase + int64_t(blocks[b]) * block_stride;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int d2 = 0;
    for (; d2 + 2 <= D / 2; d2 += 2) {
      acc0 = _mm512_dpbf16_ps(acc0, as_bh(_mm512_loadu_si512(kb + d2 * 32)), as_bh(_mm512_set1_epi32(int32_t(q2[d2]))));
      acc1 = _mm512_dpbf16_ps(acc1, as_bh(_mm512_loadu_si512(kb + (d2 + 1) * 32)), as_bh(_mm512_set1_epi32(int32_t(q2[d2 + 1]))));
    }
    if (d2 < D / 2)
      acc0 = _mm512_dpbf16_ps(acc0, as_bh(_mm512_loadu_si512(kb + d2 * 32)), as_bh(_mm512_set1_epi32(int32_t(q2[d2]))));
    _mm512_storeu_ps(scratch + (b - b0) * 16, _mm512_mul_ps(_mm512_add_ps(acc0, acc1), _mm512_set1_ps(scale)));
  }
  const int64_t n = (b1 - b0) * 16;
  const float ninf = -std::numeric_limits<float>::infinity();
  for (int64_t j = base; j < j0; ++j) scratch[j - base] = ninf;
  for (int64_t j = j1; j < base + n; ++j) scratch[j - base] = ninf;
  // Softmax (f32), probabilities normalised before they weight V.
  __m512 mv = _mm512_set1_ps(sink ? *sink : ninf);
  for (int64_t i = 0; i < n; i += 16) mv = _mm512_max_ps(mv, _mm512_loadu_ps(scratch + i));
  const float m = _mm512_reduce_max_ps(mv);
  __m512 sv = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __m512 s = _mm512_loadu_ps(scratch + i);
    const __mmask16 live = _mm512_cmp_ps_mask(s, _mm512_set1_ps(ninf), _CMP_NEQ_OQ);
    const __m512 e = _mm512_maskz_mov_ps(live, exp512(_mm512_sub_ps(s, _mm512_set1_ps(m))));
    _mm512_storeu_ps(scratch + i, e);
    sv = _mm512_add_ps(sv, e);
  }
  float denom = _mm512_reduce_add_ps(sv);
  if (sink) denom += std::exp(*sink - m);
  const __m512 inv = _mm512_set1_ps(1.0f / denom);
  for (int64_t i = 0; i < n; i += 16) _mm512_storeu_ps(scratch + i, _mm512_mul_ps(_mm512_loadu_ps(scratch + i), inv));
  const int nc = (D + 15) / 16;
  kPv[nc](scratch, n, D, blocks, b0, vbase, block_stride, out);
}

}  // namespace moe::cpu
