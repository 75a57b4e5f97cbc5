// The product UnitRunner: loads the model once per replica and runs the three phases
// (routing statistics, expert identification, evaluation) with the runtime's engine.
#include "sweeps/exec/unit_runner.h"

#include "runtime/core/error.h"

namespace moe::sweeps {

std::unique_ptr<UnitRunner> make_model_runner(const RunnerContext& ctx) {
  throw Error(
      "this build has no model runner yet: the engine, router hooks and tasks it drives are "
      "not part of this build");
}

}  // namespace moe::sweeps
