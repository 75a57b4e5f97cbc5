// oneDNN matrix products for the fast CPU backend: y[M, N] (f32, row stride ldy) =
// x[M, K] (row stride ldx) . w[N, K]^T, with x and w both bf16 (f32 accumulation, whichever
// oneDNN kernel it picks: AVX-512 BF16 or AMX) or both f32. w is the checkpoint's [out, in]
// matrix used in place (oneDNN's "ba" weights layout): no copy of the weights is kept.
// Primitives are created once per (dtype, N, K, ldx, ldy) with M a run-time dimension and cached,
// so the experts' varying row counts compile nothing new (a per-M primitive, used only where
// oneDNN refuses a run-time M, costs about a millisecond of JIT per new M).
// oneDNN runs on the OpenMP threads; called inside an OpenMP parallel region, a product runs on
// the calling thread alone.
// Thread-safety: may be called from several threads at once (each thread has its own oneDNN
// stream and scratchpad; the primitive cache is locked).
#pragma once

#include <cstdint>

namespace moe::cpu {

// Returns false if oneDNN cannot run this product on this machine (the caller falls back).
bool onednn_gemm_bf16(const uint16_t* x, int64_t M, int64_t K, int64_t ldx, const uint16_t* w,
                      int64_t N, float* y, int64_t ldy);
bool onednn_gemm_f32(const float* x, int64_t M, int64_t K, int64_t ldx, const float* w, int64_t N,
                     float* y, int64_t ldy);

}  // namespace moe::cpu
