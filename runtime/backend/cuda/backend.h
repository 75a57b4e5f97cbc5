// CudaBackend ("cuda"): the Backend interface on one NVIDIA GPU, written for correctness first.
//
// Weights are copied to the device once (prepare_weight: f32 and bf16 as stored, f16 as f32,
// MXFP4 blocks and scales as bytes). Activations are f32 device tensors. Linear layers and expert
// GEMMs go through cuBLAS with f32 accumulation: bf16 weights multiply the activations rounded to
// bf16 (as the fast CPU backend does), f32 weights are plain f32 products (no TF32). Experts run
// as batched GEMMs, one cublasGemmBatchedEx per distinct row count (plan_expert_groups); MXFP4
// experts are decoded to f32 one expert at a time before their GEMM. Every other op is a kernel
// that follows the reference backend's formula (kernels.h), including the bf16 emulation
// rounding points when BackendOptions::bf16_rounding is set. The KV cache of a bf16 model is
// bf16, otherwise f32.
// Ops are queued on the backend's stream; host spans an op receives are copied to the device
// before it returns; to_host() synchronises.
// Internal to runtime/backend/cuda (includes CUDA headers); CPU code uses cuda_backend.h.
// Ownership: device tensors share the backend's DeviceContext, so they may outlive the backend.
// Thread-safety: see Backend.
#pragma once

#include <memory>
#include <vector>

#include "runtime/backend/backend.h"
#include "runtime/backend/cuda/device.h"
#include "runtime/backend/expert_groups.h"

namespace moe::cuda {

class CudaBackend final : public Backend {
 public:
  CudaBackend(BackendOptions options, int device);

  std::string name() const override { return "cuda"; }
  Device device() const override { return Device::CUDA; }
  const BackendOptions& options() const override { return options_; }
  DeviceContext& context() { return *ctx_; }

  Tensor alloc(DType t, Shape shape) override;
  Tensor alloc_reserved(DType t, Shape shape) override;
  Tensor prepare_weight(const Tensor& w, WeightUse use) override;
  Tensor to_host(const Tensor& t) override;
  Tensor from_host(const Tensor& t) override;

  void embedding(const Tensor& table, std::span<const int32_t> ids, Tensor& out) override;
  void norm(const Tensor& x, const Tensor& w, const Tensor* b, const NormSpec& spec,
            Tensor& out) override;
  void linear(const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y) override;
  void add(const Tensor& x, Tensor& inout) override;
  void clamp(Tensor& x, float limit) override;
  void rope(Tensor& x, std::span<const int32_t> pos, const RopeTable& table) override;
  void kv_store(const Tensor& k, const Tensor& v, std::span<const AttentionSeq> seqs,
                KvLayer& kv) override;
  void attention(const Tensor& q, const KvLayer& kv, std::span<const AttentionSeq> seqs,
                 const AttentionArgs& args, Tensor& out) override;
  void glu(const Tensor& gate, const Tensor& up, const GluSpec& spec, Tensor& out) override;
  void route(const Tensor& logits, const routing::RoutingSpec& spec, Tensor& experts,
             Tensor& weights) override;
  void expert_ffn(const Tensor& x_rows, std::span<const int64_t> offsets,
                  std::span<const float> row_weight, const ExpertWeights& w,
                  Tensor& y_rows) override;
  void combine(const Tensor& y_rows, std::span<const int32_t> slot,
               std::span<const int32_t> experts, int k, Tensor& out) override;
  void gather_rows(const Tensor& x, std::span<const int32_t> rows, Tensor& out) override;
  DType kv_dtype(DType act) const override { return act == DType::BF16 ? DType::BF16 : DType::F32; }

 private:
  // A GEMM's activation operand for weights of `weight_dtype`: x itself (F32) or its bf16
  // copy (BF16).  x: [M, K] f32
  Tensor gemm_input(const Tensor& x, DType weight_dtype);
  // y [M, N] = xin [M, K] . W^T with W stored [N, K] (w_in_out false) or [K, N] (true); f32 out.
  void gemm(const Tensor& xin, const Tensor& w, bool w_in_out, float* y, int64_t M, int64_t N);
  // For every expert e of every group: rows [row0, row0 + m) of y [N, out] = the same rows of
  // x . W_e^T, W_e = mats[e] as `format` stores it (MXFP4 with scales[e]).
  void expert_gemm(const Tensor& x, const std::vector<Tensor>& mats,
                   const std::vector<Tensor>* scales, ExpertWeights::Format format,
                   const std::vector<ExpertGroup>& groups, int64_t out, Tensor& y);

  BackendOptions options_;
  bool round_ = false;
  std::shared_ptr<DeviceContext> ctx_;
};

}  // namespace moe::cuda
