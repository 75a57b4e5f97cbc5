// merge_spec: describes a plan for results::merge (which knows nothing of configs and plans):
// the points, expert sets, statistics, tasks and units the merged file must hold.
// Thread-safety: pure function.
#pragma once

#include "results/merge.h"
#include "sweeps/plan/plan.h"

namespace moe::sweeps {

results::MergeSpec merge_spec(const SweepConfig& c, const Plan& plan);

}  // namespace moe::sweeps
