// `moe-sweep make-model OUT_DIR --family F [--preset NAME] [size flags] [--set KEY=VALUE]...`:
// writes a random checkpoint in a family's published layout (runtime/io/model_maker.h).
#include <cctype>
#include <cstdio>
#include <memory>

#include "runtime/core/error.h"
#include "runtime/io/model_maker.h"
#include "sweeps/cli/command.h"
#include "sweeps/cli/human.h"

namespace {

// "5GB" (10^9, as transformers' max_shard_size), "512MiB" (2^20), "1000000" (bytes).
uint64_t parse_bytes(const std::string& text) {
  size_t pos = 0;
  while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) ++pos;
  std::string unit = text.substr(pos);
  for (char& c : unit) c = char(std::toupper(static_cast<unsigned char>(c)));
  const std::pair<const char*, uint64_t> units[] = {{"", 1},
                                                    {"B", 1},
                                                    {"K", 1000},
                                                    {"KB", 1000},
                                                    {"M", 1000000},
                                                    {"MB", 1000000},
                                                    {"G", 1000000000},
                                                    {"GB", 1000000000},
                                                    {"KIB", 1 << 10},
                                                    {"MIB", 1 << 20},
                                                    {"GIB", uint64_t(1) << 30}};
  if (pos > 0 && pos <= 15) {
    const uint64_t n = std::stoull(text.substr(0, pos));
    for (const auto& [u, mult] : units)
      if (unit == u && n > 0) return n * mult;
  }
  throw moe::input_error("--shard-size",
                         "expected a positive size such as 2000000000, 5GB or "
                         "512MiB, found \"{}\"",
                         text);
}

}  // namespace

MOE_COMMAND(
    make_model, 60, "Write a random checkpoint of a family in its published layout",
    [](CLI::App& app) {
      struct Args {
        std::string out, family, preset = "tiny", dtype = "bf16", shard_size;
        int64_t layers = 0, hidden = 0, heads = 0, kv_heads = 0, head_dim = 0, experts = 0,
                top_k = 0, moe_intermediate = 0, vocab = 0;
        std::vector<std::string> set;
        uint64_t seed = 0;
        int threads = 0;
        bool force = false, dry_run = false;
      };
      auto a = std::make_shared<Args>();
      std::string presets;
      for (const auto& p : moe::io::model_presets()) presets += (presets.empty() ? "" : ", ") + p;
      app.add_option("OUT_DIR", a->out, "directory to write the checkpoint into")->required();
      app.add_option("--family", a->family, "qwen3_moe, olmoe, gpt_oss or phimoe");
      app.add_option("--preset", a->preset, "shape to start from: " + presets)
          ->capture_default_str();
      struct Dim {
        const char* flag;
        int64_t* value;
        const char* help;
      };
      const Dim dims[] = {
          {"--layers", &a->layers, "decoder layers (num_hidden_layers)"},
          {"--hidden", &a->hidden, "hidden size"},
          {"--heads", &a->heads, "query heads"},
          {"--kv-heads", &a->kv_heads, "key/value heads"},
          {"--head-dim", &a->head_dim, "head dimension"},
          {"--experts", &a->experts, "experts per MoE layer"},
          {"--top-k", &a->top_k, "experts per token"},
          {"--moe-intermediate", &a->moe_intermediate, "intermediate size of one expert"},
          {"--vocab", &a->vocab,
           "vocabulary size (the made tokenizer uses at most this many ids)"}};
      std::vector<CLI::Option*> dim_opts;
      for (const Dim& d : dims)
        dim_opts.push_back(app.add_option(d.flag, *d.value, d.help)->check(CLI::PositiveNumber));
      app.add_option("--dtype", a->dtype, "floating-point tensors: bf16 or f32")
          ->check(CLI::IsMember({"bf16", "f32"}))
          ->capture_default_str();
      app.add_option(
          "--shard-size", a->shard_size,
          "write model-0000i-of-0000n.safetensors shards of at most this size (e.g. 5GB) "
          "plus model.safetensors.index.json");
      app.add_option("--set", a->set, "any config.json key: KEY=JSON (e.g. rope_theta=500000)");
      app.add_option("--seed", a->seed, "random seed (same seed, same bytes)")
          ->capture_default_str();
      app.add_option("--threads", a->threads, "threads generating weights (0: all cores)");
      app.add_flag("--force", a->force, "replace a checkpoint already in OUT_DIR");
      app.add_flag("--dry-run", a->dry_run, "validate and print sizes without writing");

      return [a, dim_opts] {
        moe::io::MakeModelOptions o;
        if (!a->family.empty()) {
          o.family = moe::io::parse_family(a->family);
          if (!o.family) {
            throw moe::input_error("--family", "expected one of {}, found \"{}\"",
                                   moe::io::supported_families(), a->family);
          }
        }
        o.preset = a->preset;
        std::optional<int64_t>* targets[] = {&o.layers,   &o.hidden,           &o.heads,
                                             &o.kv_heads, &o.head_dim,         &o.experts,
                                             &o.top_k,    &o.moe_intermediate, &o.vocab};
        const int64_t values[] = {a->layers,   a->hidden,           a->heads,
                                  a->kv_heads, a->head_dim,         a->experts,
                                  a->top_k,    a->moe_intermediate, a->vocab};
        for (size_t i = 0; i < dim_opts.size(); ++i)
          if (dim_opts[i]->count()) *targets[i] = values[i];
        for (const std::string& kv : a->set) {
          const size_t eq = kv.find('=');
          if (eq == std::string::npos || eq == 0)
            throw moe::input_error("--set", "expected KEY=VALUE, found \"{}\"", kv);
          o.set.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
        }
        o.dtype = a->dtype == "f32" ? moe::DType::F32 : moe::DType::BF16;
        if (!a->shard_size.empty()) o.shard_size = parse_bytes(a->shard_size);
        o.seed = a->seed;
        o.threads = a->threads;
        o.overwrite = a->force;

        const moe::io::MadeModel m = moe::io::make_model(a->out, o, a->dry_run);
        const auto& c = m.config;
        std::printf("%s %s: %s (%s), preset %s, seed %llu\n", a->dry_run ? "would write" : "wrote",
                    a->out.c_str(), std::string(moe::io::family_name(c.family)).c_str(),
                    c.architecture.c_str(), o.preset.c_str(),
                    static_cast<unsigned long long>(o.seed));
        std::printf("  %d layers, %d experts (top-%d), hidden %d, %d q heads / %d kv heads x %d\n",
                    c.num_layers, c.num_experts, c.top_k, c.hidden_size, c.num_heads,
                    c.num_kv_heads, c.head_dim);
        std::printf("  %s parameters (%s active), %s of tensors, tokenizer %lld ids of %lld\n",
                    moe::cli::human_count(double(m.params.total)).c_str(),
                    moe::cli::human_count(m.params.active(c.top_k, c.num_experts)).c_str(),
                    moe::cli::human_bytes(m.tensor_bytes).c_str(),
                    static_cast<long long>(m.tokenizer_size), static_cast<long long>(c.vocab_size));
        if (!a->dry_run) {
          std::string files;
          for (const auto& f : m.files) files += " " + f;
          std::printf("  files:%s\n", files.c_str());
        }
        return 0;
      };
    });
