#include "runtime/backend/backend.h"

#include <fmt/ranges.h>

#include "runtime/backend/cpu/fast.h"
#include "runtime/backend/cpu/reference.h"
#include "runtime/backend/cuda/cuda_backend.h"
#include "runtime/core/error.h"

namespace moe {

std::vector<std::string> backend_names() { return {"cpu", "cpu-ref", "cuda"}; }

std::shared_ptr<Backend> make_backend(const BackendOptions& options) {
  if (options.name == "cpu") return std::make_shared<CpuFastBackend>(options);
  if (options.name == "cpu-ref") return std::make_shared<CpuReferenceBackend>(options);
  if (options.name == "cuda") return make_cuda_backend(options);  // throws where unavailable
  throw input_error("--backend", "expected one of {}, found '{}'",
                    fmt::join(backend_names(), ", "), options.name);
}

ExpertBuckets bucket_by_expert(const int32_t* experts, const float* weights, int64_t T, int k,
                               int num_experts) {
  ExpertBuckets b;
  const int64_t n = T * k;
  b.offsets.assign(size_t(num_experts) + 1, 0);
  for (int64_t i = 0; i < n; ++i) {
    MOE_ASSERT(experts[i] >= 0 && experts[i] < num_experts, "expert id {} out of [0, {})",
               experts[i], num_experts);
    ++b.offsets[size_t(experts[i]) + 1];
  }
  for (int e = 0; e < num_experts; ++e) b.offsets[size_t(e) + 1] += b.offsets[size_t(e)];
  std::vector<int64_t> next(b.offsets.begin(), b.offsets.end() - 1);
  b.token.resize(size_t(n));
  b.slot_row.resize(size_t(n));
  b.weight.resize(size_t(n));
  for (int64_t i = 0; i < n; ++i) {  // stable: rows of one expert stay in token order
    const int64_t r = next[size_t(experts[i])]++;
    b.token[size_t(r)] = int32_t(i / k);
    b.weight[size_t(r)] = weights[i];
    b.slot_row[size_t(i)] = int32_t(r);
  }
  return b;
}

void Backend::moe_experts(const Tensor& x, const Tensor& experts, const Tensor& weights,
                          const ExpertWeights& w, Tensor& out) {
  const int64_t T = x.size(0);
  const int k = int(experts.size(1));
  const Tensor he = to_host(experts), hw = to_host(weights);
  ExpertBuckets b = bucket_by_expert(he.data<int32_t>(), hw.data<float>(), T, k, w.num_experts());
  Tensor rows = alloc(DType::F32, {T * k, x.size(1)});
  gather_rows(x, b.token, rows);
  Tensor y = alloc(DType::F32, {T * k, x.size(1)});
  expert_ffn(rows, b.offsets, b.weight, w, y);
  combine(y, b.slot_row, std::span<const int32_t>(he.data<int32_t>(), size_t(T * k)), k, out);
}

}  // namespace moe
