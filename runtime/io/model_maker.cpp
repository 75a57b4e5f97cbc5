// make_model: preset config -> overrides -> made tokenizer's special ids -> validated ModelConfig
// -> published layout -> streamed random tensors + the JSON files of a checkpoint directory.
#include "runtime/io/model_maker.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <thread>

#include "runtime/core/error.h"
#include "runtime/io/family_spec.h"
#include "runtime/io/files.h"
#include "runtime/io/mxfp4.h"
#include "runtime/io/safetensors.h"
#include "runtime/io/tokenizer_maker.h"

namespace moe::io {
namespace {

constexpr double kStd = 0.02;  // HF initializer_range

// ---- deterministic streams -------------------------------------------------------------------

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The stream key of a tensor: a hash of its name mixed with the seed.
uint64_t stream_key(uint64_t seed, std::string_view name) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (unsigned char ch : name) h = (h ^ ch) * 0x100000001b3ull;
  return splitmix64(h ^ splitmix64(seed));
}

// Standard normal quantiles at (k + 0.5) / 65536, by bisection on the CDF: 16 random bits give
// one N(0, 1) sample (tails cut at about 4.3 sigma). A named (non-constexpr) function, not a
// lambda: GCC would otherwise try to constant-evaluate the 2 million erfc calls at compile time.
std::array<float, 65536> compute_normal_table() {
  std::array<float, 65536> t{};
  for (int k = 0; k < 32768; ++k) {
    const double p = (k + 0.5) / 65536.0;  // < 0.5: negative quantile
    double lo = -10.0, hi = 0.0;
    for (int it = 0; it < 60; ++it) {
      const double mid = 0.5 * (lo + hi);
      (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
    }
    t[size_t(k)] = float(0.5 * (lo + hi));
    t[size_t(65535 - k)] = -t[size_t(k)];
  }
  return t;
}

const std::array<float, 65536>& normal_table() {
  static const std::array<float, 65536> table = compute_normal_table();
  return table;
}

// Calls f(i, z_i) for i in [b, e), z_i being element i of the N(0, 1) stream `key`: four
// samples per 64-bit draw, so element i is the same whatever range it is generated in.
template <typename F>
void for_each_normal(uint64_t key, uint64_t b, uint64_t e, F f) {
  const auto& t = normal_table();
  uint64_t i = b;
  while (i < e) {
    const uint64_t group = i >> 2;
    const uint64_t r = splitmix64(key + group);
    const uint64_t end = std::min(e, (group + 1) << 2);
    for (; i < end; ++i) f(i, t[(r >> (16 * (i & 3))) & 0xffff]);
  }
}

// Runs body(begin, end) over [0, n) split across `threads` threads (one when n is small).
template <typename F>
void parallel_ranges(uint64_t n, int threads, F body) {
  const uint64_t min_per_thread = 1 << 16;
  const int t =
      int(std::max<uint64_t>(1, std::min<uint64_t>(uint64_t(threads), n / min_per_thread)));
  if (t <= 1) {
    body(uint64_t(0), n);
    return;
  }
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(t));
  for (int k = 0; k < t; ++k) {
    pool.emplace_back([&, k] {
      try {
        body(n * uint64_t(k) / uint64_t(t), n * uint64_t(k + 1) / uint64_t(t));
      } catch (...) {
        errors[size_t(k)] = std::current_exception();
      }
    });
  }
  for (auto& th : pool) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

// mean + std * N(0, 1) in BF16 or F32.
SafetensorsWriter::Filler float_filler(DType dt, uint64_t key, float mean, float std_dev,
                                       int threads) {
  return [=](uint8_t* dst, uint64_t nbytes) {
    const uint64_t n = nbytes / uint64_t(dtype_bits(dt) / 8);
    parallel_ranges(n, threads, [&](uint64_t b, uint64_t e) {
      for_each_normal(key, b, e, [&](uint64_t i, float z) {
        const float v = mean + std_dev * z;
        if (dt == DType::BF16) {
          const uint16_t h = f32_to_bf16(v);
          std::memcpy(dst + 2 * i, &h, 2);
        } else {
          std::memcpy(dst + 4 * i, &v, 4);
        }
      });
    });
  };
}

// MXFP4 blocks (16 bytes per 32 values) or scales (1 byte per 32 values) of the same
// normal(0, 0.02) values: both tensors use the stream of the blocks tensor.
SafetensorsWriter::Filler mxfp4_filler(bool scales, uint64_t key, int threads) {
  return [=](uint8_t* dst, uint64_t nbytes) {
    const uint64_t blocks = scales ? nbytes : nbytes / 16;
    parallel_ranges(blocks, threads, [&](uint64_t b0, uint64_t b1) {
      float v[kMxfp4Block];
      uint8_t packed[kMxfp4Block / 2], scale;
      for (uint64_t b = b0; b < b1; ++b) {
        const uint64_t first = b * kMxfp4Block;
        for_each_normal(key, first, first + kMxfp4Block,
                        [&](uint64_t i, float z) { v[i - first] = float(kStd) * z; });
        encode_mxfp4_block(v, packed, &scale);
        if (scales)
          dst[b] = scale;
        else
          std::memcpy(dst + 16 * b, packed, 16);
      }
    });
  };
}

SafetensorsWriter::Filler filler_for(const TensorSpec& t, uint64_t seed, int threads) {
  switch (t.role) {
    case TensorRole::kExpertBlocks:
      return mxfp4_filler(false, stream_key(seed, t.name), threads);
    case TensorRole::kExpertScales: {
      std::string blocks = t.name;
      blocks.replace(blocks.rfind("_scales"), 7, "_blocks");
      return mxfp4_filler(true, stream_key(seed, blocks), threads);
    }
    case TensorRole::kNormWeight:
      return float_filler(t.dtype, stream_key(seed, t.name), 1.0f, float(kStd), threads);
    default:
      return float_filler(t.dtype, stream_key(seed, t.name), 0.0f, float(kStd), threads);
  }
}

// ---- config ----------------------------------------------------------------------------------

// Sets a dotted key ("rope_scaling.factor") in a JSON object, creating objects on the way.
void set_key(Json& root, const std::string& dotted, Json value) {
  Json* cur = &root;
  size_t start = 0;
  for (;;) {
    const size_t dot = dotted.find('.', start);
    const std::string part = dotted.substr(start, dot == std::string::npos ? dot : dot - start);
    if (part.empty()) throw input_error("--set " + dotted, "expected KEY=VALUE with a key path");
    if (!cur->is_object()) *cur = Json::object();
    if (dot == std::string::npos) {
      (*cur)[part] = std::move(value);
      return;
    }
    cur = &(*cur)[part];
    start = dot + 1;
  }
}

const FamilySpec& resolve_family(const MakeModelOptions& o) {
  for (const FamilySpec* s : all_family_specs()) {
    if (s->full_preset != o.preset) continue;
    if (o.family && *o.family != s->family) {
      throw input_error("--preset " + o.preset,
                        "expected --family {} (the preset's family), "
                        "found --family {}",
                        s->model_type, family_name(*o.family));
    }
    return *s;
  }
  if (o.preset != "tiny") {
    std::string all;
    for (const auto& p : model_presets()) all += (all.empty() ? "" : ", ") + p;
    throw input_error("--preset", "expected one of {}, found \"{}\"", all, o.preset);
  }
  if (!o.family) {
    throw input_error("--family", "expected a family for the tiny preset (one of {}), found none",
                      supported_families());
  }
  return family_spec(*o.family);
}

struct Plan {
  const FamilySpec* spec = nullptr;
  Json config, generation_config, tokenizer_config;
  MadeTokenizer tokenizer;
  ModelConfig parsed;
};

Plan plan_model(const MakeModelOptions& o) {
  Plan p;
  p.spec = &resolve_family(o);
  const FamilySpec& s = *p.spec;
  Json c = s.preset_config(o.preset);
  MOE_ASSERT(c.is_object(), "family {} has no preset {}", s.model_type, o.preset);
  const std::pair<const std::optional<int64_t>*, std::string_view> dims[] = {
      {&o.layers, "num_hidden_layers"},  {&o.hidden, "hidden_size"},
      {&o.heads, "num_attention_heads"}, {&o.kv_heads, "num_key_value_heads"},
      {&o.head_dim, "head_dim"},         {&o.experts, s.experts_key},
      {&o.top_k, "num_experts_per_tok"}, {&o.moe_intermediate, s.expert_intermediate_key},
      {&o.vocab, "vocab_size"}};
  for (const auto& [v, key] : dims)
    if (*v) c[std::string(key)] = **v;
  if (o.dtype != DType::BF16 && o.dtype != DType::F32) {
    throw input_error("--dtype", "expected bf16 or f32, found {}", dtype_name(o.dtype));
  }
  c["torch_dtype"] = o.dtype == DType::BF16 ? "bfloat16" : "float32";
  s.adjust_config(c);
  for (const auto& [key, text] : o.set) {
    Json value;
    try {
      value = Json::parse(text);
    } catch (const Json::parse_error&) {
      value = text;  // a bare word
    }
    set_key(c, key, std::move(value));
  }
  // Validate the dimensions before asking for a tokenizer of that size.
  const std::string label = "make-model config.json";
  (void)parse_model_config(c.dump(), label);
  const int64_t vocab = c["vocab_size"].get<int64_t>();
  p.tokenizer = make_tokenizer(s.family, vocab);
  s.special_token_files(p.tokenizer.special_ids, c, p.generation_config, p.tokenizer_config);
  p.parsed = parse_model_config(c.dump(), label);
  p.config = std::move(c);
  return p;
}

bool holds_checkpoint(const std::filesystem::path& dir, std::string* what) {
  std::error_code ec;
  for (const char* f : {"config.json", Checkpoint::kSingleFile, Checkpoint::kIndexFile}) {
    if (std::filesystem::exists(dir / f, ec)) {
      *what = f;
      return true;
    }
  }
  return false;
}

void remove_checkpoint_files(const std::filesystem::path& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string n = entry.path().filename().string();
    const bool shard = n.rfind("model-", 0) == 0 && n.size() > 12 &&
                       n.compare(n.size() - 12, 12, ".safetensors") == 0;
    if (shard || n == Checkpoint::kSingleFile || n == Checkpoint::kIndexFile ||
        n == "config.json" || n == "generation_config.json" || n == "tokenizer_config.json" ||
        n == "tokenizer.json")
      std::filesystem::remove(entry.path(), ec);
  }
}

}  // namespace

std::vector<std::string> model_presets() {
  std::vector<std::string> out{"tiny"};
  for (const FamilySpec* s : all_family_specs()) out.emplace_back(s->full_preset);
  return out;
}

std::string make_model_config(const MakeModelOptions& options) {
  return plan_model(options).config.dump(2) + "\n";
}

MadeModel make_model(const std::filesystem::path& out_dir, const MakeModelOptions& o,
                     bool dry_run) {
  Plan p = plan_model(o);
  MadeModel made;
  made.config = p.parsed;
  made.tokenizer_size = p.tokenizer.size;
  const std::vector<TensorSpec> layout = checkpoint_layout(p.parsed, o.dtype);
  made.params = count_params(layout);
  const int threads =
      o.threads > 0 ? o.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  SafetensorsWriter w;
  w.set_metadata({{"format", "pt"}});
  for (const TensorSpec& t : layout)
    w.add(t.name, t.dtype, t.shape, filler_for(t, o.seed, threads));
  made.tensor_bytes = w.total_bytes();
  if (dry_run) return made;

  std::error_code ec;
  if (std::filesystem::exists(out_dir, ec) && !std::filesystem::is_directory(out_dir, ec)) {
    throw input_error(out_dir.string(), "expected a directory for the checkpoint, found a file");
  }
  std::string existing;
  if (holds_checkpoint(out_dir, &existing)) {
    if (!o.overwrite) {
      throw input_error(out_dir.string(),
                        "expected a new or empty directory, found a checkpoint "
                        "({}); pass --force to replace it",
                        existing);
    }
    remove_checkpoint_files(out_dir);
  }
  std::filesystem::create_directories(out_dir, ec);
  if (ec) throw input_error(out_dir.string(), "cannot create the directory: {}", ec.message());

  if (o.shard_size > 0) {
    made.files = w.write_sharded(out_dir, o.shard_size);
    made.files.push_back(Checkpoint::kIndexFile);
  } else {
    w.write(out_dir / Checkpoint::kSingleFile);
    made.files.push_back(Checkpoint::kSingleFile);
  }
  // config.json last: its presence marks a complete directory.
  const std::pair<const char*, std::string> texts[] = {
      {"tokenizer.json", p.tokenizer.tokenizer_json},
      {"tokenizer_config.json", p.tokenizer_config.dump(2) + "\n"},
      {"generation_config.json", p.generation_config.dump(2) + "\n"},
      {"config.json", p.config.dump(2) + "\n"}};
  for (const auto& [name, text] : texts) {
    write_text_file(out_dir / name, text);
    made.files.push_back(name);
  }
  return made;
}

}  // namespace moe::io
