// Hand-written kernels of the fast CPU backend for AVX-512 with BF16 (vdpbf16ps) and, for
// attention, AMX-BF16 (tdpbf16ps), compiled with those instructions enabled in
// kernels_avx512bf16.cpp only; call them only when cpu_has_avx512_bf16() (cpu_has_amx_bf16())
// is true (the backend checks once and falls back otherwise).
//
// Conventions: bf16 values are uint16_t bit patterns; every kernel is single-threaded over the
// range it is given (the caller splits work across OpenMP threads); no allocation.
//
// Paged KV blocks in the bf16 layout of this backend (block_size 16, head_dim D even):
//   K block of one KV head: [D/2][16 keys][2]   (key j, dim d at ((d/2)*16 + j)*2 + d%2)
//   V block of one KV head: [8][D][2]           (key j, dim d at ((j/2)*D + d)*2 + j%2)
// so that 16 keys' scores, and 16 dims of p.V over a key pair, are one vdpbf16ps each.
#pragma once

#include <cstdint>

namespace moe::cpu {

bool cpu_has_avx512_bf16();

// out[i] = bf16(x[i]) (round to nearest even), n elements.
void f32_to_bf16(const float* x, uint16_t* out, int64_t n);

// y[m * ldy + n] = sum_k x[m * ldx + k] * w[n * ldw + k] for m < M, n0 <= n < n1 (f32 sums of
// bf16 products). For small M (decode): streams w once, M tokens at a time.
void gemm_bf16_small(const uint16_t* x, int64_t M, int64_t K, int64_t ldx, const uint16_t* w,
                     int64_t ldw, int64_t n0, int64_t n1, float* y, int64_t ldy);

// out[i] = silu(g[i]) * u[i]; into bf16 (next GEMM's input) or f32.
void silu_mul_bf16(const float* g, const float* u, uint16_t* out, int64_t n);
void silu_mul_f32(const float* g, const float* u, float* out, int64_t n);

// Stores one token's key and value rows (f32 [D] each, rounded to bf16) at slot `j` (0..15) of
// the blocks kblk, vblk (one KV head's block, layout above).
void kv_store_bf16(const float* k, const float* v, int D, int j, uint16_t* kblk, uint16_t* vblk);

// Attention of `rows` (1..kAttentionTileRows) query rows of one sequence over a paged bf16
// cache (one KV head): row r attends to keys [j0[r], j1[r]). The rows share every key and value
// load; each row's result is bitwise what the same call with that row alone gives.
//   q[r]: [D] f32 (D <= 256); blocks: block table; kbase/vbase: the pools' element pointers for
//   this KV head of block 0, with `block_stride` elements between consecutive blocks; scale;
//   sink: optional per-head sink logit (nullptr = none); scratch: >= rows * (n + 16) floats,
//   n = the keys [min j0, max j1) rounded out to whole blocks; out[r]: [D] f32.
constexpr int kAttentionTileRows = 4;
void attention_rows_bf16(int rows, const float* const* q, int D, const int32_t* blocks,
                         const uint16_t* kbase, const uint16_t* vbase, int64_t block_stride,
                         const int64_t* j0, const int64_t* j1, float scale, const float* sink,
                         float* scratch, float* const* out);

// AMX: whether the CPU has AMX-BF16 and Linux grants this process the tile state (asked once).
bool cpu_has_amx_bf16();

// attention_rows_bf16 for a tile of up to kAmxAttentionRows rows on the AMX tile units: the
// same arguments and layouts, for head sizes D % 32 == 0, D <= 128; call only when
// cpu_has_amx_bf16(). Scores and p.V are tile products (f32 sums of bf16 products, summed in
// another order than attention_rows_bf16's); softmax and the rounding of q and the
// probabilities to bf16 are the same. Each row's result is bitwise what the same call with that
// row alone gives. scratch: >= kAmxAttentionRows * (n + 16) floats (n as above).
constexpr int kAmxAttentionRows = 16;
void attention_rows_amx(int rows, const float* const* q, int D, const int32_t* blocks,
                        const uint16_t* kbase, const uint16_t* vbase, int64_t block_stride,
                        const int64_t* j0, const int64_t* j1, float scale, const float* sink,
                        float* scratch, float* const* out);

}  // namespace moe::cpu
