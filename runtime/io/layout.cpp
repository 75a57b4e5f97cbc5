#include "runtime/io/layout.h"

#include "runtime/io/family_spec.h"

namespace moe::io {

bool is_expert_role(TensorRole r) {
  return r == TensorRole::kExpertWeight || r == TensorRole::kExpertBias ||
         r == TensorRole::kExpertBlocks || r == TensorRole::kExpertScales;
}

std::vector<TensorSpec> checkpoint_layout(const ModelConfig& cfg, DType float_dtype) {
  return family_spec(cfg.family).layout(cfg, float_dtype);
}

uint64_t tensor_params(TensorRole role, const Shape& shape) {
  const uint64_t n = uint64_t(shape_numel(shape));
  if (role == TensorRole::kExpertBlocks) return 2 * n;
  if (role == TensorRole::kExpertScales) return 0;
  return n;
}

ParamCounts count_params(const std::vector<TensorSpec>& tensors) {
  ParamCounts c;
  for (const TensorSpec& t : tensors) {
    const uint64_t n = tensor_params(t.role, t.shape);
    c.total += n;
    if (is_expert_role(t.role)) c.expert += n;
    if (t.role == TensorRole::kEmbedding) c.embedding += n;
  }
  return c;
}

}  // namespace moe::io
