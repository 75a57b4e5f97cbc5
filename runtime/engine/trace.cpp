#include "runtime/engine/trace.h"

#include <algorithm>

#include "runtime/backend/backend.h"
#include "runtime/core/error.h"
#include "runtime/engine/sampling.h"
#include "runtime/models/model.h"

namespace moe {

void TraceRecorder::on_routed(const RouterContext& ctx, const Tensor& device_logits,
                              const Tensor& device_experts, const Tensor& device_weights) {
  MOE_ASSERT(ctx.device == Device::CPU || backend_, "TraceRecorder without a backend reads host arrays");
  const auto host = [&](const Tensor& t) { return backend_ ? backend_->to_host(t) : t; };
  const Tensor logits = host(device_logits), experts = host(device_experts),
               weights = host(device_weights);
  const int E = ctx.num_experts, k = ctx.top_k;
  for (int t = 0; t < ctx.num_tokens; ++t) {
    const int s = ctx.token_seq[t];
    if (prompt_only_ && !ctx.seq_prefill[s]) continue;
    std::vector<results::LayerTrace>& layers = by_tag_[ctx.seq_tag[s]];
    if (int(layers.size()) <= ctx.moe_layer) layers.resize(size_t(ctx.moe_layer) + 1);
    results::LayerTrace& l = layers[size_t(ctx.moe_layer)];
    l.layer = ctx.layer;
    const float* lg = logits.data<float>() + int64_t(t) * E;
    l.router_logits.insert(l.router_logits.end(), lg, lg + E);
    const int32_t* ex = experts.data<int32_t>() + int64_t(t) * k;
    l.selected_experts.insert(l.selected_experts.end(), ex, ex + k);
    const float* w = weights.data<float>() + int64_t(t) * k;
    l.routing_weights.insert(l.routing_weights.end(), w, w + k);
  }
}

std::vector<results::LayerTrace> TraceRecorder::take(uint64_t tag) {
  auto it = by_tag_.find(tag);
  if (it == by_tag_.end()) return {};
  std::vector<results::LayerTrace> out = std::move(it->second);
  by_tag_.erase(it);
  return out;
}

results::RoutingTrace trace_prompts(Model& model, std::span<const std::vector<int32_t>> prompts,
                                    const TraceOptions& options, const std::string& source) {
  const io::ModelConfig& c = model.config();
  results::RoutingTrace trace;
  trace.family = std::string(io::family_name(c.family));
  trace.source = source;
  trace.num_layers = c.num_layers;
  trace.num_experts = c.num_experts;
  trace.top_k = c.top_k;
  trace.prompts.resize(prompts.size());
  const int64_t V = c.vocab_size;
  size_t next = 0;
  while (next < prompts.size()) {
    // Pack prompts into one step (at least one).
    size_t end = next;
    int64_t tokens = 0;
    while (end < prompts.size() &&
           (end == next || tokens + int64_t(prompts[end].size()) <= options.max_batch_tokens))
      tokens += int64_t(prompts[end++].size());
    const int n = int(end - next);
    auto cache = model.make_cache(n, tokens + int64_t(n) * (options.greedy_tokens + 1));
    TraceRecorder rec(true, &model.backend());
    RouterHook* hooks[] = {&rec};
    ForwardBatch batch;
    for (int i = 0; i < n; ++i) {
      const std::vector<int32_t>& ids = prompts[next + size_t(i)];
      if (ids.empty()) throw input_error(fmt::format("prompt {}", next + size_t(i)), "expected tokens, found none");
      for (int32_t id : ids)
        if (id < 0 || id >= V)
          throw input_error(fmt::format("prompt {}", next + size_t(i)),
                            "expected token ids in [0, {}), found {}", V, id);
      batch.add(i, ids, uint64_t(i), true, ForwardBatch::Logits::kAll);
    }
    Tensor logits;
    model.forward(batch, *cache, hooks, &logits);
    std::vector<int32_t> last(static_cast<size_t>(n));
    int64_t row = 0;
    for (int i = 0; i < n; ++i) {
      results::PromptTrace& p = trace.prompts[next + size_t(i)];
      p.input_ids = prompts[next + size_t(i)];
      const int64_t T = int64_t(p.input_ids.size());
      p.vocab = V;
      p.logits.assign(logits.data<float>() + row * V, logits.data<float>() + (row + T) * V);
      p.layers = rec.take(uint64_t(i));
      row += T;
      last[size_t(i)] = argmax(std::span<const float>(logits.data<float>() + (row - 1) * V, size_t(V)));
    }
    for (int g = 0; g < options.greedy_tokens; ++g) {
      ForwardBatch step;
      for (int i = 0; i < n; ++i) {
        trace.prompts[next + size_t(i)].greedy_tokens.push_back(last[size_t(i)]);
        if (g + 1 < options.greedy_tokens)
          step.add(i, std::span<const int32_t>(&last[size_t(i)], 1), uint64_t(i), false,
                   ForwardBatch::Logits::kLast);
      }
      if (g + 1 == options.greedy_tokens) break;
      Tensor l;
      model.forward(step, *cache, {}, &l);
      for (int i = 0; i < n; ++i)
        last[size_t(i)] = argmax(std::span<const float>(l.data<float>() + int64_t(i) * V, size_t(V)));
    }
    next = end;
  }
  return trace;
}

}  // namespace moe
