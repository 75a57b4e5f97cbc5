#include "runtime/models/model.h"

#include <fmt/format.h>

#include "runtime/core/error.h"
#include "runtime/models/decoder.h"
#include "runtime/models/weights.h"

namespace moe {

namespace {

// The family table: a new family is one file plus one line here.
struct FamilyEntry {
  io::Family family;
  FamilyBuilder build;
};
constexpr FamilyEntry kFamilies[] = {
    {io::Family::kQwen3Moe, &build_qwen3_moe},
    {io::Family::kOlmoe, &build_olmoe},
    {io::Family::kGptOss, &build_gpt_oss},
    {io::Family::kPhimoe, &build_phimoe},
};

}  // namespace

void ForwardBatch::add(int cache_slot, std::span<const int32_t> new_tokens, uint64_t tag,
                       bool prefill, Logits logits) {
  Seq s;
  s.cache_slot = cache_slot;
  s.begin = int32_t(tokens.size());
  s.len = int32_t(new_tokens.size());
  s.tag = tag;
  s.prefill = prefill;
  tokens.insert(tokens.end(), new_tokens.begin(), new_tokens.end());
  if (logits == Logits::kLast && s.len > 0) logit_rows.push_back(s.begin + s.len - 1);
  if (logits == Logits::kAll)
    for (int32_t i = 0; i < s.len; ++i) logit_rows.push_back(s.begin + i);
  seqs.push_back(s);
}

std::unique_ptr<KvCache> Model::make_cache(int max_seqs, int64_t max_tokens) {
  KvCacheSpec s = kv_spec();
  s.max_seqs = max_seqs;
  s.max_tokens = max_tokens;
  return std::make_unique<KvCache>(*backend_, s);
}

std::shared_ptr<Model> build_model(const io::ModelConfig& config, const WeightSource& weights,
                                   const ModelLoadOptions& options) {
  BackendOptions bo = options.backend;
  using E = ModelLoadOptions::Bf16Emulation;
  bo.bf16_rounding = options.bf16_emulation == E::kOn ||
                     (options.bf16_emulation == E::kAuto && config.torch_dtype == DType::BF16);
  std::shared_ptr<Backend> backend = make_backend(bo);
  for (const FamilyEntry& f : kFamilies)
    if (f.family == config.family) return f.build(config, weights, backend, options);
  throw input_error(config.source.string(), "expected a supported model family, found '{}'",
                    config.architecture);
}

}  // namespace moe
