// Hand-written kernels of the fast CPU backend, one table per CPU level (isa.h).
//
// Each level's kernels live in their own translation units, compiled with that level's
// instructions enabled and nothing else (runtime/CMakeLists.txt):
//   kernels_avx2.cpp, mxfp4_kernels_avx2.cpp, gemm_avx2.cpp    AVX2 + FMA + F16C
//   kernels_avx512bf16.cpp, mxfp4_kernels_avx512bf16.cpp       AVX-512 F/BW/VL/DQ + BF16 (+ AMX)
// Their functions are reached only through the table kernels_for() returns, which is null
// above the level in use; every entry point checks the level again (isa_entry_check), and the
// test tests/isa/check_disassembly.py fails the build's tests where an instruction of a level
// appears in a function outside that level's files. The avx512 level (AVX-512 without BF16) uses
// AVX2's table: its only gain would be wider registers for the same widen-and-FMA work, which
// is bound by reading the weights at decode.
//
// Conventions: bf16 values are uint16_t bit patterns; every kernel is single-threaded over the
// range it is given (the caller splits work across OpenMP threads); no allocation.
//
// Paged KV blocks in the bf16 layout of this backend (block_size 16, head_dim D even):
//   K block of one KV head: [D/2][16 keys][2]   (key j, dim d at ((d/2)*16 + j)*2 + d%2)
//   V block of one KV head: [8][D][2]           (key j, dim d at ((j/2)*D + d)*2 + j%2)
// so that 16 keys' scores, and 16 dims of p.V over a key pair, are one vdpbf16ps each.
//
// Panels of a bf16 [N, K] matrix W (pack_bf16_panels): ceil(N / 16) panels of K x 16 values;
// panel p's 16 values for k start at panels + (p K + k) 16 and hold, for i < 8, W[16p + i, k]
// at 2i and W[16p + 8 + i, k] at 2i + 1 (zero past row N). One 32-byte load then gives rows
// 16p .. 16p + 7 as 8 f32 (the low halves of its 32-bit lanes, shifted up) and 16p + 8 .. 16p +
// 15 (the high halves, masked): the avx2 level's order of sums (one chain per output, k
// ascending, vectors across rows) without transposing W's rows on every pass.
//
// MXFP4 weights stay in the published layout (runtime/core/dtype.h, decode_mxfp4): row n of an
// [N, K] matrix is K/2 bytes of blocks (two FP4 E2M1 values per byte, low nibble first) at
// blocks + n K/2 and K/32 E8M0 scales at scales + n K/32; K % 32 == 0. Every MXFP4 value is a
// bf16 value (at most two significant bits, power-of-two scale), so decoding to bf16 is exact.
#pragma once

#include <cstdint>

#include "runtime/core/cpu_isa.h"

namespace moe::cpu {

constexpr int kAttentionTileRows = 4;  // query rows per attention_rows_bf16 call, at most
constexpr int kAmxAttentionRows = 16;  // query rows per attention_rows_amx call, at most

struct Kernels {
  Isa isa;  // the level these kernels need

  // out[i] = bf16(x[i]) (round to nearest even), n elements.
  void (*f32_to_bf16)(const float* x, uint16_t* out, int64_t n);

  // y[m * ldy + n] = sum_k x[m * ldx + k] * w[n * ldw + k] for m < M, n0 <= n < n1 (f32 sums of
  // bf16 products). For small M (decode): streams w once, M tokens at a time. Every output is
  // the same for any M and row range that contain it (the same products in the same order).
  void (*gemm_bf16_small)(const uint16_t* x, int64_t M, int64_t K, int64_t ldx, const uint16_t* w,
                          int64_t ldw, int64_t n0, int64_t n1, float* y, int64_t ldy);

  // As gemm_bf16_small, for many rows (prefill), blocked for the caches; null where oneDNN's
  // bf16 matmul is the level's large-product path. scratch: gemm_bf16_large_scratch(K) floats.
  void (*gemm_bf16_large)(const uint16_t* x, int64_t M, int64_t K, int64_t ldx, const uint16_t* w,
                          int64_t ldw, int64_t n0, int64_t n1, float* y, int64_t ldy,
                          float* scratch);
  int64_t (*gemm_bf16_large_scratch)(int64_t K);
  // gemm_bf16_small and gemm_bf16_large on W in panels (kPanelRows, below) instead of rows:
  // bitwise the same outputs. Null at levels whose kernels read W's rows as they are. The large
  // one needs n0 % kPanelRows == 0.
  void (*gemm_bf16_small_panels)(const uint16_t* x, int64_t M, int64_t K, int64_t ldx,
                                 const uint16_t* panels, int64_t n0, int64_t n1, float* y,
                                 int64_t ldy);
  void (*gemm_bf16_large_panels)(const uint16_t* x, int64_t M, int64_t K, int64_t ldx,
                                 const uint16_t* panels, int64_t n0, int64_t n1, float* y,
                                 int64_t ldy, float* scratch);

  // out[i] = silu(g[i]) * u[i]; into bf16 (next GEMM's input) or f32.
  void (*silu_mul_bf16)(const float* g, const float* u, uint16_t* out, int64_t n);
  void (*silu_mul_f32)(const float* g, const float* u, float* out, int64_t n);

  // Stores one token's key and value rows (f32 [D] each, rounded to bf16) at slot `j` (0..15)
  // of the blocks kblk, vblk (one KV head's block, layout above).
  void (*kv_store_bf16)(const float* k, const float* v, int D, int j, uint16_t* kblk,
                        uint16_t* vblk);

  // Attention of `rows` (1..kAttentionTileRows) query rows of one sequence over a paged bf16
  // cache (one KV head): row r attends to keys [j0[r], j1[r]). The rows share every key and
  // value load; each row's result is bitwise what the same call with that row alone gives.
  //   q[r]: [D] f32 (D <= 256); blocks: block table; kbase/vbase: the pools' element pointers
  //   for this KV head of block 0, with `block_stride` elements between consecutive blocks;
  //   scale; sink: optional per-head sink logit (nullptr = none); scratch: >= rows * (n + 16)
  //   floats, n = the keys [min j0, max j1) rounded out to whole blocks; out[r]: [D] f32.
  // q and the probabilities are rounded to bf16 before their products (as the reference does).
  void (*attention_rows_bf16)(int rows, const float* const* q, int D, const int32_t* blocks,
                              const uint16_t* kbase, const uint16_t* vbase, int64_t block_stride,
                              const int64_t* j0, const int64_t* j1, float scale, const float* sink,
                              float* scratch, float* const* out);

  // attention_rows_bf16 for a tile of up to kAmxAttentionRows rows on the AMX tile units: the
  // same arguments and layouts, for head sizes D % 32 == 0, D <= 128; null below the amx level.
  // Scores and p.V are tile products (f32 sums of bf16 products, summed in another order than
  // attention_rows_bf16's); softmax and the rounding of q and the probabilities to bf16 are the
  // same. Each row's result is bitwise what the same call with that row alone gives. scratch:
  // >= kAmxAttentionRows * (n + 16) floats (n as above).
  void (*attention_rows_amx)(int rows, const float* const* q, int D, const int32_t* blocks,
                             const uint16_t* kbase, const uint16_t* vbase, int64_t block_stride,
                             const int64_t* j0, const int64_t* j1, float scale, const float* sink,
                             float* scratch, float* const* out);

  // Decodes rows [n0, n1) of an MXFP4 matrix to bf16: out[(n - n0) * K + k].
  void (*mxfp4_rows_to_bf16)(const uint8_t* blocks, const uint8_t* scales, int64_t K, int64_t n0,
                             int64_t n1, uint16_t* out);
  // y[m * ldy + n] = sum_k x[m * ldx + k] * W[n, k] for m < M, n0 <= n < n1, with W MXFP4
  // decoded in registers (f32 sums of bf16 products). For few rows (decode): streams the MXFP4
  // bytes once, up to 4 tokens at a time.
  void (*gemm_mxfp4_small)(const uint16_t* x, int64_t M, int64_t K, int64_t ldx,
                           const uint8_t* blocks, const uint8_t* scales, int64_t n0, int64_t n1,
                           float* y, int64_t ldy);
  // As gemm_mxfp4_small for f32 activations (never rounded to bf16): the decoded weights
  // widened to f32 exactly, f32 fused multiply-adds. Any M (a few rows per pass over W).
  void (*gemm_mxfp4_small_f32)(const float* x, int64_t M, int64_t K, int64_t ldx,
                               const uint8_t* blocks, const uint8_t* scales, int64_t n0, int64_t n1,
                               float* y, int64_t ldy);
};

constexpr int64_t kPanelRows = 16;

// Elements pack_bf16_panels writes for an [N, K] matrix: ceil(N / 16) * 16 * K.
int64_t panels_size(int64_t N, int64_t K);
// Writes panels [p0, p1) of the [N, K] bf16 matrix w (rows ldw apart) in the panel layout
// above, panel p at out + p * 16 * K. Plain C++: any level, any thread's share of the panels.
void pack_bf16_panels(const uint16_t* w, int64_t N, int64_t K, int64_t ldw, int64_t p0, int64_t p1,
                      uint16_t* out);

// The kernels of `level` (avx512 gives AVX2's, amx the AVX512-BF16 ones with AMX attention);
// null for kGeneric, for a level above active_isa(), and for a level this build has no kernels
// for (off x86-64).
const Kernels* kernels_for(Isa level);
// kernels_for(active_isa()).
const Kernels* kernels();

}  // namespace moe::cpu
