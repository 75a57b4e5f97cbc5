// make_model: writes a random checkpoint of any supported family, in the exact layout of the
// published Hugging Face checkpoint (tensor names, shapes, dtypes; GPT-OSS experts as MXFP4),
// with the config.json, generation_config.json, tokenizer_config.json and tokenizer.json
// (io::make_tokenizer) a published checkpoint directory has. Used for tests, the demo and
// benchmarks (`moe-sweep make-model`).
//
// Presets: "tiny" for every family (fast), and the published shapes "qwen3-30b-a3b",
// "olmoe-1b-7b", "gpt-oss-20b", "phi-3.5-moe". Weights are streamed into the output files
// (never all in memory) and are a pure function of (seed, tensor name): the same options give
// the same bytes whatever the sharding or thread count. Values: linear/embedding/router weights,
// biases and sinks ~ normal(0, 0.02) (the HF initializer range), norm weights 1 + normal(0, 0.02);
// MXFP4 experts are normal(0, 0.02) values quantised per 32-block with the OCP MX rule.
// Thread-safety: make_model may run concurrently for different output directories.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/core/dtype.h"
#include "runtime/io/layout.h"
#include "runtime/io/model_config.h"

namespace moe::io {

struct MakeModelOptions {
  std::optional<Family> family;  // required for "tiny"; implied by a published preset
  std::string preset = "tiny";
  // Dimension overrides (config.json keys in brackets).
  std::optional<int64_t> layers;            // num_hidden_layers
  std::optional<int64_t> hidden;            // hidden_size
  std::optional<int64_t> heads;             // num_attention_heads
  std::optional<int64_t> kv_heads;          // num_key_value_heads
  std::optional<int64_t> head_dim;          // head_dim
  std::optional<int64_t> experts;           // num_experts / num_local_experts
  std::optional<int64_t> top_k;             // num_experts_per_tok
  std::optional<int64_t> moe_intermediate;  // moe_intermediate_size / intermediate_size
  std::optional<int64_t> vocab;             // vocab_size
  // Any other config.json key: ("rope_theta", "500000"), ("rope_scaling.factor", "8"); the value
  // is JSON (a bare word that is not JSON is taken as a string). Applied last.
  std::vector<std::pair<std::string, std::string>> set;
  DType dtype = DType::BF16;  // floating-point tensors: BF16 or F32
  uint64_t shard_size = 0;    // 0: one model.safetensors; else shards of at most this many bytes
  uint64_t seed = 0;
  bool overwrite = false;  // replace a checkpoint already in the output directory
  int threads = 0;         // 0: hardware concurrency
};

struct MadeModel {
  ModelConfig config;
  std::vector<std::string> files;  // written, relative to the output directory
  uint64_t tensor_bytes = 0;       // sum of tensor data
  ParamCounts params;
  int64_t tokenizer_size = 0;  // ids the made tokenizer uses (<= vocab_size)
};

std::vector<std::string> model_presets();  // "tiny", then the published presets

// The config.json text (with special-token ids from the made tokenizer) `options` describe;
// validated by parse_model_config. Throws InputError for bad options.
std::string make_model_config(const MakeModelOptions& options);

// Writes the checkpoint into `out_dir` (created if absent). Throws InputError if the options are
// invalid or `out_dir` already holds a checkpoint (unless options.overwrite). `dry_run` validates
// and sizes everything without writing.
MadeModel make_model(const std::filesystem::path& out_dir, const MakeModelOptions& options,
                     bool dry_run = false);

}  // namespace moe::io
