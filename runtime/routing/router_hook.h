// RouterHook: the one place where moe-sweep observes and changes MoE routing.
//
// For every MoE layer of every forward step, the model calls each attached hook twice:
//   1. on_logits(ctx, logits): the raw router logits [T, E] (f32, mutable) of the step's T tokens,
//      before any softmax/top-k (GPT-OSS: after the router bias). Interventions edit them here.
//   2. on_routed(ctx, logits, experts, weights): after the family's routing, the (possibly edited)
//      logits, the selected experts [T, k] (i32, global expert ids) and their weights [T, k] (f32)
//      as the MoE block will use them. Collectors record statistics here.
// Tokens from many sequences share a step; ctx maps each token to its sequence slot and each slot
// to the caller's tag (GenerateRequest::tag etc.), so a hook can act per sequence: one batch may
// carry sequences of several grid points (interventions) and several corpora (statistics).
// Hooks run before expert-parallel dispatch, on the rank that owns the sequence, with global
// expert ids: what a hook sees and does is independent of the expert-parallel degree.
// With no hook attached the forward pass does no hook work at all.
//
// Device: `ctx.device` says where logits/experts/weights live. CPU hooks read ctx's host arrays;
// a hook that cannot run on ctx.device must say so via supports(), and the engine refuses to
// attach it (no hidden per-token host copies).
// Thread-safety: a hook is called from one thread at a time per model instance.
#pragma once

#include <cstdint>
#include <span>

#include "runtime/core/tensor.h"
#include "runtime/io/model_config.h"

namespace moe {

struct RouterContext {
  int layer = 0;           // decoder layer index, 0-based
  int moe_layer = 0;       // index among MoE layers, 0-based
  int num_layers = 0;      // decoder layers in the model
  int num_experts = 0;     // E
  int top_k = 0;           // k
  io::RoutingKind routing = io::RoutingKind::kSoftmaxTopK;
  bool norm_topk_prob = true;
  double sparsemixer_eps = 0.0;  // phimoe router_jitter_noise
  Device device = Device::CPU;
  int num_tokens = 0;                    // T
  int num_seqs = 0;                      // S (slots in this step)
  const int32_t* token_seq = nullptr;    // [T] host: slot of each token
  const int32_t* token_pos = nullptr;    // [T] host: position of each token in its sequence
  const uint64_t* seq_tag = nullptr;     // [S] host: the request tag of each slot
  const uint8_t* seq_prefill = nullptr;  // [S] host: 1 if the slot's tokens are prompt tokens
  // Device copies (same layout) when device != CPU; null on CPU.
  const int32_t* d_token_seq = nullptr;
  const int32_t* d_token_pos = nullptr;
};

class RouterHook {
 public:
  virtual ~RouterHook() = default;
  // logits: [T, E] f32 on ctx.device, editable in place.
  virtual void on_logits(const RouterContext& ctx, Tensor& logits) {}
  // logits: [T, E] f32 (after on_logits edits); experts: [T, k] i32; weights: [T, k] f32.
  virtual void on_routed(const RouterContext& ctx, const Tensor& logits, const Tensor& experts,
                         const Tensor& weights) {}
  virtual bool supports(Device d) const { return d == Device::CPU; }
};

// Hooks attached to one forward call, called in order (interventions before collectors is the
// caller's choice of order).
using HookList = std::span<RouterHook* const>;

}  // namespace moe
