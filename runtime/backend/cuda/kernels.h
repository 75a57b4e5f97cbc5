// The CUDA backend's kernels, as host launchers on a stream (kernels.cu, attention.cu,
// routing.cu). Internal to runtime/backend/cuda: includes the CUDA runtime header, so CPU code
// must not include it (use cuda_backend.h).
//
// Conventions: activations are f32, row-major; `round` applies the bf16 emulation rounding of
// the reference backend (reference.cpp lists the rounding points) at the same places. Weight-like
// inputs (tables, norm weights, biases, sinks) are f32 or bf16 (WDType); every pointer is device
// memory unless it says host. Launchers check the launch and return without synchronising.
// Thread-safety: launchers are stateless; ordering is the stream's.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace moe::cuda {

enum class WDType : int { kF32 = 0, kBf16 = 1 };

// out[t] = table[ids[t]].  table: [V, H]; ids: [T]; out: [T, H]
void launch_embedding(const void* table, WDType dt, int64_t V, int64_t H, const int32_t* ids,
                      int64_t T, float* out, cudaStream_t s);

// Norm kinds as NormSpec::Kind (0 RMS cast-then-scale, 1 RMS scale-then-cast, 2 LayerNorm).
// x: [N, D]; w: [D]; b: [D] or null; out: [N, D] (may alias x)
void launch_norm(const float* x, const void* w, const void* b, WDType dt, int64_t N, int64_t D,
                 int kind, float eps, bool round, float* out, cudaStream_t s);

// inout[i] = act(inout[i] + x[i]).  n elements
void launch_add(const float* x, float* inout, int64_t n, bool round, cudaStream_t s);
// x[i] = clamp(x[i], -limit, limit)
void launch_clamp(float* x, int64_t n, float limit, cudaStream_t s);

// Rotary table of one call, passed by value to the kernel (head_dim <= 512).
struct RopeParams {
  float inv_freq[256];  // [half]
  int half = 0;
  float scale = 1.0f;
};
// x: [T, n, 2 * half] rotated in place; pos: [T]
void launch_rope(float* x, int64_t T, int64_t n, const int32_t* pos, const RopeParams& p,
                 bool round, cudaStream_t s);

// Writes this step's keys/values into the paged pools. k, v: [T, nkv, d] f32; dst: [T] element
// offset of token t's head 0 row in the pools ((block * nkv * B + offset) * d, -1: not
// stored); pools f32 or bf16
// [blocks, nkv, B, d].
void launch_kv_store(const float* k, const float* v, int64_t T, int64_t nkv, int64_t d, int64_t B,
                     const int64_t* dst, void* k_pool, void* v_pool, WDType pool_dt,
                     cudaStream_t s);

struct AttentionParams {
  int64_t T = 0, nh = 0, nkv = 0, d = 0, B = 0;
  float scale = 1.0f;
  int window = 0;  // 0 = full causal
  const void* sinks = nullptr;  // [nh] or null
  WDType sinks_dt = WDType::kF32;
  WDType pool_dt = WDType::kF32;
  bool round = false;
};
// q: [T, nh, d]; row_pos: [T] position of each query row (-1: row not in any sequence, output
// zeros); row_table: [T] offset of the row's block table in `tables`; out: [T, nh, d]
void launch_attention(const float* q, const void* k_pool, const void* v_pool,
                      const int64_t* row_pos, const int64_t* row_table, const int32_t* tables,
                      const AttentionParams& p, float* out, cudaStream_t s);

// Gated activation (GluSpec): kind 0 silu(g) * u; 1 GPT-OSS clamped swish.  g, u, out: [n]
void launch_glu(const float* g, const float* u, int64_t n, int kind, float limit, float alpha,
                bool round, float* out, cudaStream_t s);

// Routing (io::RoutingKind: 0 softmax->top-k, 1 top-k->softmax, 2 sparsemixer), one row per
// token, with routing.cpp's semantics; weights rounded when `round`.
// logits: [T, E]; experts: [T, k] i32; weights: [T, k]
void launch_route(const float* logits, int64_t T, int E, int k, int kind, bool renormalize,
                  float sparsemixer_eps, bool round, int32_t* experts, float* weights,
                  cudaStream_t s);

// out[t] = sum over j of y[slot[t*k+j]] in ascending order of experts[t*k+j], rounding after each
// addition when `round`.  y: [N, H]; slot, experts: [T * k]; out: [T, H]
void launch_combine(const float* y, const int32_t* slot, const int32_t* experts, int64_t T, int k,
                    int64_t H, bool round, float* out, cudaStream_t s);
// out[i] = x[rows[i]].  x: [*, H]; rows: [N]; out: [N, H]
void launch_gather_rows(const float* x, const int32_t* rows, int64_t N, int64_t H, float* out,
                        cudaStream_t s);
// out[i] = bf16(x[i]) (round to nearest even).  n elements
void launch_to_bf16(const float* x, int64_t n, uint16_t* out, cudaStream_t s);

// GEMM epilogue over y [N, C]: y = act(y + b) (round_first false: linear) or
// y = act(act(y) + b) (round_first true: expert GEMMs). The bias of row r is
// biases[row_group[r]] (row_group null: biases[0]); biases null: no bias, only the rounding.
void launch_bias_epilogue(float* y, int64_t N, int64_t C, const void* const* biases, WDType dt,
                          const int32_t* row_group, bool round_first, bool round, cudaStream_t s);
// Splits gate_up rows [N, 2I] into g, u [N, I]: fused (gate first, then up) or interleaved.
void launch_split_gate_up(const float* gu, int64_t N, int64_t I, bool interleaved, float* g,
                          float* u, cudaStream_t s);
// y[r, :] = act(y[r, :] * w[r]).  y: [N, H]; w: [N]
void launch_scale_rows(float* y, int64_t N, int64_t H, const float* w, bool round,
                       cudaStream_t s);
// Decodes MXFP4 rows (runtime/core/dtype.h decode_mxfp4) to f32.
// blocks: [rows, in / 2] U8; scales: [rows, in / 32] U8; out: [rows, in]
void launch_decode_mxfp4(const uint8_t* blocks, const uint8_t* scales, int64_t rows, int64_t in,
                         float* out, cudaStream_t s);

}  // namespace moe::cuda
