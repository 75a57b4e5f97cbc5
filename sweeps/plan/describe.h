// Human-readable plan summaries: what `moe-sweep plan` prints (points, phases, units, estimated
// tokens). The text is deterministic (the data-driven config tests compare it verbatim).
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "sweeps/plan/plan.h"

namespace moe::sweeps {

struct DescribeOptions {
  bool units = false;  // list every unit with its group and dependencies
};

std::string describe_plan(const SweepConfig& c, const Plan& plan, const DescribeOptions& o = {});

// One-line labels used by the plan, status and logs.
std::string point_label(const SweepConfig& c, const Plan& plan, const Point& p);
// "8-35" or "-": inclusive, 1-indexed where the config says layer_indexing: one_based.
std::string layers_label(const LayerRange& r, bool one_based);

}  // namespace moe::sweeps
