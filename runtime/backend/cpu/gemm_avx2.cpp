// The avx2 level's bf16 GEMMs (kernels.h): gemm_bf16_small for few token rows (decode) and
// gemm_bf16_large for many (prefill, the experts' larger batches), each on W's rows or on W in
// panels (kernels.h; the fast backend's prepared weights). Compiled with AVX2 + FMA + F16C only.
//
// y[m, n] = sum_k x[m, k] w[n, k]: both operands are widened from bf16 to f32 (exact) and every
// output is ONE f32 chain of fused multiply-adds with k ascending from 0 to K - 1, starting from
// zero, in every kernel: vectors run across 8 weight rows, never across k. From W's rows a block
// is transposed in registers as it is widened; from panels one load and two integer operations
// give 16 rows' values for one k. Blocking over K only splits that chain: the partial sum goes to
// y and comes back unchanged. So every output is bitwise the same whichever kernel computed it,
// from rows or panels, and whatever M, [n0, n1), the blocking or the tile position: a linear
// whose rows a replica's ranks split between them (expert parallelism), and which one process
// computes with the large kernel and two ranks with the small one, gives the same bits either
// way. Products of bf16 values are exact in f32, so the error is that of the f32 sum alone.
//
// gemm_bf16_large, loops (BLIS order): n in blocks of kNc weight rows; k in blocks of kKc (the w
// block, kNc x kc widened, stays in L2); m in blocks of kMc token rows (widened, in L2); then
// 16-row weight panels (one panel, kc x 16 floats, stays in L1) over 6-row token panels; a
// 6 x 16 register tile (12 accumulators of 8 lanes).
// gemm_bf16_small: 16 weight rows at a time, k in chunks of kSmallKc: the rows' chunk widened
// and transposed into a panel on the stack (16 KB), the token rows' chunk widened beside it,
// then register tiles of up to 6 token rows x 16 weight rows; the weights are read once, as 16
// sequential streams.
// gemm_bf16_small_panels: k in segments of kPanelSeg, token rows in blocks of kPanelBlock
// (widened), then each panel's segment (16 KiB, in L1) against tiles of up to 6 token rows, or
// two panels at once for up to 3 rows; W is read once, as one sequential stream (figures
// against gemm_bf16_small: bench/README.md, small_gemm_bench).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "runtime/backend/cpu/level_kernels.h"

namespace moe::cpu::avx2 {

namespace {

constexpr int64_t kMr = 6;           // token rows per register tile
constexpr int64_t kNr = 16;          // weight rows per register tile (two 8-lane vectors)
constexpr int64_t kKc = 512;         // k per block (measured 3-8% faster than 256 on Zen 4)
constexpr int64_t kMc = 144;         // token rows per block (multiple of kMr)
constexpr int64_t kNc = 512;         // weight rows per block (multiple of kNr)
constexpr int64_t kSmallKc = 256;    // gemm_bf16_small: k per chunk
constexpr int64_t kSmallRows = 48;   // gemm_bf16_small: token rows widened per chunk (x 6)
constexpr int64_t kSmallSeg = 2048;  // gemm_bf16_small, up to 3 rows: k per segment (x 8)
constexpr int64_t kStage = 2048;     // gemm_bf16_small, up to 3 rows: k per staged chunk
constexpr int64_t kPanelSeg = 512;   // gemm_bf16_small_panels: k per segment (16 KiB of a panel)
constexpr int64_t kPanelBlock = 24;  // gemm_bf16_small_panels: token rows widened per segment

inline int64_t min64(int64_t a, int64_t b) {
  return a < b ? a : b;
}

inline int64_t kc_of(int64_t K) {
  return min64(K, kKc);
}

inline float bf16_to_f32(uint16_t v) {
  return _mm_cvtss_f32(_mm_castsi128_ps(_mm_cvtsi32_si128(int(uint32_t(v) << 16))));
}

// 8 bf16 at p widened to f32.
inline __m256 load8_bf16(const uint16_t* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(v), 16));
}

// In-register transpose of the 8 x 8 block r[0..7] (r[i] lane j -> r[j] lane i).
inline void transpose8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]);
  const __m256 t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]);
  const __m256 t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]);
  const __m256 t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]);
  const __m256 t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// Packs R (6 or 8) full rows src[i * ld + k], k < kc, widened, as out[k * stride + i] for
// i < 8 (lanes R..7 zero). Writes 8 floats per k: with stride < 8 the k-th store runs into the
// (k + 1)-th, so stores go in ascending k and the caller leaves 8 - stride floats of slack.
template <int R>
void pack8_full(const uint16_t* src, int64_t ld, int64_t kc, float* out, int64_t stride) {
  int64_t k = 0;
  for (; k + 16 <= kc; k += 16) {
    __m256 lo[8], hi[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      if (i < R) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i * ld + k));
        lo[i] = _mm256_castsi256_ps(
            _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm256_castsi256_si128(v)), 16));
        hi[i] = _mm256_castsi256_ps(
            _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm256_extracti128_si256(v, 1)), 16));
      } else {
        lo[i] = hi[i] = _mm256_setzero_ps();
      }
    }
    transpose8(lo);
    transpose8(hi);
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) _mm256_storeu_ps(out + (k + j) * stride, lo[j]);
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) _mm256_storeu_ps(out + (k + 8 + j) * stride, hi[j]);
  }
  for (; k + 8 <= kc; k += 8) {
    __m256 r[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) r[i] = i < R ? load8_bf16(src + i * ld + k) : _mm256_setzero_ps();
    transpose8(r);
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) _mm256_storeu_ps(out + (k + j) * stride, r[j]);
  }
  for (; k < kc; ++k) {
    for (int64_t i = 0; i < 8; ++i)
      out[k * stride + i] = i < R ? bf16_to_f32(src[i * ld + k]) : 0.0f;
  }
}

// As pack8_full for `rows` < 8 rows (the last panel of a range): 8 floats per k, zeros past rows.
void pack8_part(const uint16_t* src, int64_t ld, int64_t rows, int64_t kc, float* out,
                int64_t stride) {
  for (int64_t k = 0; k < kc; ++k) {
    for (int64_t i = 0; i < 8; ++i)
      out[k * stride + i] = i < rows ? bf16_to_f32(src[i * ld + k]) : 0.0f;
  }
}

void pack8(const uint16_t* src, int64_t ld, int64_t rows, int64_t kc, float* out, int64_t stride) {
  if (rows == 8) {
    pack8_full<8>(src, ld, kc, out, stride);
  } else if (rows == 6) {
    pack8_full<6>(src, ld, kc, out, stride);
  } else {
    pack8_part(src, ld, rows, kc, out, stride);
  }
}

// The weight block: rows n0 .. n0 + nc of w, k in [k0, k0 + kc), as ceil(nc / 16) panels of
// kc x 16 floats (panel p at out + p * kc * 16; rows past nc zero).
void pack_w(const uint16_t* w, int64_t ldw, int64_t n0, int64_t nc, int64_t k0, int64_t kc,
            float* out) {
  for (int64_t j = 0; j < nc; j += kNr) {
    float* panel = out + (j / kNr) * kc * kNr;
    const uint16_t* src = w + (n0 + j) * ldw + k0;
    const int64_t rows = min64(kNr, nc - j);
    pack8(src, ldw, min64(8, rows), kc, panel, kNr);
    pack8(src + 8 * ldw, ldw, rows > 8 ? rows - 8 : 0, kc, panel + 8, kNr);
  }
}

// The token block: rows m0 .. m0 + mc of x, k in [k0, k0 + kc), as ceil(mc / 6) panels of
// kc x 6 floats (rows past mc zero); 2 floats of slack past the last panel.
void pack_x(const uint16_t* x, int64_t ldx, int64_t m0, int64_t mc, int64_t k0, int64_t kc,
            float* out) {
  for (int64_t i = 0; i < mc; i += kMr) {
    pack8(x + (m0 + i) * ldx + k0, ldx, min64(kMr, mc - i), kc, out + (i / kMr) * kc * kMr, kMr);
  }
}

// c[i * ldc + j] (+)= sum_k a[k * 6 + i] b[k * 16 + j] for i < 6, j < 16, k ascending; `load`:
// continue the sums already in c, else start from zero.
void tile6x16(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool load) {
  __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
  if (load) {
    c00 = _mm256_loadu_ps(c + 0 * ldc), c01 = _mm256_loadu_ps(c + 0 * ldc + 8);
    c10 = _mm256_loadu_ps(c + 1 * ldc), c11 = _mm256_loadu_ps(c + 1 * ldc + 8);
    c20 = _mm256_loadu_ps(c + 2 * ldc), c21 = _mm256_loadu_ps(c + 2 * ldc + 8);
    c30 = _mm256_loadu_ps(c + 3 * ldc), c31 = _mm256_loadu_ps(c + 3 * ldc + 8);
    c40 = _mm256_loadu_ps(c + 4 * ldc), c41 = _mm256_loadu_ps(c + 4 * ldc + 8);
    c50 = _mm256_loadu_ps(c + 5 * ldc), c51 = _mm256_loadu_ps(c + 5 * ldc + 8);
  } else {
    c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = _mm256_setzero_ps();
  }
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    __m256 av = _mm256_broadcast_ss(a + 0);
    c00 = _mm256_fmadd_ps(av, b0, c00), c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(av, b0, c10), c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(av, b0, c20), c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(av, b0, c30), c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(av, b0, c40), c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(av, b0, c50), c51 = _mm256_fmadd_ps(av, b1, c51);
    a += kMr;
    b += kNr;
  }
  _mm256_storeu_ps(c + 0 * ldc, c00), _mm256_storeu_ps(c + 0 * ldc + 8, c01);
  _mm256_storeu_ps(c + 1 * ldc, c10), _mm256_storeu_ps(c + 1 * ldc + 8, c11);
  _mm256_storeu_ps(c + 2 * ldc, c20), _mm256_storeu_ps(c + 2 * ldc + 8, c21);
  _mm256_storeu_ps(c + 3 * ldc, c30), _mm256_storeu_ps(c + 3 * ldc + 8, c31);
  _mm256_storeu_ps(c + 4 * ldc, c40), _mm256_storeu_ps(c + 4 * ldc + 8, c41);
  _mm256_storeu_ps(c + 5 * ldc, c50), _mm256_storeu_ps(c + 5 * ldc + 8, c51);
}

// A tile of mr <= 6 rows and nr <= 16 columns of y: the same kernel on a full tile in `tmp`.
void tile_edge(int64_t kc, const float* a, const float* b, float* y, int64_t ldy, int64_t mr,
               int64_t nr, bool load, float* tmp) {
  for (int64_t i = 0; i < kMr; ++i) {
    for (int64_t j = 0; j < kNr; ++j)
      tmp[i * kNr + j] = load && i < mr && j < nr ? y[i * ldy + j] : 0.0f;
  }
  tile6x16(kc, a, b, tmp, kNr, load);
  for (int64_t i = 0; i < mr; ++i) {
    for (int64_t j = 0; j < nr; ++j) y[i * ldy + j] = tmp[i * kNr + j];
  }
}

// gemm_bf16_small's tile: c[i * ldc + j] (+)= sum_k a[i * lda + k] b[k * 16 + j] for i < MR,
// j < 16, k ascending; `load`: continue the sums already in c, else start from zero. The same
// chain per output as tile6x16's, with the token rows k-contiguous.
template <int MR>
void small_tile(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc,
                bool load) {
  __m256 acc[MR][2];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    acc[i][0] = load ? _mm256_loadu_ps(c + i * ldc) : _mm256_setzero_ps();
    acc[i][1] = load ? _mm256_loadu_ps(c + i * ldc + 8) : _mm256_setzero_ps();
  }
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_loadu_ps(b + k * kNr), b1 = _mm256_loadu_ps(b + k * kNr + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256 av = _mm256_broadcast_ss(a + i * lda + k);
      acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
    }
  }
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    _mm256_storeu_ps(c + i * ldc, acc[i][0]);
    _mm256_storeu_ps(c + i * ldc + 8, acc[i][1]);
  }
}

using SmallTileFn = void (*)(int64_t, const float*, int64_t, const float*, float*, int64_t, bool);
constexpr SmallTileFn kSmallTiles[] = {nullptr,        &small_tile<1>, &small_tile<2>,
                                       &small_tile<3>, &small_tile<4>, &small_tile<5>,
                                       &small_tile<6>};

// gemm_bf16_small for up to 3 token rows and 16 whole weight rows (decode, bound by reading the
// weights): k in [0, K) of the 16 rows in registers, without a panel; xw: the tokens' row r at
// xw + r * kSmallSeg, widened, zero past K. Per 8 k: the 16 rows' 8 bf16 each are transposed in
// 16-bit lanes (rows 0-7 in the low 128 bits, 8-15 in the high), then each k's vector is widened
// to f32 by a shift (the even-indexed rows) and a mask (the odd ones); the end puts the rows
// back in order. The same chain per output as the tiles'; `load`: continue the sums in y. A K
// tail is padded with zeros in both operands, and fma(0, 0, s) leaves any sum the chain can hold
// unchanged (it starts at +0 and never becomes -0).
// Rows K * 2 bytes apart (4 KiB at K = 2048) fall in the same L1 set, so reading 16 of them side
// by side thrashes the cache: each chunk of kStage k of the 16 rows is first copied, row after
// row, into a buffer whose rows are 64 bytes further apart, and transposed from there. Meanwhile
// the next 16 rows (`next`, null for none; one contiguous block when ldw == K) are prefetched in
// address order, 256 bytes a step, so that reading memory overlaps the arithmetic.
template <int MR>
void small_rows16(const float* xw, int64_t K, const uint16_t* w, int64_t ldw, float* y, int64_t ldy,
                  bool load, const uint16_t* next) {
  __m256 even[MR], odd[MR];  // rows 0, 2, .., 14 and 1, 3, .., 15 (128-bit halves: 0-6, 8-14)
  const __m256i evens = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  const __m256i odds = _mm256_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15);
#pragma GCC unroll 3
  for (int t = 0; t < MR; ++t) {
    if (load) {
      even[t] = _mm256_i32gather_ps(y + t * ldy, evens, 4);
      odd[t] = _mm256_i32gather_ps(y + t * ldy, odds, 4);
    } else {
      even[t] = odd[t] = _mm256_setzero_ps();
    }
  }
  const __m256i high = _mm256_set1_epi32(int(0xffff0000u));
  constexpr int64_t kLd = kStage + 32;  // staged rows: 64 bytes more than a chunk apart
  alignas(32) uint16_t staged[16 * kLd];
  const char* ahead = reinterpret_cast<const char*>(next);
  for (int64_t k = 0; k < K; k += 8) {
    if (ahead) {
      _mm_prefetch(ahead, _MM_HINT_T1);
      _mm_prefetch(ahead + 64, _MM_HINT_T1);
      _mm_prefetch(ahead + 128, _MM_HINT_T1);
      _mm_prefetch(ahead + 192, _MM_HINT_T1);
      ahead += 256;
    }
    const int64_t kk = k % kStage;
    if (kk == 0) {  // stage the next chunk, zero-padded to whole steps of 8
      const int64_t kc = min64(kStage, K - k), whole = kc / 16 * 16;
      for (int r = 0; r < 16; ++r) {
        const uint16_t* src = w + r * ldw + k;
        uint16_t* dst = staged + r * kLd;
        for (int64_t i = 0; i < whole; i += 16)
          _mm256_store_si256(reinterpret_cast<__m256i*>(dst + i),
                             _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)));
        for (int64_t i = whole; i < (kc + 7) / 8 * 8; ++i) dst[i] = i < kc ? src[i] : 0;
      }
    }
    const uint16_t* wbase = staged + kk;
    const int64_t ldr = kLd;
    // v[r]: row r (low half) and row r + 8 (high half), 8 k each.
    __m256i v[8];
    const uint16_t* lo_row = wbase;
    const uint16_t* hi_row = wbase + 8 * ldr;
#pragma GCC unroll 8
    for (int r = 0; r < 8; ++r) {
      v[r] = _mm256_inserti128_si256(
          _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(lo_row))),
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(hi_row)), 1);
      lo_row += ldr;
      hi_row += ldr;
    }
    // 8 x 8 transpose of 16-bit elements in each 128-bit half: c[j] holds k + j of the 16 rows.
    const __m256i a0 = _mm256_unpacklo_epi16(v[0], v[1]), a1 = _mm256_unpackhi_epi16(v[0], v[1]);
    const __m256i a2 = _mm256_unpacklo_epi16(v[2], v[3]), a3 = _mm256_unpackhi_epi16(v[2], v[3]);
    const __m256i a4 = _mm256_unpacklo_epi16(v[4], v[5]), a5 = _mm256_unpackhi_epi16(v[4], v[5]);
    const __m256i a6 = _mm256_unpacklo_epi16(v[6], v[7]), a7 = _mm256_unpackhi_epi16(v[6], v[7]);
    const __m256i b0 = _mm256_unpacklo_epi32(a0, a2), b1 = _mm256_unpackhi_epi32(a0, a2);
    const __m256i b2 = _mm256_unpacklo_epi32(a1, a3), b3 = _mm256_unpackhi_epi32(a1, a3);
    const __m256i b4 = _mm256_unpacklo_epi32(a4, a6), b5 = _mm256_unpackhi_epi32(a4, a6);
    const __m256i b6 = _mm256_unpacklo_epi32(a5, a7), b7 = _mm256_unpackhi_epi32(a5, a7);
    const __m256i c[8] = {_mm256_unpacklo_epi64(b0, b4), _mm256_unpackhi_epi64(b0, b4),
                          _mm256_unpacklo_epi64(b1, b5), _mm256_unpackhi_epi64(b1, b5),
                          _mm256_unpacklo_epi64(b2, b6), _mm256_unpackhi_epi64(b2, b6),
                          _mm256_unpacklo_epi64(b3, b7), _mm256_unpackhi_epi64(b3, b7)};
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      const __m256 we = _mm256_castsi256_ps(_mm256_slli_epi32(c[j], 16));
      const __m256 wo = _mm256_castsi256_ps(_mm256_and_si256(c[j], high));
#pragma GCC unroll 3
      for (int t = 0; t < MR; ++t) {
        const __m256 xv = _mm256_broadcast_ss(xw + t * kSmallSeg + k + j);
        even[t] = _mm256_fmadd_ps(xv, we, even[t]);
        odd[t] = _mm256_fmadd_ps(xv, wo, odd[t]);
      }
    }
  }
#pragma GCC unroll 3
  for (int t = 0; t < MR; ++t) {
    const __m256 lo = _mm256_unpacklo_ps(even[t], odd[t]);  // rows 0-3 | 8-11
    const __m256 hi = _mm256_unpackhi_ps(even[t], odd[t]);  // rows 4-7 | 12-15
    _mm256_storeu_ps(y + t * ldy, _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_storeu_ps(y + t * ldy + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
  }
}

// Products with nothing to sum: no rows or no outputs (nothing to do), or K = 0 (every output
// zero). True where it handled the product.
bool nothing_to_sum(int64_t M, int64_t K, int64_t n0, int64_t n1, float* y, int64_t ldy) {
  if (M <= 0 || n1 <= n0) return true;
  if (K > 0) return false;
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = n0; n < n1; ++n) y[m * ldy + n] = 0.0f;
  }
  return true;
}

// out[i * kc + k] = x[i * ldx + k] widened, for i < rows, k < kc.
void widen_rows(const uint16_t* x, int64_t ldx, int64_t rows, int64_t kc, float* out) {
  for (int64_t i = 0; i < rows; ++i) {
    int64_t k = 0;
    for (; k + 8 <= kc; k += 8) _mm256_storeu_ps(out + i * kc + k, load8_bf16(x + i * ldx + k));
    for (; k < kc; ++k) out[i * kc + k] = bf16_to_f32(x[i * ldx + k]);
  }
}

}  // namespace

int64_t gemm_bf16_large_scratch(int64_t K) {
  isa_entry_check(Isa::kAvx2, __func__);
  // The weight block, the token block (+ slack), an edge tile, and room to align to 64 bytes.
  return kc_of(K) * (kNc + kMc) + 8 + kMr * kNr + 16;
}

namespace {

// gemm_bf16_large's loops over W's blocks; pack(jc, nc, pc, kc, out) writes the weight block
// of rows jc .. jc + nc, k in [pc, pc + kc) as pack_w does.
template <typename PackW>
void large_blocks(const uint16_t* x, int64_t M, int64_t K, int64_t ldx, int64_t n0, int64_t n1,
                  float* y, int64_t ldy, float* scratch, const PackW& pack) {
  if (nothing_to_sum(M, K, n0, n1, y, ldy)) return;
  const int64_t kcmax = kc_of(K);
  float* const wblock =
      reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(scratch) + 63) & ~uintptr_t(63));
  float* const xblock = wblock + kcmax * kNc;
  float* const tmp = xblock + kcmax * kMc + 8;
  for (int64_t jc = n0; jc < n1; jc += kNc) {
    const int64_t nc = min64(kNc, n1 - jc);
    for (int64_t pc = 0; pc < K; pc += kcmax) {
      const int64_t kc = min64(kcmax, K - pc);
      const bool load = pc > 0;
      pack(jc, nc, pc, kc, wblock);
      for (int64_t ic = 0; ic < M; ic += kMc) {
        const int64_t mc = min64(kMc, M - ic);
        pack_x(x, ldx, ic, mc, pc, kc, xblock);
        for (int64_t jr = 0; jr < nc; jr += kNr) {
          const int64_t nr = min64(kNr, nc - jr);
          const float* b = wblock + (jr / kNr) * kc * kNr;
          for (int64_t ir = 0; ir < mc; ir += kMr) {
            const int64_t mr = min64(kMr, mc - ir);
            const float* a = xblock + (ir / kMr) * kc * kMr;
            float* c = y + (ic + ir) * ldy + jc + jr;
            if (mr == kMr && nr == kNr) {
              tile6x16(kc, a, b, c, ldy, load);
            } else {
              tile_edge(kc, a, b, c, ldy, mr, nr, load, tmp);
            }
          }
        }
      }
    }
  }
}

// Rows 16p .. 16p + 15 of W in panels (kernels.h), k in [k0, k0 + kc): 8 f32 of the low halves
// (rows 16p .. 16p + 7) and 8 of the high halves per k.
inline void panel_row(const uint16_t* panel_k, __m256& lo, __m256& hi) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel_k));
  lo = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
  hi = _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32(int(0xffff0000u))));
}

}  // namespace

void gemm_bf16_large(const uint16_t* x, int64_t M, int64_t K, int64_t ldx, const uint16_t* w,
                     int64_t ldw, int64_t n0, int64_t n1, float* y, int64_t ldy, float* scratch) {
  isa_entry_check(Isa::kAvx2, __func__);
  large_blocks(x, M, K, ldx, n0, n1, y, ldy, scratch,
               [&](int64_t jc, int64_t nc, int64_t pc, int64_t kc, float* out) {
                 pack_w(w, ldw, jc, nc, pc, kc, out);
               });
}

void gemm_bf16_large_panels(const uint16_t* x, int64_t M, int64_t K, int64_t ldx,
                            const uint16_t* panels, int64_t n0, int64_t n1, float* y, int64_t ldy,
                            float* scratch) {
  isa_entry_check(Isa::kAvx2, __func__);
  // The weight block straight from the panels: widening only (jc is a multiple of 16, as n0).
  large_blocks(x, M, K, ldx, n0, n1, y, ldy, scratch,
               [&](int64_t jc, int64_t nc, int64_t pc, int64_t kc, float* out) {
                 for (int64_t j = 0; j < nc; j += kNr) {
                   const uint16_t* src = panels + ((jc + j) / kNr * K + pc) * kNr;
                   float* dst = out + (j / kNr) * kc * kNr;
                   for (int64_t k = 0; k < kc; ++k) {
                     __m256 lo, hi;
                     panel_row(src + k * kNr, lo, hi);
                     _mm256_storeu_ps(dst + k * kNr, lo);
                     _mm256_storeu_ps(dst + k * kNr + 8, hi);
                   }
                 }
               });
}

}  // namespace moe::cpu::avx2

namespace moe::cpu::avx2 {

void gemm_bf16_small(const uint16_t* x, int64_t M, int64_t K, int64_t ldx, const uint16_t* w,
                     int64_t ldw, int64_t n0, int64_t n1, float* y, int64_t ldy) {
  isa_entry_check(Isa::kAvx2, __func__);
  if (nothing_to_sum(M, K, n0, n1, y, ldy)) return;
  int64_t n = n0;
  if (M <= 3 && n1 - n0 >= kNr) {
    // Whole 16-row groups in registers, K in segments whose widened token rows stay in L1 (a
    // segment's sums continue in y); a tail of rows takes the panels below.
    alignas(32) float xw[3 * kSmallSeg];
    const int64_t n_end = n0 + (n1 - n0) / kNr * kNr;
    for (int64_t seg = 0; seg < K; seg += kSmallSeg) {
      const int64_t ks = min64(kSmallSeg, K - seg);
      for (int64_t t = 0; t < M; ++t) {
        widen_rows(x + t * ldx + seg, ldx, 1, ks, xw + t * kSmallSeg);
        for (int64_t k = ks; k < (ks + 7) / 8 * 8; ++k) xw[t * kSmallSeg + k] = 0.0f;
      }
      for (n = n0; n < n_end; n += kNr) {
        const uint16_t* wn = w + n * ldw + seg;
        const uint16_t* next = n + 2 * kNr <= n_end ? wn + kNr * ldw : nullptr;
        if (M == 1)
          small_rows16<1>(xw, ks, wn, ldw, y + n, ldy, seg > 0, next);
        else if (M == 2)
          small_rows16<2>(xw, ks, wn, ldw, y + n, ldy, seg > 0, next);
        else
          small_rows16<3>(xw, ks, wn, ldw, y + n, ldy, seg > 0, next);
      }
    }
    if (n == n1) return;
  }
  alignas(32) float panel[kSmallKc * kNr];        // 16 weight rows' chunk, transposed
  alignas(32) float rows[kSmallRows * kSmallKc];  // token rows' chunk
  alignas(32) float edge[kMr * kNr];              // a tile of fewer than 16 weight rows
  for (; n < n1; n += kNr) {
    const int64_t nr = min64(kNr, n1 - n);
    for (int64_t pc = 0; pc < K; pc += kSmallKc) {
      const int64_t kc = min64(kSmallKc, K - pc);
      const bool load = pc > 0;
      const uint16_t* src = w + n * ldw + pc;
      pack8(src, ldw, min64(8, nr), kc, panel, kNr);
      pack8(src + 8 * ldw, ldw, nr > 8 ? nr - 8 : 0, kc, panel + 8, kNr);
      for (int64_t mb = 0; mb < M; mb += kSmallRows) {
        const int64_t mc = min64(kSmallRows, M - mb);
        widen_rows(x + mb * ldx + pc, ldx, mc, kc, rows);
        for (int64_t i = 0; i < mc; i += kMr) {
          const int64_t mr = min64(kMr, mc - i);
          float* c = y + (mb + i) * ldy + n;
          if (nr == kNr) {
            kSmallTiles[mr](kc, rows + i * kc, kc, panel, c, ldy, load);
            continue;
          }
          for (int64_t r = 0; r < mr; ++r) {
            for (int64_t j = 0; j < kNr; ++j)
              edge[r * kNr + j] = load && j < nr ? c[r * ldy + j] : 0.0f;
          }
          kSmallTiles[mr](kc, rows + i * kc, kc, panel, edge, kNr, load);
          for (int64_t r = 0; r < mr; ++r) {
            for (int64_t j = 0; j < nr; ++j) c[r * ldy + j] = edge[r * kNr + j];
          }
        }
      }
    }
  }
}

namespace {

// gemm_bf16_small_panels' tile: MR token rows (widened, row t at xw + t * kPanelSeg) against NP
// consecutive panels (NP * 16 weight rows; panel q at wp + q * pstride), k in [0, kc):
// y[t * ldy + 16q + j] (+)= the sums, one FMA chain per output with k ascending, as the other
// kernels of this file. `load`: continue the sums already in y, else start from zero.
template <int MR, int NP>
void panel_tile(const float* xw, int64_t kc, const uint16_t* wp, int64_t pstride, float* y,
                int64_t ldy, bool load) {
  __m256 acc[NP][MR][2];
#pragma GCC unroll 2
  for (int q = 0; q < NP; ++q) {
#pragma GCC unroll 6
    for (int t = 0; t < MR; ++t) {
      float* c = y + t * ldy + q * kNr;
      acc[q][t][0] = load ? _mm256_loadu_ps(c) : _mm256_setzero_ps();
      acc[q][t][1] = load ? _mm256_loadu_ps(c + 8) : _mm256_setzero_ps();
    }
  }
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
#pragma GCC unroll 2
    for (int q = 0; q < NP; ++q) {
      __m256 lo, hi;
      panel_row(wp + q * pstride + k * kNr, lo, hi);
#pragma GCC unroll 6
      for (int t = 0; t < MR; ++t) {
        const __m256 xv = _mm256_broadcast_ss(xw + t * kPanelSeg + k);
        acc[q][t][0] = _mm256_fmadd_ps(xv, lo, acc[q][t][0]);
        acc[q][t][1] = _mm256_fmadd_ps(xv, hi, acc[q][t][1]);
      }
    }
  }
#pragma GCC unroll 2
  for (int q = 0; q < NP; ++q) {
#pragma GCC unroll 6
    for (int t = 0; t < MR; ++t) {
      float* c = y + t * ldy + q * kNr;
      _mm256_storeu_ps(c, acc[q][t][0]);
      _mm256_storeu_ps(c + 8, acc[q][t][1]);
    }
  }
}

using PanelTileFn = void (*)(const float*, int64_t, const uint16_t*, int64_t, float*, int64_t,
                             bool);
// [mr]: one panel; up to 3 rows also two panels at once ([mr + 6]), so that at least 4
// independent chains hide the FMA latency where reading W is the cost.
constexpr PanelTileFn kPanelTiles[] = {
    nullptr,           &panel_tile<1, 1>, &panel_tile<2, 1>, &panel_tile<3, 1>, &panel_tile<4, 1>,
    &panel_tile<5, 1>, &panel_tile<6, 1>, &panel_tile<1, 2>, &panel_tile<2, 2>, &panel_tile<3, 2>};

}  // namespace

void gemm_bf16_small_panels(const uint16_t* x, int64_t M, int64_t K, int64_t ldx,
                            const uint16_t* panels, int64_t n0, int64_t n1, float* y, int64_t ldy) {
  isa_entry_check(Isa::kAvx2, __func__);
  if (nothing_to_sum(M, K, n0, n1, y, ldy)) return;
  alignas(32) float xw[kPanelBlock * kPanelSeg];  // the token rows' segment, widened
  alignas(32) float edge[kMr * kNr];              // a panel only partly inside [n0, n1)
  const int64_t p0 = n0 / kNr, p1 = (n1 + kNr - 1) / kNr;
  const int64_t pstride = K * kNr;
  // K in segments (a panel's segment stays in L1 while every token row block uses it; the
  // sums continue in y), token rows in blocks of kPanelBlock, then panels, then tiles of up to
  // 6 rows: W is read from memory once for up to kPanelBlock rows.
  for (int64_t seg = 0; seg < K; seg += kPanelSeg) {
    const int64_t ks = min64(kPanelSeg, K - seg);
    const bool load = seg > 0;
    for (int64_t mb = 0; mb < M; mb += kPanelBlock) {
      const int64_t mc = min64(kPanelBlock, M - mb);
      for (int64_t i = 0; i < mc; ++i)
        widen_rows(x + (mb + i) * ldx + seg, ldx, 1, ks, xw + i * kPanelSeg);
      for (int64_t p = p0; p < p1;) {
        const int64_t lo = p * kNr;
        const bool whole = lo >= n0 && lo + kNr <= n1;
        const bool pair = whole && mc <= 3 && p + 1 < p1 && lo + 2 * kNr <= n1;
        const uint16_t* wp = panels + p * pstride + seg * kNr;
        for (int64_t i = 0; i < mc; i += kMr) {
          const int64_t mr = min64(kMr, mc - i);
          float* c = y + (mb + i) * ldy + lo;
          if (pair) {
            kPanelTiles[mr + 6](xw + i * kPanelSeg, ks, wp, pstride, c, ldy, load);
          } else if (whole) {
            kPanelTiles[mr](xw + i * kPanelSeg, ks, wp, pstride, c, ldy, load);
          } else {  // the columns of [n0, n1) in this panel, through `edge`
            const int64_t j0 = std::max(n0, lo) - lo, j1 = std::min(n1, lo + kNr) - lo;
            for (int64_t r = 0; r < mr; ++r) {
              for (int64_t j = 0; j < kNr; ++j)
                edge[r * kNr + j] = load && j >= j0 && j < j1 ? c[r * ldy + j] : 0.0f;
            }
            kPanelTiles[mr](xw + i * kPanelSeg, ks, wp, pstride, edge, kNr, load);
            for (int64_t r = 0; r < mr; ++r) {
              for (int64_t j = j0; j < j1; ++j) c[r * ldy + j] = edge[r * kNr + j];
            }
          }
        }
        p += pair ? 2 : 1;
      }
    }
  }
}

}  // namespace moe::cpu::avx2
