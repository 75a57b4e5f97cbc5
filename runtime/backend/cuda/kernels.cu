// Elementwise, normalisation, rotary, cache, combine and conversion kernels of the CUDA backend.
// Each follows the reference backend's formula (runtime/backend/cpu/reference.cpp) in the same
// operation order and with the same bf16 rounding points; built with --fmad=false so products
// and sums are not contracted into FMAs (the host compiler does not contract either).
#include <cmath>

#include "runtime/backend/cuda/device_math.cuh"

namespace moe::cuda {

namespace {

#define GRID_STRIDE(i, n) \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

__global__ void embedding_kernel(const void* table, WDType dt, int64_t H, const int32_t* ids,
                                 int64_t T, float* out) {
  GRID_STRIDE(i, T * H) {
    const int64_t t = i / H, c = i % H;
    out[i] = load_w(table, dt, int64_t(ids[t]) * H + c);
  }
}

// One block per row; sums in double as the reference.
__global__ void norm_kernel(const float* x, const void* w, const void* b, WDType dt, int64_t D,
                            int kind, float eps, bool round, float* out) {
  const float* xr = x + int64_t(blockIdx.x) * D;
  float* yr = out + int64_t(blockIdx.x) * D;
  if (kind == 2) {  // LayerNorm
    double s = 0;
    for (int64_t i = threadIdx.x; i < D; i += blockDim.x) s += xr[i];
    const double mean = block_sum(s) / double(D);
    double v = 0;
    for (int64_t i = threadIdx.x; i < D; i += blockDim.x) v += (xr[i] - mean) * (xr[i] - mean);
    const double var = block_sum(v) / double(D);
    const float rstd = float(1.0 / sqrt(var + double(eps)));
    for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
      const float bias = b ? load_w(b, dt, i) : 0.0f;
      yr[i] = act(float(xr[i] - mean) * rstd * load_w(w, dt, i) + bias, round);
    }
    return;
  }
  double ss = 0;
  for (int64_t i = threadIdx.x; i < D; i += blockDim.x) ss += double(xr[i]) * xr[i];
  ss = block_sum(ss);
  const float rstd = float(1.0 / sqrt(double(float(ss / double(D))) + double(eps)));
  for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
    const float wi = load_w(w, dt, i);
    yr[i] = kind == 0 ? act(wi * act(xr[i] * rstd, round), round) : act(wi * (xr[i] * rstd), round);
  }
}

__global__ void add_kernel(const float* x, float* inout, int64_t n, bool round) {
  GRID_STRIDE(i, n) inout[i] = act(inout[i] + x[i], round);
}

__global__ void clamp_kernel(float* x, int64_t n, float limit) {
  GRID_STRIDE(i, n) x[i] = fminf(fmaxf(x[i], -limit), limit);
}

// One thread per (token, head, pair i).
__global__ void rope_kernel(float* x, int64_t T, int64_t n, const int32_t* pos, RopeParams p,
                            bool round) {
  const int64_t half = p.half, d = 2 * half;
  GRID_STRIDE(idx, T * n * half) {
    const int64_t i = idx % half, th = idx / half, t = th / n;
    const float angle = float(pos[t]) * p.inv_freq[i];
    const float c = act(float(cos(double(angle))) * p.scale, round);
    const float s = act(float(sin(double(angle))) * p.scale, round);
    float* v = x + th * d;
    const float x1 = v[i], x2 = v[i + half];
    v[i] = act(act(x1 * c, round) + act(-x2 * s, round), round);
    v[i + half] = act(act(x2 * c, round) + act(x1 * s, round), round);
  }
}

__global__ void kv_store_kernel(const float* k, const float* v, int64_t T, int64_t nkv, int64_t d,
                                int64_t B, const int64_t* dst, void* kp, void* vp, WDType dt) {
  GRID_STRIDE(i, T * nkv * d) {
    const int64_t j = i % d, h = (i / d) % nkv, t = i / (d * nkv);
    if (dst[t] < 0) continue;  // a row of no sequence
    const int64_t o = dst[t] + h * B * d + j;
    store_w(kp, dt, o, k[i]);
    store_w(vp, dt, o, v[i]);
  }
}

__device__ float silu(float g) { return g / (1.0f + expf(-g)); }
__device__ float sigmoid(float g) { return 1.0f / (1.0f + expf(-g)); }

__global__ void glu_kernel(const float* g, const float* u, int64_t n, int kind, float limit,
                           float alpha, bool round, float* out) {
  GRID_STRIDE(i, n) {
    if (kind == 0) {
      out[i] = act(act(silu(g[i]), round) * u[i], round);
    } else {
      const float gc = fminf(g[i], limit);
      const float uc = fminf(fmaxf(u[i], -limit), limit);
      const float gl = act(gc * act(sigmoid(act(gc * alpha, round)), round), round);
      out[i] = act(act(uc + 1.0f, round) * gl, round);
    }
  }
}

// One block per token: thread 0 orders the k pairs by (expert, slot), then the block sums.
__global__ void combine_kernel(const float* y, const int32_t* slot, const int32_t* experts, int k,
                               int64_t H, bool round, float* out) {
  __shared__ int32_t rows[64];
  const int64_t t = blockIdx.x;
  if (threadIdx.x == 0) {
    int32_t ex[64];
    for (int j = 0; j < k; ++j) {
      ex[j] = experts[t * k + j];
      rows[j] = slot[t * k + j];
    }
    for (int a = 1; a < k; ++a)  // insertion sort on (expert, row)
      for (int b = a; b > 0 && (ex[b] < ex[b - 1] || (ex[b] == ex[b - 1] && rows[b] < rows[b - 1])); --b) {
        const int32_t e = ex[b], r = rows[b];
        ex[b] = ex[b - 1];
        rows[b] = rows[b - 1];
        ex[b - 1] = e;
        rows[b - 1] = r;
      }
  }
  __syncthreads();
  for (int64_t c = threadIdx.x; c < H; c += blockDim.x) {
    float acc = 0.0f;
    for (int j = 0; j < k; ++j) acc = act(acc + y[int64_t(rows[j]) * H + c], round);
    out[t * H + c] = acc;
  }
}

__global__ void gather_rows_kernel(const float* x, const int32_t* rows, int64_t N, int64_t H,
                                   float* out) {
  GRID_STRIDE(i, N * H) out[i] = x[int64_t(rows[i / H]) * H + i % H];
}

__global__ void to_bf16_kernel(const float* x, int64_t n, uint16_t* out) {
  GRID_STRIDE(i, n) out[i] = f32_to_bf16_bits(x[i]);
}

__global__ void bias_epilogue_kernel(float* y, int64_t N, int64_t C, const void* const* biases,
                                     WDType dt, const int32_t* row_group, bool round_first,
                                     bool round) {
  GRID_STRIDE(i, N * C) {
    const int64_t r = i / C, c = i % C;
    float v = round_first ? act(y[i], round) : y[i];
    if (biases) v += load_w(biases[row_group ? row_group[r] : 0], dt, c);
    y[i] = act(v, round);
  }
}

__global__ void split_gate_up_kernel(const float* gu, int64_t N, int64_t I, bool interleaved,
                                     float* g, float* u) {
  GRID_STRIDE(idx, N * I) {
    const int64_t r = idx / I, i = idx % I;
    const float* row = gu + r * 2 * I;
    g[idx] = row[interleaved ? 2 * i : i];
    u[idx] = row[interleaved ? 2 * i + 1 : I + i];
  }
}

__global__ void scale_rows_kernel(float* y, int64_t N, int64_t H, const float* w, bool round) {
  GRID_STRIDE(i, N * H) y[i] = act(y[i] * w[i / H], round);
}

__global__ void decode_mxfp4_kernel(const uint8_t* blocks, const uint8_t* scales, int64_t rows,
                                    int64_t in, float* out) {
  constexpr float kFp4[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  GRID_STRIDE(i, rows * in) {
    const int64_t r = i / in, c = i % in;
    const uint8_t byte = blocks[r * (in / 2) + c / 2];
    const uint8_t nib = (c & 1) ? uint8_t(byte >> 4) : uint8_t(byte & 0xf);
    const uint8_t e = scales[r * (in / 32) + c / 32];
    const float mag = kFp4[nib & 7];
    const float v = (nib & 8) ? -mag : mag;
    out[i] = e == 255 ? __int_as_float(0x7fc00000) : ldexpf(v, int(e) - 127);
  }
}

}  // namespace

void launch_embedding(const void* table, WDType dt, int64_t V, int64_t H, const int32_t* ids,
                      int64_t T, float* out, cudaStream_t s) {
  if (T * H == 0) return;
  embedding_kernel<<<grid_for(T * H), 256, 0, s>>>(table, dt, H, ids, T, out);
  MOE_CUDA_LAUNCHED();
}

void launch_norm(const float* x, const void* w, const void* b, WDType dt, int64_t N, int64_t D,
                 int kind, float eps, bool round, float* out, cudaStream_t s) {
  if (N == 0) return;
  norm_kernel<<<unsigned(N), 256, 0, s>>>(x, w, b, dt, D, kind, eps, round, out);
  MOE_CUDA_LAUNCHED();
}

void launch_add(const float* x, float* inout, int64_t n, bool round, cudaStream_t s) {
  if (n == 0) return;
  add_kernel<<<grid_for(n), 256, 0, s>>>(x, inout, n, round);
  MOE_CUDA_LAUNCHED();
}

void launch_clamp(float* x, int64_t n, float limit, cudaStream_t s) {
  if (n == 0) return;
  clamp_kernel<<<grid_for(n), 256, 0, s>>>(x, n, limit);
  MOE_CUDA_LAUNCHED();
}

void launch_rope(float* x, int64_t T, int64_t n, const int32_t* pos, const RopeParams& p,
                 bool round, cudaStream_t s) {
  if (T * n * p.half == 0) return;
  rope_kernel<<<grid_for(T * n * p.half), 256, 0, s>>>(x, T, n, pos, p, round);
  MOE_CUDA_LAUNCHED();
}

void launch_kv_store(const float* k, const float* v, int64_t T, int64_t nkv, int64_t d, int64_t B,
                     const int64_t* dst, void* k_pool, void* v_pool, WDType pool_dt,
                     cudaStream_t s) {
  if (T * nkv * d == 0) return;
  kv_store_kernel<<<grid_for(T * nkv * d), 256, 0, s>>>(k, v, T, nkv, d, B, dst, k_pool, v_pool,
                                                        pool_dt);
  MOE_CUDA_LAUNCHED();
}

void launch_glu(const float* g, const float* u, int64_t n, int kind, float limit, float alpha,
                bool round, float* out, cudaStream_t s) {
  if (n == 0) return;
  glu_kernel<<<grid_for(n), 256, 0, s>>>(g, u, n, kind, limit, alpha, round, out);
  MOE_CUDA_LAUNCHED();
}

void launch_combine(const float* y, const int32_t* slot, const int32_t* experts, int64_t T, int k,
                    int64_t H, bool round, float* out, cudaStream_t s) {
  if (T == 0) return;
  combine_kernel<<<unsigned(T), 256, 0, s>>>(y, slot, experts, k, H, round, out);
  MOE_CUDA_LAUNCHED();
}

void launch_gather_rows(const float* x, const int32_t* rows, int64_t N, int64_t H, float* out,
                        cudaStream_t s) {
  if (N * H == 0) return;
  gather_rows_kernel<<<grid_for(N * H), 256, 0, s>>>(x, rows, N, H, out);
  MOE_CUDA_LAUNCHED();
}

void launch_to_bf16(const float* x, int64_t n, uint16_t* out, cudaStream_t s) {
  if (n == 0) return;
  to_bf16_kernel<<<grid_for(n), 256, 0, s>>>(x, n, out);
  MOE_CUDA_LAUNCHED();
}

void launch_bias_epilogue(float* y, int64_t N, int64_t C, const void* const* biases, WDType dt,
                          const int32_t* row_group, bool round_first, bool round, cudaStream_t s) {
  if (N * C == 0 || (!biases && !round)) return;
  bias_epilogue_kernel<<<grid_for(N * C), 256, 0, s>>>(y, N, C, biases, dt, row_group,
                                                       round_first, round);
  MOE_CUDA_LAUNCHED();
}

void launch_split_gate_up(const float* gu, int64_t N, int64_t I, bool interleaved, float* g,
                          float* u, cudaStream_t s) {
  if (N * I == 0) return;
  split_gate_up_kernel<<<grid_for(N * I), 256, 0, s>>>(gu, N, I, interleaved, g, u);
  MOE_CUDA_LAUNCHED();
}

void launch_scale_rows(float* y, int64_t N, int64_t H, const float* w, bool round,
                       cudaStream_t s) {
  if (N * H == 0) return;
  scale_rows_kernel<<<grid_for(N * H), 256, 0, s>>>(y, N, H, w, round);
  MOE_CUDA_LAUNCHED();
}

void launch_decode_mxfp4(const uint8_t* blocks, const uint8_t* scales, int64_t rows, int64_t in,
                         float* out, cudaStream_t s) {
  if (rows * in == 0) return;
  decode_mxfp4_kernel<<<grid_for(rows * in), 256, 0, s>>>(blocks, scales, rows, in, out);
  MOE_CUDA_LAUNCHED();
}

}  // namespace moe::cuda
