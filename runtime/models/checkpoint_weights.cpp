// Loading from a checkpoint directory. Kept in its own translation unit so that code using only
// in-memory weights does not link the safetensors and config.json readers.
#include "runtime/io/model_config.h"
#include "runtime/io/safetensors.h"
#include "runtime/models/model.h"
#include "runtime/models/weights.h"

namespace moe {

CheckpointWeights::CheckpointWeights(const std::filesystem::path& dir)
    : ckpt_(std::make_unique<io::Checkpoint>(io::Checkpoint::open(dir))) {}
CheckpointWeights::~CheckpointWeights() = default;
bool CheckpointWeights::has(const std::string& name) const { return ckpt_->has(name); }
Tensor CheckpointWeights::get_any(const std::string& name) const { return ckpt_->get(name); }
std::string CheckpointWeights::label() const { return ckpt_->dir().string(); }

std::shared_ptr<Model> load_model(const std::filesystem::path& dir,
                                  const ModelLoadOptions& options) {
  const io::ModelConfig config = io::load_model_config(dir);
  CheckpointWeights weights(dir);
  return build_model(config, weights, options);
}

}  // namespace moe
