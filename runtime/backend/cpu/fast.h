// CpuFastBackend ("cpu"): the fast CPU path, at the CPU level chosen at start
// (runtime/core/cpu_isa.h; its kernels: kernels.h). bf16 weights are used in place (zero-copy
// views of the checkpoint), except at the avx2 and avx512 levels, whose kernels read a product's
// weights in panels (kernels.h) that prepare_weight makes once: a private copy of every bf16
// matrix but the embedding table (the same bytes; the same sums, without transposing rows on
// every pass), the mapped rows then left to the page cache. Sums are f32: products of few rows
// (decode) through the level's streaming kernel; products of many rows through oneDNN's bf16
// matmul (AMX / AVX-512 BF16 brgemm) at the avx512_bf16 and amx levels, and through the level's own
// blocked kernel (bf16 widened to f32 in cache-sized panels, FMA) at avx2 and avx512, where
// oneDNN 2.6 has no fast bf16 matmul. Activations stay f32 (GEMM inputs are rounded to bf16, as a
// bf16 checkpoint's are in the reference); multi-threaded with OpenMP. The KV cache of a bf16 model
// is bf16 in a blocked layout (kernels.h) read by the level's attention kernels: a prefill
// sequence's queries 16 rows at a time on the AMX tile units at the amx level, otherwise 4 rows
// at a time on the vector units.
// MoE: tokens bucketed by expert (counting sort), one GEMM per expert over its contiguous rows
// (oneDNN takes the row count at run time, so one primitive serves every expert's count).
// MXFP4 experts (gpt_oss) stay the checkpoint's MXFP4 views. An expert with few rows (decode)
// goes through a kernel that decodes the weights in registers and multiplies them with the f32
// activations as they are (bound by decoding, so rounding the inputs would gain nothing); an f32
// model's experts always do. With more rows, a bf16 model's expert matrix is decoded to a bf16
// scratch buffer (one matrix at a time, 33 MB at gpt-oss-20b's size) for the bf16 GEMM, inputs
// rounded to bf16 as for bf16 weights (ExpertWeights::activation says which model is which).
// Biases, the gate/up split and the clamped SwiGLU are applied in f32 between the products.
// At the generic level (no kernels of its own: a CPU without AVX2, another architecture, or
// MOE_CPU_ISA=generic), and for ops without a fast kernel here (f32 KV caches, float gpt_oss
// experts, ...), the reference code and oneDNN run. Per-op agreement with the reference is
// tested in tests/unit/backend at every level.
// Thread-safety: see Backend; the scratch buffers make one instance single-threaded.
#pragma once

#include <memory>
#include <vector>

#include "runtime/backend/cpu/kernels.h"
#include "runtime/backend/cpu/reference.h"

namespace moe {

class CpuFastBackend : public CpuReferenceBackend {
 public:
  explicit CpuFastBackend(BackendOptions options);
  ~CpuFastBackend() override;

  std::string name() const override { return "cpu"; }
  // F16 weights become f32 copies; weights not aligned for their element type are copied; a
  // bf16 matrix of a product gets its panels where the level's kernels read them.
  Tensor prepare_weight(const Tensor& w, WeightUse use) override;

  void norm(const Tensor& x, const Tensor& w, const Tensor* b, const NormSpec& spec,
            Tensor& out) override;
  void linear(const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y) override;
  void add(const Tensor& x, Tensor& inout) override;
  void rope(Tensor& x, std::span<const int32_t> pos, const RopeTable& table) override;
  void kv_store(const Tensor& k, const Tensor& v, std::span<const AttentionSeq> seqs,
                KvLayer& kv) override;
  void attention(const Tensor& q, const KvLayer& kv, std::span<const AttentionSeq> seqs,
                 const AttentionArgs& args, Tensor& out) override;
  void glu(const Tensor& gate, const Tensor& up, const GluSpec& spec, Tensor& out) override;
  void moe_experts(const Tensor& x, const Tensor& experts, const Tensor& weights,
                   const ExpertWeights& w, Tensor& out) override;
  void expert_ffn(const Tensor& x_rows, std::span<const int64_t> offsets,
                  std::span<const float> row_weight, const ExpertWeights& w,
                  Tensor& y_rows) override;
  DType kv_dtype(DType act) const override;

  // A bf16 [N, K] weight as the kernels read it: its rows, and the panels (kernels.h) that
  // prepare_weight attaches where the level's kernels have them (else null).
  struct Bf16Weight {
    const uint16_t* rows = nullptr;
    const uint16_t* panels = nullptr;
  };
  static Bf16Weight bf16_weight(const Tensor& w);

  // y[M, N] (row stride ldy) = x[M, K] . w[N, K]^T for bf16 x and w: the product every bf16
  // linear goes through.
  void matmul_bf16(const uint16_t* x, int64_t M, int64_t K, Bf16Weight w, int64_t N, float* y,
                   int64_t ldy);

 private:
  struct Scratch;
  // matmul_bf16 through the streaming kernel up to small_m rows, oneDNN above (expert products
  // pass expert_small_m_).
  void matmul_bf16_upto(const uint16_t* x, int64_t M, int64_t K, Bf16Weight w, int64_t N, float* y,
                        int64_t ldy, int64_t small_m);
  // The streaming kernel on rows [n0, n1) of w (its panels where it has them).
  void gemm_small(const uint16_t* x, int64_t M, int64_t K, Bf16Weight w, int64_t n0, int64_t n1,
                  float* y, int64_t ldy) const;
  // Grouped expert FFN over bf16 rows (sorted by expert: expert e's are rows [offsets[e],
  // offsets[e+1]) of rows and of y_rows).  rows: [offsets.back(), H]; y_rows: [.., H]
  void experts_bf16(const uint16_t* rows, std::span<const int64_t> offsets,
                    std::span<const float> row_weight, const ExpertWeights& w, float* y_rows);
  // experts_bf16 when every active expert has at most expert_small_m_ rows (decode), where
  // streaming the weights is the cost: the whole layer in one OpenMP region. Each thread takes
  // the same share of intermediate indices of every active expert's gate and up products (so
  // its SwiGLU needs no other thread's sums), then, after one barrier, its share of every down
  // product's outputs, scaled there. Each output sums as the per-expert products do (bitwise
  // equal).
  //   active: the experts with rows, in order
  void experts_bf16_few_rows(const uint16_t* rows, std::span<const int64_t> offsets,
                             std::span<const float> row_weight, const ExpertWeights& w,
                             std::span<const int> active, float* y_rows);
  bool fast_experts(const ExpertWeights& w) const;
  // Grouped expert FFN of MXFP4 experts over f32 rows (sorted by expert).
  void experts_mxfp4(const Tensor& x_rows, std::span<const int64_t> offsets,
                     std::span<const float> row_weight, const ExpertWeights& w, Tensor& y_rows);
  // y[M, N] = x[M, K] . W[N, K]^T, W MXFP4: blocks [N, K/32, 16] U8, scales [N, K/32] U8;
  // x f32, rounded to bf16 first when bf16_inputs.  x: [M, K]; y: [M, N]
  void matmul_mxfp4(const float* x, int64_t M, int64_t K, const Tensor& blocks,
                    const Tensor& scales, bool bf16_inputs, float* y);
  bool mxfp4_experts(const ExpertWeights& w) const;
  // The kernels of the CPU level in use (cpu::kernels(); null at the generic level, where the
  // reference code and oneDNN do the work).
  const cpu::Kernels* k_ = nullptr;
  int64_t expert_small_m_ = 16;  // an expert product of at most this many rows: streaming kernel
  std::unique_ptr<Scratch> s_;
};

}  // namespace moe
