// Device helpers shared by the CUDA backend's kernels: loads of f32/bf16 weights, bf16 rounding
// to nearest even (as runtime/core/dtype.h f32_to_bf16), the activation rounding of the bf16
// emulation, block reductions and the launch check. Internal to runtime/backend/cuda.
// Thread-safety: stateless device functions.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "runtime/backend/cuda/cuda_check.h"
#include "runtime/backend/cuda/kernels.h"

namespace moe::cuda {

__device__ __forceinline__ float bf16_bits_to_f32(uint16_t b) {
  return __uint_as_float(uint32_t(b) << 16);
}
__device__ __forceinline__ uint16_t f32_to_bf16_bits(float f) {
  return __bfloat16_as_ushort(__float2bfloat16_rn(f));
}
__device__ __forceinline__ float round_bf16_dev(float f) { return __bfloat162float(__float2bfloat16_rn(f)); }
// Element i of an f32 or bf16 array.
__device__ __forceinline__ float load_w(const void* p, WDType dt, int64_t i) {
  return dt == WDType::kBf16 ? bf16_bits_to_f32(static_cast<const uint16_t*>(p)[i])
                             : static_cast<const float*>(p)[i];
}
__device__ __forceinline__ void store_w(void* p, WDType dt, int64_t i, float v) {
  if (dt == WDType::kBf16)
    static_cast<uint16_t*>(p)[i] = f32_to_bf16_bits(v);
  else
    static_cast<float*>(p)[i] = v;
}
__device__ __forceinline__ float act(float v, bool round) { return round ? round_bf16_dev(v) : v; }

template <class T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
template <class T>
__device__ T block_sum(T v) {
  __shared__ T part[32];
  const int lane = int(threadIdx.x) & 31, warp = int(threadIdx.x) >> 5;
  v = warp_sum(v);
  __syncthreads();  // part[] may still be read by a previous call
  if (lane == 0) part[warp] = v;
  __syncthreads();
  const int nw = int(blockDim.x) >> 5;
  T s = T(0);
  for (int i = 0; i < nw; ++i) s += part[i];
  return s;
}

// Grid of enough 256-thread blocks for n elements (grid-stride loops cover the rest).
inline unsigned grid_for(int64_t n, int threads = 256) {
  const int64_t b = (n + threads - 1) / threads;
  return unsigned(b < 1 ? 1 : (b > 65535 * 16 ? 65535 * 16 : b));
}

}  // namespace moe::cuda

// Checks the launch just made (configuration errors surface here; faults at the next sync).
#define MOE_CUDA_LAUNCHED() CUDA_CHECK(cudaGetLastError())
