// Model: a loaded MoE decoder of one family (qwen3_moe, olmoe, ...) bound to a Backend.
//
// The model owns its weights (zero-copy views of the mmapped checkpoint on the CPU) and its
// per-layer blocks; it does not own KV caches (make_cache() creates one for the caller) or hooks.
// forward() runs one step over a ForwardBatch: any number of sequences, each appending its new
// tokens to its cache slot (prompt chunks and decode tokens may be mixed, no padding). At every
// MoE layer the attached RouterHooks see the raw router logits and the routing (router_hook.h);
// the experts then run through the model's ExpertRunner (local by default; expert parallelism
// installs a dispatcher, which runs after the hooks, on global expert ids).
// Thread-safety: one forward() at a time per Model.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/backend/backend.h"
#include "runtime/backend/kv_cache.h"
#include "runtime/io/model_config.h"
#include "runtime/routing/router_hook.h"

namespace moe {

class WeightSource;

// The tokens of one forward step. Tokens of a sequence are contiguous, in position order, and
// continue that sequence's cache (the first new token sits at position cache.length(slot)).
struct ForwardBatch {
  struct Seq {
    int cache_slot = 0;     // KvCache slot
    int32_t begin = 0;      // first token index in `tokens`
    int32_t len = 0;        // number of new tokens
    uint64_t tag = 0;       // handed to hooks (RouterContext::seq_tag)
    bool prefill = true;    // prompt tokens (true) or generated tokens (false)
  };
  std::vector<int32_t> tokens;      // [T]
  std::vector<Seq> seqs;            // [S]
  std::vector<int32_t> logit_rows;  // [R] token indices whose next-token logits are wanted

  enum class Logits { kNone, kLast, kAll };
  // Appends a sequence's new tokens; `logits` selects which of them get logits rows.
  void add(int cache_slot, std::span<const int32_t> new_tokens, uint64_t tag, bool prefill,
           Logits logits);
  int64_t num_tokens() const { return int64_t(tokens.size()); }
};

// Computes out[t] = sum_j weights[t,j] * Expert_{experts[t,j]}(x[t]) for one MoE layer.
// The local runner calls Backend::moe_experts; an expert-parallel dispatcher exchanges tokens
// with the ranks that hold the experts. Called once per MoE layer per step, after the hooks.
class ExpertRunner {
 public:
  virtual ~ExpertRunner() = default;
  // x: [T, H] f32; experts: [T, k] i32 (global ids); weights: [T, k] f32; out: [T, H] f32
  virtual void run(int moe_layer, const Tensor& x, const Tensor& experts, const Tensor& weights,
                   Tensor& out) = 0;
};

struct ModelLoadOptions {
  BackendOptions backend;
  // bf16 activation rounding in the reference backend: "auto" turns it on for bf16 checkpoints.
  enum class Bf16Emulation { kAuto, kOn, kOff } bf16_emulation = Bf16Emulation::kAuto;
  // Expert parallelism: which experts this process holds (null = all). Others stay unloaded.
  std::function<bool(int moe_layer, int expert)> hold_expert;
  // LongRoPE (phimoe) once a sequence is longer than original_max_position_embeddings:
  //   kReference     long factors and long mscale (the original Phi-3.5 code and vLLM)
  //   kTransformers  short factors and long mscale: what transformers 5.23 computes (its
  //                  PhimoeRotaryEmbedding never reads the long factors); the golden fixtures'
  //                  semantics. Both use the short factors and short mscale up to that length.
  // Either way the choice is made per sequence and step from the sequence's length after the
  // step; cached keys keep their rotation. Model::description() records the mode.
  enum class LongRope { kReference, kTransformers } longrope = LongRope::kReference;
};

class Model {
 public:
  virtual ~Model() = default;
  const io::ModelConfig& config() const { return config_; }
  Backend& backend() { return *backend_; }
  std::shared_ptr<Backend> backend_ptr() { return backend_; }
  // The activation dtype the reference computes in (the checkpoint's torch_dtype).
  DType activation_dtype() const { return config_.torch_dtype; }
  // For result files: the family-specific load options that changed this model's numbers, as
  // space-separated key=value words, e.g. "longrope=reference" ("" when there are none).
  const std::string& description() const { return description_; }

  // One step. logits (if non-null) receives [R, V] f32 on the host for batch.logit_rows.
  virtual void forward(const ForwardBatch& batch, KvCache& cache, HookList hooks,
                       Tensor* logits) = 0;

  // A cache for up to max_seqs sequences and max_tokens cached tokens in total.
  std::unique_ptr<KvCache> make_cache(int max_seqs, int64_t max_tokens);
  virtual KvCacheSpec kv_spec() const = 0;  // without max_seqs / max_tokens

  // Expert access for expert parallelism.
  virtual int num_moe_layers() const = 0;
  virtual const ExpertWeights& experts(int moe_layer) const = 0;
  void set_expert_runner(std::shared_ptr<ExpertRunner> runner) { runner_ = std::move(runner); }

  // Debugging: called with every named intermediate of forward() ("embed", "layers.3.attn_out",
  // "layers.3.moe_out", "final_norm", ... ; [T, D] f32 on the backend's device). Null = off
  // (the default; no cost).
  using Observer = std::function<void(const std::string& name, const Tensor& t)>;
  void set_observer(Observer observer) { observer_ = std::move(observer); }

 protected:
  Model(io::ModelConfig config, std::shared_ptr<Backend> backend)
      : config_(std::move(config)), backend_(std::move(backend)) {}
  io::ModelConfig config_;
  std::shared_ptr<Backend> backend_;
  std::shared_ptr<ExpertRunner> runner_;  // null = local experts
  std::string description_;
  Observer observer_;
};

// Loads `dir` (config.json + safetensors) for its family on the backend options name.
std::shared_ptr<Model> load_model(const std::filesystem::path& dir,
                                  const ModelLoadOptions& options = {});
// Builds a model from a parsed config and a weight source (tests, tools).
std::shared_ptr<Model> build_model(const io::ModelConfig& config, const WeightSource& weights,
                                   const ModelLoadOptions& options = {});

}  // namespace moe
