// Backend: the tensors and kernels a model's forward pass runs on.
//
// A Backend owns no model state: the model owns its weights (views of the checkpoint mapping on
// the CPU), the engine owns the KV cache; the backend provides the ops below over Tensors on its
// device. Activations are f32 [rows, features] tensors. Implementations:
//   "cpu-ref"  CpuReferenceBackend: plain loops, obviously correct, the oracle every faster
//              kernel is tested against (runtime/backend/cpu/reference.h). With
//              BackendOptions::bf16_rounding it rounds activations to bf16 exactly where
//              transformers does for a bf16 checkpoint (see each op), for tight golden parity.
//   "cpu"      CpuFastBackend: bf16 weights with f32 accumulation on the vector/matrix units
//              (AVX-512 BF16, AMX via oneDNN), multi-threaded with OpenMP, f32 activations
//              (runtime/backend/cpu/fast.h).
//   "cuda"     CudaBackend (runtime/backend/cuda/backend.h): cuBLAS GEMMs and kernels on one GPU,
//              built when the CUDA toolkit is found; make_backend throws "CUDA backend not
//              available: <reason>" without it or without a GPU (cuda/cuda_backend.h).
// Ops are synchronous from the caller's point of view on the CPU; a device backend may queue
// them on its stream and synchronise in to_host().
// Thread-safety: one forward pass at a time per Backend instance (ops use the backend's worker
// threads internally).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/core/tensor.h"
#include "runtime/routing/routing.h"

namespace moe {

struct BackendOptions {
  std::string name = "cpu";    // "cpu" | "cpu-ref" (| "cuda" where built)
  int threads = 0;             // worker threads; 0 = OpenMP's default (all cores)
  bool bf16_rounding = false;  // cpu-ref: emulate transformers' bf16 activation rounding
};

// Normalisation flavours (runtime/models/README.md section 0): where the cast to the activation
// dtype happens matters for bf16 parity.
struct NormSpec {
  enum class Kind {
    kRmsCastThenScale,  // y = w * to_act(x * rsqrt(mean(x^2) + eps))     (qwen3, olmoe, llama)
    kRmsScaleThenCast,  // y = to_act(w * x * rsqrt(mean(x^2) + eps))     (gpt_oss)
    kLayerNorm,         // y = to_act((x - mean) * rsqrt(var + eps) * w + b) (phimoe)
  } kind = Kind::kRmsCastThenScale;
  float eps = 1e-6f;
};

// Precomputed rotary embedding of one attention layer: angle(pos, i) = pos * inv_freq[i],
// cos/sin multiplied by `scale` (YaRN attention factor, LongRoPE mscale). Half-split rotation.
struct RopeTable {
  std::vector<float> inv_freq;  // [head_dim / 2]
  float scale = 1.0f;
};

// Gated expert activations.
struct GluSpec {
  enum class Kind {
    kSilu,          // silu(g) * u                                     (qwen3, olmoe, phimoe)
    kClampedSwish,  // g = min(g, L); u = clamp(u, -L, L); (u + 1) * g * sigmoid(alpha g)  (gpt_oss)
  } kind = Kind::kSilu;
  float limit = 7.0f;
  float alpha = 1.702f;
};

// The experts of one MoE layer as the kernels see them. Expert e's gate/up/down are views into
// the checkpoint (per-expert tensors or slices of stacked ones); an expert this process does not
// hold (expert parallelism) has undefined tensors.
struct ExpertWeights {
  enum class GateUp {
    kSeparate,     // gate[e] [I, H], up[e] [I, H]
    kFused,        // gate_up[e] [2I, H]: rows [0, I) gate, [I, 2I) up
    kInterleaved,  // gate_up[e] [2I, H]: row 2i gate unit i, row 2i+1 up unit i (gpt_oss)
  } layout = GateUp::kSeparate;
  // How gate_up / down hold their [out, in] matrices.
  enum class Format {
    kFloat,            // F32 / BF16 / F16 tensors of the shapes above
    kFloatTransposed,  // (layout kFused or kInterleaved) float tensors stored [in, out]:
                       // gate_up[e] [H, 2I], down[e] [I, H] (transformers' own parameter layout
                       // of gpt_oss experts, as dequantised checkpoints store them)
    kMxfp4,  // (gpt_oss, layout kFused or kInterleaved) U8 views of the published MXFP4 blocks,
             // never dequantised in memory: gate_up[e] [2I, H/32, 16], down[e] [H, I/32, 16]
             // (two FP4 E2M1 values per byte, low nibble first) with E8M0 scales
             // gate_up_scales[e] [2I, H/32], down_scales[e] [H, I/32]; kernels decode a row or
             // tile at a time (decode_mxfp4 in runtime/core/dtype.h)
  } format = Format::kFloat;
  int hidden = 0;        // H
  int intermediate = 0;  // I
  std::vector<Tensor> gate, up, gate_up;  // [E] each, per layout
  std::vector<Tensor> down;               // [E] of [H, I]
  std::vector<Tensor> gate_up_scales;     // [E] of [2I, H/32] U8 (kMxfp4) or empty
  std::vector<Tensor> down_scales;        // [E] of [H, I/32] U8 (kMxfp4) or empty
  // Biases are added to the rounded GEMM output (y = to_act(to_act(x W^T) + b)), as gpt_oss's
  // reference computes `x @ W + b` for its experts.
  std::vector<Tensor> gate_up_bias;       // [E] of [2I] (same row order as gate_up) or empty
  std::vector<Tensor> down_bias;          // [E] of [H] or empty
  GluSpec glu;
  // The model's activation dtype (config torch_dtype; set by DecoderModel::finalize). A backend
  // that keeps f32 activations may round expert GEMM inputs to bf16 only for BF16 (as
  // transformers computes a bf16 checkpoint); F32 inputs stay f32. Weights in kFloat format
  // carry this in their own dtype; MXFP4 weights do not.
  DType activation = DType::F32;
  int num_experts() const { return int(down.size()); }
};

// One layer of the paged KV cache, as kernels see it. Sequence s's position p lives in block
// blocks[p / block_size] at offset p % block_size.
struct KvLayer {
  Tensor k;  // [num_blocks, n_kv, block_size, head_dim]
  Tensor v;  // [num_blocks, n_kv, block_size, head_dim]
  int block_size = 16;
};

// One sequence of a forward step for attention: its query tokens are rows
// [q_begin, q_begin + q_len) of the step and sit at positions [ctx_len - q_len, ctx_len).
struct AttentionSeq {
  int32_t q_begin = 0;
  int32_t q_len = 0;
  int64_t ctx_len = 0;              // keys visible to the last query (this step's included)
  const int32_t* blocks = nullptr;  // block table, ceil(ctx_len / block_size) entries
};

struct AttentionArgs {
  float scale = 1.0f;
  int sliding_window = 0;        // 0 = full causal; W: key j visible to query i iff i-W < j <= i
  const Tensor* sinks = nullptr; // [n_heads] per-head sink logit (gpt_oss) or null
};

// What a weight is used for (prepare_weight): the right operand of products (linear, experts,
// router), or a table whose rows are read as they are (embedding).
enum class WeightUse : uint8_t { kProduct, kTable };

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual Device device() const = 0;
  virtual const BackendOptions& options() const = 0;

  // ---- memory ----
  virtual Tensor alloc(DType t, Shape shape) = 0;
  // Large, mostly-untouched buffer (KV pools): on the CPU reserved virtually and backed on use.
  virtual Tensor alloc_reserved(DType t, Shape shape) = 0;
  // Makes a checkpoint tensor usable by this backend's kernels (CPU: the view itself, with the
  // fast backend's panel layout attached to bf16 matrices used as products' weights).
  virtual Tensor prepare_weight(const Tensor& w, WeightUse use) = 0;
  // Host copy (CPU: the same tensor). Synchronises a device backend.
  virtual Tensor to_host(const Tensor& t) = 0;
  virtual Tensor from_host(const Tensor& t) = 0;

  // ---- ops (activations f32) ----
  // out[t] = table[ids[t]].  table: [V, H] (f32/bf16/f16); ids: [T] host; out: [T, H]
  virtual void embedding(const Tensor& table, std::span<const int32_t> ids, Tensor& out) = 0;
  // x: [N, D]; w: [D]; b: [D] or null (LayerNorm); out: [N, D] (may alias x)
  virtual void norm(const Tensor& x, const Tensor& w, const Tensor* b, const NormSpec& spec,
                    Tensor& out) = 0;
  // y = x w^T + b.  x: [T, in]; w: [out, in] (f32/bf16); b: [out] or null; y: [T, out]
  virtual void linear(const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y) = 0;
  // inout += x (residual).  both [T, H]
  virtual void add(const Tensor& x, Tensor& inout) = 0;
  // Clamps every element to [-limit, limit] (olmoe clip_qkv).  x: [N, D]
  virtual void clamp(Tensor& x, float limit) = 0;
  // Rotates x in place (half-split).  x: [T, n, d]; pos: [T] host
  virtual void rope(Tensor& x, std::span<const int32_t> pos, const RopeTable& table) = 0;
  // Stores this step's keys/values.  k, v: [T, n_kv, head_dim]
  virtual void kv_store(const Tensor& k, const Tensor& v, std::span<const AttentionSeq> seqs,
                        KvLayer& kv) = 0;
  // Causal attention of this step's queries over the cache (GQA: query head h reads KV head
  // h / (n_heads / n_kv)).  q: [T, n_heads, head_dim]; out: [T, n_heads, head_dim]
  virtual void attention(const Tensor& q, const KvLayer& kv, std::span<const AttentionSeq> seqs,
                         const AttentionArgs& args, Tensor& out) = 0;
  // Dense gated MLP activation.  gate, up: [T, I]; out: [T, I] (may alias gate)
  virtual void glu(const Tensor& gate, const Tensor& up, const GluSpec& spec, Tensor& out) = 0;

  // ---- routing and experts ----
  // logits: [T, E] f32; experts: [T, k] i32; weights: [T, k] f32 (rounded to the activation
  // dtype where the reference casts them).
  virtual void route(const Tensor& logits, const routing::RoutingSpec& spec, Tensor& experts,
                     Tensor& weights) = 0;
  // Grouped expert FFN: rows [offsets[e], offsets[e+1]) of x_rows go through local expert e of
  // `w`; output row r is scaled by row_weight[r].  x_rows, y_rows: [N, H]; offsets: [E+1] host;
  // row_weight: [N] host.
  virtual void expert_ffn(const Tensor& x_rows, std::span<const int64_t> offsets,
                          std::span<const float> row_weight, const ExpertWeights& w,
                          Tensor& y_rows) = 0;
  // The whole local MoE expert computation: out[t] = sum_j weights[t,j] E_{experts[t,j]}(x[t]),
  // summed in ascending expert id order (as transformers' eager experts accumulate). x: [T, H]; experts: [T, k]; weights: [T, k]; out: [T, H].
  // The default buckets tokens by expert (counting sort), runs expert_ffn over contiguous rows
  // and combines; a backend may fuse it.
  virtual void moe_experts(const Tensor& x, const Tensor& experts, const Tensor& weights,
                           const ExpertWeights& w, Tensor& out);
  // out[t] = sum over j of y_rows[slot[t * k + j]], added in ascending order of the pairs'
  // expert ids (transformers' eager experts accumulate expert by expert), rounding to the
  // activation dtype after each addition. k <= 64.
  // y_rows: [N, H]; slot, experts: [T * k] host; out: [T, H]
  virtual void combine(const Tensor& y_rows, std::span<const int32_t> slot,
                       std::span<const int32_t> experts, int k, Tensor& out) = 0;
  // out[i] = x[rows[i]].  x: [T, H]; rows: [N] host; out: [N, H]
  virtual void gather_rows(const Tensor& x, std::span<const int32_t> rows, Tensor& out) = 0;
  // The dtype the KV cache should use for a model whose activations are `act`.
  virtual DType kv_dtype(DType act) const = 0;
};

// Creates the backend named by options.name; throws InputError listing the known names for an
// unknown name, Error for a known backend that cannot run here (cuda without a GPU).
std::shared_ptr<Backend> make_backend(const BackendOptions& options);
std::vector<std::string> backend_names();

// Counting sort of the (token, slot j) pairs of experts [T, k] by expert id:
// offsets [E+1], and for each sorted row its source token and its index t*k+j.
struct ExpertBuckets {
  std::vector<int64_t> offsets;  // [E + 1]
  std::vector<int32_t> token;    // [T * k] source token of each sorted row
  std::vector<int32_t> slot_row; // [T * k] sorted row of pair t*k+j (inverse permutation)
  std::vector<float> weight;     // [T * k] routing weight of each sorted row
};
ExpertBuckets bucket_by_expert(const int32_t* experts, const float* weights, int64_t T, int k,
                               int num_experts);

}  // namespace moe
