// Loading from a checkpoint directory. Kept in its own translation unit so that code using only
// in-memory weights does not link the safetensors and config.json readers.
#include <spdlog/spdlog.h>

#include <chrono>

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
  const auto start = std::chrono::steady_clock::now();
  const io::ModelConfig config = io::load_model_config(dir);
  CheckpointWeights weights(dir);
  std::shared_ptr<Model> model = build_model(config, weights, options);
  spdlog::info("loaded {} ({}) on backend {} in {:.1f} s", dir.string(), config.architecture,
               model->backend().name(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return model;
}

}  // namespace moe
