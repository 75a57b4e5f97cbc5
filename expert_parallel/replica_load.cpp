// Replica::load_model, in its own translation unit so that code using only in-memory models
// (build_model) does not link the checkpoint and config.json readers.
#include "expert_parallel/replica.h"
#include "runtime/io/model_config.h"

namespace moe::ep {

std::shared_ptr<Model> Replica::load_model(const std::filesystem::path& dir,
                                           ModelLoadOptions options) {
  if (size() == 1) return moe::load_model(dir, options);
  const ExpertPlacement placement = placement_for(io::load_model_config(dir));
  options.hold_expert = placement.hold_fn(rank());
  return attach(moe::load_model(dir, options), placement);
}

}  // namespace moe::ep
