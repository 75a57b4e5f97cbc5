#include "runtime/models/weights.h"

#include "runtime/core/error.h"

namespace moe {

Tensor WeightSource::get(const std::string& name, const Shape& shape) const {
  Tensor t = get_any(name);
  const DType d = t.dtype();
  if (d != DType::F32 && d != DType::BF16 && d != DType::F16)
    throw input_error(label() + ": tensor '" + name + "'", "expected dtype F32, BF16 or F16, found {}",
                      dtype_name(d));
  if (t.shape() != shape)
    throw input_error(label() + ": tensor '" + name + "'", "expected shape {}, found {}",
                      shape_str(shape), shape_str(t.shape()));
  return t;
}

Tensor WeightSource::get_optional(const std::string& name, const Shape& shape) const {
  return has(name) ? get(name, shape) : Tensor();
}

Tensor MapWeights::get_any(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw input_error(label(), "expected tensor '{}', found none", name);
  return it->second;
}

}  // namespace moe
