// Router kernels: softmax -> top-k (qwen3_moe, olmoe), top-k -> softmax (gpt_oss) and the
// Phi-3.5-MoE sparsemixer, one thread per token, ported statement by statement from
// runtime/routing/routing.cpp (same f32 order of operations, same tie-breaking: the lower
// expert id wins among equal values), so a device backend routes as the host does.
#include <cmath>

#include "runtime/backend/cuda/device_math.cuh"

namespace moe::cuda {

namespace {

// topk_indices over values produced by value(j), j in [0, E).
template <class Value>
__device__ void topk_dev(const Value& value, int E, int k, int32_t* out, float* val) {
  for (int i = 0; i < k; ++i) out[i] = -1;
  for (int j = 0; j < E; ++j) {
    const float v = value(j);
    if (out[k - 1] >= 0 && !(v > val[k - 1])) continue;
    int p = k - 1;
    while (p > 0 && (out[p - 1] < 0 || v > val[p - 1])) {
      val[p] = val[p - 1];
      out[p] = out[p - 1];
      --p;
    }
    val[p] = v;
    out[p] = j;
  }
}

// Max (0 when everything is -inf) and 1 / sum of exp(v - max) over n values, as softmax_inplace.
template <class Value>
__device__ void softmax_stats(const Value& value, int n, float* m_out, float* inv_out) {
  float m = -INFINITY;
  for (int i = 0; i < n; ++i) m = fmaxf(m, value(i));
  if (m == -INFINITY) m = 0.0f;
  float s = 0.0f;
  for (int i = 0; i < n; ++i) s += expf(value(i) - m);
  *m_out = m;
  *inv_out = 1.0f / s;
}

__device__ void sparsemixer_stage(const float* s, int E, float eps, int excluded, bool bf16,
                                  int32_t* idx, float* w) {
  int best = -1;
  float m = -INFINITY;
  for (int j = 0; j < E; ++j) {
    if (j == excluded) continue;
    if (best < 0 || s[j] > m) {
      m = s[j];
      best = j;
    }
  }
  const float thr = act(float(2.0 * double(eps)), bf16);
  float denom = 0.0f;
  for (int j = 0; j < E; ++j) {
    if (j == excluded) continue;
    const float factor = fmaxf(fabsf(s[j]), m);
    const bool masked = act(act(m - s[j], bf16) / factor, bf16) > thr;
    if (!masked) denom += expf(s[j] - m);
  }
  *idx = best;
  *w = 1.0f / denom;
}

__global__ void route_kernel(const float* logits, int64_t T, int E, int k, int kind,
                             bool renormalize, float eps, bool round, int32_t* experts,
                             float* weights) {
  const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= T) return;
  const float* row = logits + t * E;
  int32_t* ex = experts + t * k;
  float* w = weights + t * k;
  float val[64];
  if (kind == 0) {  // softmax over E -> top-k -> optional renormalisation
    float m, inv;
    softmax_stats([&](int j) { return row[j]; }, E, &m, &inv);
    const auto prob = [&](int j) { return expf(row[j] - m) * inv; };
    topk_dev(prob, E, k, ex, val);
    float sum = 0.0f;
    for (int j = 0; j < k; ++j) {
      w[j] = prob(ex[j]);
      sum += w[j];
    }
    if (renormalize)
      for (int j = 0; j < k; ++j) w[j] /= sum;
  } else if (kind == 1) {  // top-k of the logits -> softmax over those k
    topk_dev([&](int j) { return row[j]; }, E, k, ex, val);
    float m, inv;
    softmax_stats([&](int j) { return row[ex[j]]; }, k, &m, &inv);
    for (int j = 0; j < k; ++j) w[j] = expf(row[ex[j]] - m) * inv;
  } else {  // sparsemixer (k = 2); the mask in bf16 when the activations are
    sparsemixer_stage(row, E, eps, -1, round, &ex[0], &w[0]);
    sparsemixer_stage(row, E, eps, ex[0], round, &ex[1], &w[1]);
  }
  for (int j = 0; j < k; ++j) w[j] = act(w[j], round);
}

}  // namespace

void launch_route(const float* logits, int64_t T, int E, int k, int kind, bool renormalize,
                  float sparsemixer_eps, bool round, int32_t* experts, float* weights,
                  cudaStream_t s) {
  if (T == 0) return;
  route_kernel<<<unsigned((T + 127) / 128), 128, 0, s>>>(logits, T, E, k, kind, renormalize,
                                                         sparsemixer_eps, round, experts, weights);
  MOE_CUDA_LAUNCHED();
}

}  // namespace moe::cuda
