// MXFP4 weight kernels of the fast CPU backend (gpt_oss experts), for AVX-512 with BF16
// (vdpbf16ps); compiled with those instructions in mxfp4_kernels_avx512bf16.cpp only: call them
// only when the CPU has AVX512-BF16 (the backend checks once and otherwise uses the reference).
//
// Weights stay in the published MXFP4 layout (runtime/core/dtype.h, decode_mxfp4): row n of an
// [N, K] matrix is K/2 bytes of blocks (two FP4 E2M1 values per byte, low nibble first) at
// blocks + n K/2 and K/32 E8M0 scales at scales + n K/32. Every MXFP4 value is a bf16 value
// (at most two significant bits, power-of-two scale), so decoding to bf16 is exact and products
// with bf16 activations equal those of a dequantised bf16 checkpoint.
// Conventions: bf16 values are uint16_t bit patterns; kernels are single-threaded over the row
// range they are given (the caller splits rows across threads); no allocation. K % 32 == 0.
#pragma once

#include <cstdint>

namespace moe::cpu {

// Decodes rows [n0, n1) of an MXFP4 matrix to bf16: out[(n - n0) * K + k].
void mxfp4_rows_to_bf16(const uint8_t* blocks, const uint8_t* scales, int64_t K, int64_t n0,
                        int64_t n1, uint16_t* out);

// y[m * ldy + n] = sum_k x[m * ldx + k] * W[n, k] for m < M, n0 <= n < n1, with W MXFP4 decoded
// in registers (f32 sums of bf16 products). For few rows (decode): streams the MXFP4 bytes once,
// up to 4 tokens at a time.
void gemm_mxfp4_small(const uint16_t* x, int64_t M, int64_t K, int64_t ldx, const uint8_t* blocks,
                      const uint8_t* scales, int64_t n0, int64_t n1, float* y, int64_t ldy);

// As gemm_mxfp4_small for f32 activations (an f32 checkpoint's, never rounded to bf16): the
// decoded weights widened to f32 exactly, f32 fused multiply-adds. Any M (4 rows per pass over W).
void gemm_mxfp4_small_f32(const float* x, int64_t M, int64_t K, int64_t ldx,
                          const uint8_t* blocks, const uint8_t* scales, int64_t n0, int64_t n1,
                          float* y, int64_t ldy);

}  // namespace moe::cpu
