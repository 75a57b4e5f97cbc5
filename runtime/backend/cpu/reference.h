// CpuReferenceBackend ("cpu-ref"): the oracle. Every op is a plain loop over rows (OpenMP over
// independent rows only, so results do not depend on the thread count), accumulating dot
// products in double. Weights may be f32, bf16 or f16 (read element by element).
//
// bf16 emulation (BackendOptions::bf16_rounding): transformers runs a bf16 checkpoint with bf16
// activations, rounding after every op, with softmax/norm statistics in fp32. With the option
// set, each op rounds at the same points (documented per op in reference.cpp), so a bf16
// checkpoint reproduces transformers' routing and logits within a few bf16 ulps. Without it the
// activations stay f32 (the f32-checkpoint semantics).
// The KV cache of this backend is f32 (kv_dtype); attention also reads bf16 pools so that a
// faster backend's cache can be checked against this one.
// Thread-safety: see Backend.
#pragma once

#include "runtime/backend/backend.h"

namespace moe {

class CpuReferenceBackend : public Backend {
 public:
  explicit CpuReferenceBackend(BackendOptions options);

  std::string name() const override { return "cpu-ref"; }
  Device device() const override { return Device::CPU; }
  const BackendOptions& options() const override { return options_; }

  Tensor alloc(DType t, Shape shape) override;
  Tensor alloc_reserved(DType t, Shape shape) override;
  Tensor prepare_weight(const Tensor& w, WeightUse) override { return w; }
  Tensor to_host(const Tensor& t) override { return t; }
  Tensor from_host(const Tensor& t) override { return t; }

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
  DType kv_dtype(DType act) const override { return DType::F32; }

 protected:
  // Rounds to the activation dtype (identity unless bf16 emulation is on).
  float act(float v) const { return round_ ? round_bf16(v) : v; }
  // One expert matrix: y = act(act(x w^T) + bias) (bias optional), w stored as `format` says:
  // a float [out, in] tensor, a float [in, out] tensor (kFloatTransposed), or MXFP4 blocks
  // [out, in/32, 16] U8 with `scales` [out, in/32] U8 decoded one row at a time.
  // x: [T, in]; y: [T, out]
  void expert_linear(const Tensor& x, const Tensor& w, const Tensor* scales,
                     ExpertWeights::Format format, const Tensor* bias, Tensor& y);
  BackendOptions options_;
  bool round_ = false;
};

// Element i of a float tensor of any supported dtype (F32, BF16, F16), as f32.
float cpu_load(const Tensor& t, int64_t i);
// Converts n elements starting at element `offset` of t into out (f32).
void cpu_load_row(const Tensor& t, int64_t offset, int64_t n, float* out);
// Stores v into element i of an F32 or BF16 tensor (rounding to nearest even for BF16).
void cpu_store(Tensor& t, int64_t i, float v);
// The y rows of token t's k pairs (slot[t*k + j]) in ascending order of their experts.
void cpu_expert_order(std::span<const int32_t> slot, std::span<const int32_t> experts, int64_t t,
                      int k, int32_t* rows);
// Splits gate_up products [T, 2I] into gate [T, I] and up [T, I]: interleaved (gate unit i in
// column 2i, up in 2i + 1; gpt_oss) or fused (gate columns [0, I), up [I, 2I)).
void cpu_split_gate_up(const float* gate_up, int64_t T, int64_t I, bool interleaved, float* gate,
                       float* up);
// Number of OpenMP threads the backend was configured with (applies options.threads).
void cpu_set_threads(int threads);

}  // namespace moe
