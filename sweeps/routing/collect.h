// Collecting the routing statistics of one (model, corpus, language): texts -> prompts ->
// engine prefill with a RoutingStatsCollector -> results::RoutingStats. Used by
// `moe-sweep routing` and by a sweep's routing phase (which may collect a corpus in sample ranges:
// `first_index` keeps every sequence's consistency pairs tied to its corpus index, so ranges
// combine to exactly the statistics of one run).
// Thread-safety: drives one engine from the calling thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "results/routing_stats.h"
#include "runtime/engine/engine.h"
#include "runtime/routing/statistics.h"
#include "sweeps/routing/prompt.h"

namespace moe::corpus {

struct CollectOptions {
  routing::CollectorOptions collector;  // importance, pairs, seed, raw logits
  bool content_only = false;            // count the content span only (else all prompt tokens)
  int64_t first_index = 0;              // corpus index of texts[0]
};

// Row i of the result is texts[i]. The engine must hold the model whose statistics are wanted.
results::RoutingStats collect_statistics(Engine& engine, const PromptBuilder& prompts,
                                         std::span<const std::string> texts,
                                         const CollectOptions& options,
                                         const ProgressFn& progress = {});

}  // namespace moe::corpus
