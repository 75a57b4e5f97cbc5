// Routing traces: run prompts through a model and record, per prompt and MoE layer, the router
// logits the hooks see, the selected experts and weights, the final logits of every prompt token
// and optionally a greedy continuation (what `moe-sweep trace` writes, results/routing_trace.h).
//
// TraceRecorder is the RouterHook that does the recording; it is usable on its own (e.g. to trace
// generation). It keeps one record per request tag, tokens appended in the order the model sees
// them (a sequence's tokens arrive in position order). On a device backend it is given the
// backend (`device_backend`) and copies each MoE layer's logits, experts and weights to the host
// once per forward step: a trace records every one of them, so that copy is the point.
// Thread-safety: one model forward at a time (as every hook).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "results/routing_trace.h"
#include "runtime/routing/router_hook.h"

namespace moe {

class Backend;
class Model;

class TraceRecorder : public RouterHook {
 public:
  explicit TraceRecorder(bool prompt_tokens_only = true, Backend* device_backend = nullptr)
      : prompt_only_(prompt_tokens_only), backend_(device_backend) {}
  bool supports(Device d) const override { return d == Device::CPU || backend_ != nullptr; }
  void on_routed(const RouterContext& ctx, const Tensor& logits, const Tensor& experts,
                 const Tensor& weights) override;
  // The recorded layers of `tag` (MoE layers in order), moved out of the recorder.
  std::vector<results::LayerTrace> take(uint64_t tag);

 private:
  bool prompt_only_;
  Backend* backend_ = nullptr;  // not owned; set for device tensors
  std::map<uint64_t, std::vector<results::LayerTrace>> by_tag_;
};

struct TraceOptions {
  int greedy_tokens = 0;         // greedy continuation length per prompt (0 = none)
  int64_t max_batch_tokens = 4096;  // prompts are packed into forward steps up to this many tokens
};

// Traces every prompt (token ids). The result's attributes come from the model's config;
// `source` is recorded as given.
results::RoutingTrace trace_prompts(Model& model, std::span<const std::vector<int32_t>> prompts,
                                    const TraceOptions& options, const std::string& source);

}  // namespace moe
