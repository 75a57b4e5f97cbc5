#include "runtime/io/layout.h"

#include <fmt/format.h>

#include <map>

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

std::vector<TensorSpec> classify_tensors(const ModelConfig& cfg,
                                         const std::vector<CheckpointTensor>& tensors,
                                         std::vector<std::string>* problems) {
  std::map<std::string, const TensorSpec*> expected;
  const std::vector<TensorSpec> layout = checkpoint_layout(cfg);
  for (const TensorSpec& t : layout) expected.emplace(t.name, &t);
  std::vector<TensorSpec> out;
  for (const CheckpointTensor& t : tensors) {
    auto it = expected.find(t.name);
    TensorRole role = t.name.find(".experts.") != std::string::npos ? TensorRole::kExpertWeight
                                                                    : TensorRole::kLinear;
    if (it == expected.end()) {
      if (problems) problems->push_back("unexpected tensor '" + t.name + "'");
    } else {
      const TensorSpec& e = *it->second;
      role = e.role;
      if (problems && e.shape != t.shape) {
        problems->push_back(fmt::format("tensor '{}': expected shape {}, found {}", t.name,
                                        shape_str(e.shape), shape_str(t.shape)));
      }
      const bool mx = e.role == TensorRole::kExpertBlocks || e.role == TensorRole::kExpertScales;
      if (problems && mx && t.dtype != DType::U8) {
        problems->push_back(
            fmt::format("tensor '{}': expected U8 (MXFP4), found {}", t.name, dtype_name(t.dtype)));
      }
      expected.erase(it);
    }
    out.push_back(TensorSpec{t.name, t.dtype, t.shape, role});
  }
  if (problems) {
    for (const TensorSpec& t : layout)
      if (expected.count(t.name)) problems->push_back("missing tensor '" + t.name + "'");
  }
  return out;
}

}  // namespace moe::io
