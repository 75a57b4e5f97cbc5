// Attention over the paged KV cache: one block per (query row, head), GQA, causal with an
// optional sliding window and per-head sink logits, written for correctness first. It follows
// the reference's eager formula exactly, including the bf16 rounding points:
//   s_j = act(act(q.k_j) * scale);  with sinks: m = max(max_j s_j, sink), s_j = act(s_j - m),
//   sink = act(sink - m);  p_j = act(exp(s_j - m) / (sum_j exp(s_j - m) [+ exp(sink - m)]));
//   out = act(sum_j p_j v_j)
// Because the probabilities are rounded after normalisation, the kernel makes three passes over
// the keys (maximum, denominator, weighted sum) and recomputes q.k in each instead of keeping a
// score row (any context length fits). Softmax sums in double, as the reference.
#include <cmath>

#include "runtime/backend/cuda/device_math.cuh"
#include "runtime/core/error.h"

namespace moe::cuda {

namespace {

constexpr int kThreads = 128;  // 4 warps
constexpr int kChunk = 64;     // keys per pass-3 chunk
constexpr int kMaxHeadDim = 256;

__global__ void attention_kernel(const float* q, const void* kp, const void* vp,
                                 const int64_t* row_pos, const int64_t* row_table,
                                 const int32_t* tables, AttentionParams P, float* out) {
  const int64_t row = blockIdx.x, h = blockIdx.y, d = P.d;
  float* o = out + (row * P.nh + h) * d;
  const int64_t p = row_pos[row];
  if (p < 0) {
    for (int64_t c = threadIdx.x; c < d; c += blockDim.x) o[c] = 0.0f;
    return;
  }
  const int32_t* blocks = tables + row_table[row];
  const int64_t j0 = P.window > 0 ? max(int64_t(0), p - P.window + 1) : 0;
  const int64_t kh = h / (P.nh / P.nkv);
  __shared__ float qs[kMaxHeadDim];
  __shared__ float probs[kChunk];
  __shared__ float wred[kThreads / 32];
  for (int64_t c = threadIdx.x; c < d; c += blockDim.x) qs[c] = q[(row * P.nh + h) * d + c];
  __syncthreads();
  const int lane = int(threadIdx.x) & 31, warp = int(threadIdx.x) >> 5, nwarps = kThreads / 32;
  const bool r = P.round;
  const auto base = [&](int64_t j) {
    return ((int64_t(blocks[j / P.B]) * P.nkv + kh) * P.B + j % P.B) * d;
  };
  // Raw score of key j, computed by one warp (every lane gets it).
  const auto score = [&](int64_t j) {
    const int64_t b = base(j);
    float dot = 0.0f;
    for (int64_t c = lane; c < d; c += 32) dot += qs[c] * load_w(kp, P.pool_dt, b + c);
    dot = warp_sum(dot);
    return act(act(dot, r) * P.scale, r);
  };
  // Pass 1: maximum score.
  float m = -INFINITY;
  for (int64_t j = j0 + warp; j <= p; j += nwarps) m = fmaxf(m, score(j));
  if (lane == 0) wred[warp] = m;
  __syncthreads();
  m = -INFINITY;
  for (int i = 0; i < nwarps; ++i) m = fmaxf(m, wred[i]);
  const bool sinks = P.sinks != nullptr;
  double sink = sinks ? double(load_w(P.sinks, P.sinks_dt, h)) : 0.0;
  if (sinks) {
    m = fmaxf(m, float(sink));
    sink = act(float(sink - double(m)), r);
  }
  // Score after the sink shift, and the maximum to subtract in the exponent.
  const double mx = sinks ? 0.0 : double(m);
  const auto shifted = [&](int64_t j) {
    const float s = score(j);
    return sinks ? double(act(s - m, r)) : double(s);
  };
  // Pass 2: denominator.
  double den = 0.0;
  for (int64_t j = j0 + warp; j <= p; j += nwarps) {
    const double e = exp(shifted(j) - mx);
    if (lane == 0) den += e;
  }
  den = block_sum(den);
  if (sinks) den += exp(sink - mx);
  // Pass 3: probabilities of a chunk of keys, then the weighted sum of their values.
  float acc[kMaxHeadDim / kThreads] = {};
  for (int64_t c0 = j0; c0 <= p; c0 += kChunk) {
    const int64_t n = min(int64_t(kChunk), p - c0 + 1);
    for (int64_t i = warp; i < n; i += nwarps) {
      const double e = exp(shifted(c0 + i) - mx);
      if (lane == 0) probs[i] = act(float(e / den), r);
    }
    __syncthreads();
    for (int64_t i = 0; i < n; ++i) {
      const int64_t b = base(c0 + i);
      for (int a = 0; a * kThreads + int(threadIdx.x) < d; ++a)
        acc[a] += probs[i] * load_w(vp, P.pool_dt, b + a * kThreads + threadIdx.x);
    }
    __syncthreads();
  }
  for (int a = 0; a * kThreads + int(threadIdx.x) < d; ++a)
    o[a * kThreads + threadIdx.x] = act(acc[a], r);
}

}  // namespace

void launch_attention(const float* q, const void* k_pool, const void* v_pool,
                      const int64_t* row_pos, const int64_t* row_table, const int32_t* tables,
                      const AttentionParams& p, float* out, cudaStream_t s) {
  MOE_ASSERT(p.d <= kMaxHeadDim, "head_dim {} above the CUDA attention kernel's {}", p.d,
             kMaxHeadDim);
  MOE_ASSERT(p.nkv > 0 && p.nh % p.nkv == 0, "{} query heads over {} KV heads", p.nh, p.nkv);
  if (p.T == 0 || p.nh == 0) return;
  attention_kernel<<<dim3(unsigned(p.T), unsigned(p.nh)), kThreads, 0, s>>>(
      q, k_pool, v_pool, row_pos, row_table, tables, p, out);
  MOE_CUDA_LAUNCHED();
}

}  // namespace moe::cuda
