#include "sweeps/routing/collect.h"

#include <vector>

#include "runtime/models/model.h"

namespace moe::corpus {

results::RoutingStats collect_statistics(Engine& engine, const PromptBuilder& prompts,
                                         std::span<const std::string> texts,
                                         const CollectOptions& options,
                                         const ProgressFn& progress) {
  const io::ModelConfig& cfg = engine.model().config();
  routing::CollectorOptions co = options.collector;
  co.content_only = options.content_only;
  routing::RoutingStatsCollector collector(engine.model().num_moe_layers(), cfg.num_experts,
                                           cfg.top_k, co);
  std::vector<PrefillRequest> requests;
  std::vector<routing::CollectedSequence> seqs;
  requests.reserve(texts.size());
  seqs.reserve(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    Prompt p = prompts.build(texts[i]);
    routing::CollectedSequence s;
    s.tag = i;
    s.num_tokens = int64_t(p.tokens.size());
    if (options.content_only) {
      s.count_begin = p.content_begin;
      s.count_end = p.content_end;
    }
    s.pair_stream = uint64_t(options.first_index) + i;
    seqs.push_back(s);
    requests.push_back(PrefillRequest{std::move(p.tokens), i});
  }
  collector.add(seqs);
  RouterHook* hooks[] = {&collector};
  engine.prefill(requests, hooks, progress);
  return collector.finish();
}

}  // namespace moe::corpus
