// Routing statistics as unit results: how a stats unit (one sample range of one (model, corpus,
// language)) stores results::RoutingStats, and how the ranges of a corpus combine back into one
// RoutingStats (per-sequence arrays stacked in range order, pooled counts summed, descriptions
// checked equal), which the merge writes with write_routing_stats (results/SCHEMA.md, "Routing
// statistics"). Sample ranges of one corpus combine to exactly the statistics of one run
// (sweeps/routing/collect.h ties each sequence's consistency pairs to its corpus index).
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "results/routing_stats.h"
#include "results/unit_result.h"

namespace moe::results {

UnitResult routing_stats_to_unit(const RoutingStats& s);
// `what` names the statistics in errors (a unit file missing an array is an InputError).
RoutingStats routing_stats_from_unit(const UnitResult& r, const std::string& what);

}  // namespace moe::results
