// WeightSource: where a model's tensors come from, by their Hugging Face names.
//
// CheckpointWeights reads a checkpoint directory through io::Checkpoint (zero-copy views of the
// mmapped safetensors; the views keep the mappings alive). MapWeights holds tensors built in
// memory (tests, tools). get() checks shape and float dtype and throws InputError naming the
// tensor, the source, what was expected and what was found.
// Thread-safety: const methods are safe to call concurrently.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "runtime/core/tensor.h"

namespace moe {

namespace io {
class Checkpoint;
}

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  virtual bool has(const std::string& name) const = 0;
  // The tensor as stored (any dtype). Throws InputError if absent.
  virtual Tensor get_any(const std::string& name) const = 0;
  virtual std::string label() const = 0;  // "<dir>" or "in-memory weights"

  // A float tensor (F32, BF16 or F16) of exactly `shape`; InputError otherwise.
  Tensor get(const std::string& name, const Shape& shape) const;
  // As get(), or an undefined Tensor when the name is absent.
  Tensor get_optional(const std::string& name, const Shape& shape) const;
};

class CheckpointWeights : public WeightSource {
 public:
  explicit CheckpointWeights(const std::filesystem::path& dir);
  ~CheckpointWeights() override;
  bool has(const std::string& name) const override;
  Tensor get_any(const std::string& name) const override;
  std::string label() const override;

 private:
  std::unique_ptr<io::Checkpoint> ckpt_;
};

class MapWeights : public WeightSource {
 public:
  void put(const std::string& name, Tensor t) { tensors_[name] = std::move(t); }
  bool has(const std::string& name) const override { return tensors_.count(name) > 0; }
  Tensor get_any(const std::string& name) const override;
  std::string label() const override { return "in-memory weights"; }
  const std::map<std::string, Tensor>& tensors() const { return tensors_; }

 private:
  std::map<std::string, Tensor> tensors_;
};

}  // namespace moe
