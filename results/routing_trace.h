// RoutingTrace: per prompt and MoE layer, the router logits, selected experts and weights, plus
// the final logits and an optional greedy continuation. The in-memory form of the "Routing trace"
// HDF5 layout (results/SCHEMA.md), written by `moe-sweep trace` and read by the golden tests
// (the golden fixtures' expected.h5 files use the same layout).
// Thread-safety: plain values; the file functions use HDF5 (one thread per process).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace moe::results {

struct LayerTrace {
  int layer = 0;                          // decoder layer index (MoE layers only)
  std::vector<float> router_logits;       // [T, E] raw logits the router hook saw
  std::vector<int32_t> selected_experts;  // [T, k] in the family's top-k order
  std::vector<float> routing_weights;     // [T, k]
};

struct PromptTrace {
  std::vector<int32_t> input_ids;      // [T]
  std::vector<LayerTrace> layers;      // MoE layers in order
  std::vector<float> logits;           // [T, V] final logits of every prompt token
  int64_t vocab = 0;                   // V
  std::vector<int32_t> greedy_tokens;  // [G] (G = 0: not requested)
};

struct RoutingTrace {
  std::string family;  // "qwen3_moe", ...
  std::string source;  // what computed it ("moe-sweep <version> backend=cpu", "transformers ...")
  int num_layers = 0;  // decoder layers
  int num_experts = 0;
  int top_k = 0;
  std::vector<PromptTrace> prompts;
};

// Writes `path` atomically (a temporary file renamed into place once complete).
void write_routing_trace(const std::filesystem::path& path, const RoutingTrace& trace);
// Reads a file in the layout; extra attributes and datasets are ignored. Throws InputError
// naming the file and object when something the layout requires is missing or mis-shaped.
RoutingTrace read_routing_trace(const std::filesystem::path& path);

}  // namespace moe::results
