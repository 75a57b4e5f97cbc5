// `moe-sweep inspect MODEL_DIR`: what a checkpoint directory holds: family and shapes from
// config.json, parameters and dtypes from the safetensors headers (checked against the family's
// published layout), special tokens, the tokenizer's size.
#include <cstdio>
#include <map>
#include <memory>

#include "runtime/core/error.h"
#include "runtime/io/layout.h"
#include "runtime/io/model_config.h"
#include "runtime/io/safetensors.h"
#include "runtime/io/tokenizer.h"
#include "sweeps/cli/command.h"
#include "sweeps/cli/human.h"

namespace {

using moe::io::ModelConfig;

void row(const char* key, const std::string& value) {
  std::printf("%-15s %s\n", key, value.c_str());
}

// "all", "none" or "1, 3, 5 (3 of 48)" (the first eight indices).
std::string which_layers(const std::vector<bool>& on) {
  std::string idx;
  int n = 0, shown = 0;
  for (size_t i = 0; i < on.size(); ++i) {
    if (!on[i]) continue;
    ++n;
    if (shown < 8)
      idx += (shown++ ? ", " : "") + std::to_string(i);
    else if (shown++ == 8)
      idx += ", ...";
  }
  if (n == int(on.size())) return "all";
  if (n == 0) return "none";
  return fmt::format("{} ({} of {})", idx, n, on.size());
}

std::string layers_text(const ModelConfig& c) {
  std::vector<bool> sliding;
  int window = 0;
  for (int w : c.sliding_window) {
    sliding.push_back(w > 0);
    window = std::max(window, w);
  }
  const std::string attn =
      window > 0 ? fmt::format("sliding window {} on {}", window, which_layers(sliding))
                 : std::string("full attention on all");
  return fmt::format("{} (MoE: {}; {})", c.num_layers, which_layers(c.moe_layer), attn);
}

std::string routing_text(const ModelConfig& c) {
  switch (c.routing) {
    case moe::io::RoutingKind::kSoftmaxTopK:
      return c.norm_topk_prob ? "softmax over all -> top-k -> renormalise"
                              : "softmax over all -> top-k (no renormalisation)";
    case moe::io::RoutingKind::kTopKSoftmax:
      return "top-k of logits (+ router bias) -> softmax over the k";
    case moe::io::RoutingKind::kSparseMixer:
      return fmt::format("sparsemixer (two masked softmaxes, eps {})", c.router_jitter_noise);
  }
  return "?";
}

std::string rope_text(const ModelConfig& c) {
  const auto& r = c.rope;
  std::string s = fmt::format("{}, theta {}", moe::io::rope_kind_name(r.kind), r.theta);
  if (r.kind == moe::io::RopeConfig::Kind::kYarn) {
    s += fmt::format(", factor {}, beta {}/{}, original {} positions, scale {:.4f}{}", r.factor,
                     r.beta_fast, r.beta_slow, r.original_max_position_embeddings,
                     r.attention_factor, r.truncate ? "" : ", no truncation");
  } else if (r.kind == moe::io::RopeConfig::Kind::kLongRope) {
    s += fmt::format(", {} short/long factors, mscale {:.4f}/{:.4f}, original {} positions",
                     r.short_factor.size(), r.short_mscale, r.long_mscale,
                     r.original_max_position_embeddings);
  }
  return s;
}

std::string attention_text(const ModelConfig& c) {
  std::string s = fmt::format("{} q heads / {} kv heads x head_dim {}", c.num_heads, c.num_kv_heads,
                              c.head_dim);
  if (c.qk_norm)
    s += c.qk_norm_per_head ? ", q/k RMSNorm per head" : ", q/k RMSNorm (whole vector)";
  if (c.attention_bias) s += ", biases";
  if (c.attention_sinks) s += ", sinks";
  if (c.clip_qkv) s += fmt::format(", clip_qkv {}", *c.clip_qkv);
  return s;
}

std::string token_text(const moe::io::Tokenizer* tok, int64_t id) {
  if (!tok) return std::to_string(id);
  const std::string t = tok->id_to_token(int32_t(id));
  return t.empty() ? std::to_string(id) : fmt::format("{} {}", id, t);
}

}  // namespace

MOE_COMMAND(inspect, 50, "Print what a checkpoint directory holds", [](CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  app.add_option("MODEL_DIR", *dir, "Hugging Face checkpoint directory")->required();
  return [dir] {
    namespace io = moe::io;
    const std::filesystem::path d(*dir);
    const ModelConfig c = io::load_model_config(d);
    const io::SpecialTokens st = io::load_special_tokens(d);
    const io::Checkpoint ckpt = io::Checkpoint::open(d);
    std::unique_ptr<io::Tokenizer> tok;
    if (std::filesystem::exists(d / "tokenizer.json"))
      tok = std::make_unique<io::Tokenizer>(io::Tokenizer::load(d / "tokenizer.json"));

    std::vector<io::CheckpointTensor> tensors;
    std::map<moe::DType, std::pair<int, uint64_t>> dtypes;  // count, bytes
    for (const std::string& n : ckpt.names()) {
      const io::TensorInfo& t = ckpt.info(n);
      tensors.push_back({n, t.dtype, t.shape});
      auto& [count, bytes] = dtypes[t.dtype];
      ++count;
      bytes += t.nbytes();
    }
    std::vector<std::string> problems;
    const io::ParamCounts p = io::count_params(io::classify_tensors(c, tensors, &problems));

    row("checkpoint", d.string());
    row("family", fmt::format("{} ({})", io::family_name(c.family), c.architecture));
    row("layers", layers_text(c));
    row("experts", fmt::format("{} per MoE layer, top-{}, intermediate {}", c.num_experts, c.top_k,
                               c.moe_intermediate_size));
    row("routing", routing_text(c));
    row("hidden size", std::to_string(c.hidden_size));
    row("attention", attention_text(c));
    row("norm", fmt::format("{}, eps {}", c.norm == io::NormKind::kRms ? "RMSNorm" : "LayerNorm",
                            c.norm_eps));
    row("rope", rope_text(c));
    row("parameters", fmt::format("{} total, {} active per token (experts {}, other {})",
                                  moe::cli::human_count(double(p.total)),
                                  moe::cli::human_count(p.active(c.top_k, c.num_experts)),
                                  moe::cli::human_count(double(p.expert)),
                                  moe::cli::human_count(double(p.total - p.expert))));
    row("config dtype", std::string(moe::dtype_name(c.torch_dtype)));
    bool first = true;
    for (const auto& [dt, cb] : dtypes) {
      row(first ? "dtypes" : "", fmt::format("{:<8} {:>7} tensors  {:>10}", moe::dtype_name(dt),
                                             cb.first, moe::cli::human_bytes(cb.second)));
      first = false;
    }
    row("files", fmt::format("{} on disk in {}", moe::cli::human_bytes(ckpt.bytes_on_disk()),
                             ckpt.sharded() ? fmt::format("{} shards + {}", ckpt.files().size(),
                                                          io::Checkpoint::kIndexFile)
                                            : std::string(io::Checkpoint::kSingleFile)));
    row("vocabulary", fmt::format("{} ids in the embedding{}", c.vocab_size,
                                  tok ? fmt::format(", {} in tokenizer.json", tok->vocab_size())
                                      : std::string(", no tokenizer.json")));
    std::string specials =
        fmt::format("bos {}, pad {}, add_bos {}", st.bos ? token_text(tok.get(), *st.bos) : "none",
                    st.pad ? token_text(tok.get(), *st.pad) : "none", st.add_bos ? "yes" : "no");
    row("special tokens", specials);
    std::string stops;
    for (int64_t id : st.eos) stops += (stops.empty() ? "" : ", ") + token_text(tok.get(), id);
    row("stop ids", stops.empty() ? "none" : stops);
    if (problems.empty()) {
      row("layout", fmt::format("matches the published {} layout ({} tensors)",
                                io::family_name(c.family), tensors.size()));
      return 0;
    }
    row("layout", fmt::format("{} differences from the published {} layout:", problems.size(),
                              io::family_name(c.family)));
    for (size_t i = 0; i < problems.size() && i < 20; ++i) row("", "  " + problems[i]);
    std::fflush(stdout);
    throw moe::input_error(d.string(),
                           "expected the tensors config.json describes ({} layout), "
                           "found {} differences (first: {})",
                           io::family_name(c.family), problems.size(), problems.front());
  };
});
