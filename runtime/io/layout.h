// Checkpoint layout: the tensors (names, dtypes, shapes) a published Hugging Face checkpoint of a
// family holds for a given ModelConfig (runtime/models/README.md sections 1-4). make-model writes
// exactly these; inspect checks a checkpoint against them and counts parameters with them.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/core/tensor.h"
#include "runtime/io/model_config.h"

namespace moe::io {

// What a tensor is, for initialisation (make-model) and parameter counts (inspect).
enum class TensorRole {
  kEmbedding,     // model.embed_tokens.weight
  kLmHead,        // lm_head.weight
  kNormWeight,    // RMSNorm / LayerNorm weights, q_norm / k_norm
  kBias,          // attention and LayerNorm biases, lm_head.bias
  kLinear,        // attention and dense-MLP projections
  kSinks,         // gpt_oss self_attn.sinks
  kRouter,        // router weight
  kRouterBias,    // gpt_oss router bias
  kExpertWeight,  // per-expert dense weights (qwen3, olmoe, phimoe)
  kExpertBias,    // gpt_oss expert biases
  kExpertBlocks,  // gpt_oss MXFP4 blocks (U8, two FP4 values per byte)
  kExpertScales,  // gpt_oss MXFP4 scales (U8, E8M0)
};
bool is_expert_role(TensorRole r);

struct TensorSpec {
  std::string name;
  DType dtype = DType::BF16;
  Shape shape;
  TensorRole role = TensorRole::kLinear;
};

// The published layout for `cfg`; floating-point tensors in `float_dtype` (the published
// checkpoints use BF16), MXFP4 blocks and scales always U8. Order: embeddings, layers in order,
// final norm, lm_head.
std::vector<TensorSpec> checkpoint_layout(const ModelConfig& cfg, DType float_dtype = DType::BF16);

// Parameters a tensor holds: elements, except MXFP4 blocks (two parameters per byte) and MXFP4
// scales (quantisation metadata, not parameters: 0).
uint64_t tensor_params(TensorRole role, const Shape& shape);

// Parameter counts of a layout (or of a checkpoint's tensors classified by it).
struct ParamCounts {
  uint64_t total = 0;
  uint64_t expert = 0;     // every expert's weights and biases
  uint64_t embedding = 0;  // model.embed_tokens.weight
  // Parameters one token uses: everything outside the experts plus top_k/num_experts of them.
  double active(int top_k, int num_experts) const {
    return double(total - expert) + double(expert) * top_k / num_experts;
  }
};
ParamCounts count_params(const std::vector<TensorSpec>& tensors);

// A checkpoint's tensors (name, dtype, shape), classified by the layout of `cfg`: a name the
// layout has takes its role; any other name is an expert weight if it contains ".experts." and
// a plain linear weight otherwise. `problems` (if given) receives one line per difference from
// the layout: a missing or unexpected tensor, a shape that differs, MXFP4 bytes that are not U8
// (floating-point dtypes may differ from the published ones).
struct CheckpointTensor {
  std::string name;
  DType dtype;
  Shape shape;
};
std::vector<TensorSpec> classify_tensors(const ModelConfig& cfg,
                                         const std::vector<CheckpointTensor>& tensors,
                                         std::vector<std::string>* problems);

}  // namespace moe::io
