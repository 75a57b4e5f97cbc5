// The entry points of each CPU level's kernel files (kernels.h documents what each computes),
// declared once per level namespace, and each level's table. Included only by the level files
// and kernels.cpp: everything else reaches the kernels through kernels_for().
#pragma once

#include "runtime/backend/cpu/kernels.h"

// The functions a level provides for the Kernels table; each one's first statement is
// isa_entry_check(<its level>, __func__).
#define MOE_LEVEL_KERNEL_DECLARATIONS                                                             \
  void f32_to_bf16(const float* x, uint16_t* out, int64_t n);                                     \
  void gemm_bf16_small(const uint16_t* x, int64_t M, int64_t K, int64_t ldx, const uint16_t* w,   \
                       int64_t ldw, int64_t n0, int64_t n1, float* y, int64_t ldy);               \
  void silu_mul_bf16(const float* g, const float* u, uint16_t* out, int64_t n);                   \
  void silu_mul_f32(const float* g, const float* u, float* out, int64_t n);                       \
  void kv_store_bf16(const float* k, const float* v, int D, int j, uint16_t* kblk,                \
                     uint16_t* vblk);                                                             \
  void attention_rows_bf16(int rows, const float* const* q, int D, const int32_t* blocks,         \
                           const uint16_t* kbase, const uint16_t* vbase, int64_t block_stride,    \
                           const int64_t* j0, const int64_t* j1, float scale, const float* sink,  \
                           float* scratch, float* const* out);                                    \
  void mxfp4_rows_to_bf16(const uint8_t* blocks, const uint8_t* scales, int64_t K, int64_t n0,    \
                          int64_t n1, uint16_t* out);                                             \
  void gemm_mxfp4_small(const uint16_t* x, int64_t M, int64_t K, int64_t ldx,                     \
                        const uint8_t* blocks, const uint8_t* scales, int64_t n0, int64_t n1,     \
                        float* y, int64_t ldy);                                                   \
  void gemm_mxfp4_small_f32(const float* x, int64_t M, int64_t K, int64_t ldx,                    \
                            const uint8_t* blocks, const uint8_t* scales, int64_t n0, int64_t n1, \
                            float* y, int64_t ldy);

namespace moe::cpu::avx2 {
MOE_LEVEL_KERNEL_DECLARATIONS
// The blocked GEMM for many rows (gemm_avx2.cpp).
void gemm_bf16_large(const uint16_t* x, int64_t M, int64_t K, int64_t ldx, const uint16_t* w,
                     int64_t ldw, int64_t n0, int64_t n1, float* y, int64_t ldy, float* scratch);
int64_t gemm_bf16_large_scratch(int64_t K);
void gemm_bf16_small_panels(const uint16_t* x, int64_t M, int64_t K, int64_t ldx,
                            const uint16_t* panels, int64_t n0, int64_t n1, float* y, int64_t ldy);
void gemm_bf16_large_panels(const uint16_t* x, int64_t M, int64_t K, int64_t ldx,
                            const uint16_t* panels, int64_t n0, int64_t n1, float* y, int64_t ldy,
                            float* scratch);
extern const Kernels kTable;  // kernels_avx2.cpp
}  // namespace moe::cpu::avx2

namespace moe::cpu::avx512bf16 {
MOE_LEVEL_KERNEL_DECLARATIONS
extern const Kernels kTable;  // kernels_avx512bf16.cpp
}  // namespace moe::cpu::avx512bf16

namespace moe::cpu::amx {
void attention_rows_amx(int rows, const float* const* q, int D, const int32_t* blocks,
                        const uint16_t* kbase, const uint16_t* vbase, int64_t block_stride,
                        const int64_t* j0, const int64_t* j1, float scale, const float* sink,
                        float* scratch, float* const* out);
extern const Kernels kTable;  // kernels_avx512bf16.cpp: AVX512-BF16's with AMX attention
}  // namespace moe::cpu::amx

#undef MOE_LEVEL_KERNEL_DECLARATIONS
