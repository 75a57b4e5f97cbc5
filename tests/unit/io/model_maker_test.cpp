// make_model: every family's tiny checkpoint opens with the published layout's names, shapes and
// dtypes, carries the published config keys and consistent special tokens; weights are
// deterministic, sharding-independent and of the stated scale; MXFP4 blocks match their scales.
#include "runtime/io/model_maker.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <map>
#include <set>

#include "runtime/core/dtype.h"
#include "runtime/io/files.h"
#include "runtime/io/safetensors.h"
#include "runtime/io/tokenizer.h"
#include "tests/unit/io/io_test_util.h"

namespace moe::io {
namespace {

using nlohmann::json;
using testing::expect_input_error;
using testing::TempDir;

const std::string kConfigs = std::string(MOE_SOURCE_DIR) + "/tests/data/configs/";

MakeModelOptions tiny(Family f) {
  MakeModelOptions o;
  o.family = f;
  o.threads = 2;
  return o;
}

std::vector<uint8_t> bytes_of(const Tensor& t) {
  const auto* p = static_cast<const uint8_t*>(t.raw());
  return std::vector<uint8_t>(p, p + t.nbytes());
}

struct FamilyCase {
  Family family;
  std::string published;  // tests/data/configs/<published>: hand-written published config
};

class MadeTiny : public ::testing::TestWithParam<FamilyCase> {};

TEST_P(MadeTiny, OpensWithThePublishedLayout) {
  TempDir dir;
  const MadeModel m = make_model(dir.path(), tiny(GetParam().family));
  const ModelConfig c = load_model_config(dir.path());
  EXPECT_EQ(c.family, GetParam().family);
  const Checkpoint ck = Checkpoint::open(dir.path());
  const auto layout = checkpoint_layout(c);
  EXPECT_EQ(ck.names().size(), layout.size());
  for (const TensorSpec& t : layout) {
    ASSERT_TRUE(ck.has(t.name)) << t.name;
    EXPECT_EQ(ck.info(t.name).dtype, t.dtype) << t.name;
    EXPECT_EQ(ck.info(t.name).shape, t.shape) << t.name;
  }
  EXPECT_EQ(m.tensor_bytes + 0, [&] {
    uint64_t s = 0;
    for (const auto& n : ck.names()) s += ck.info(n).nbytes();
    return s;
  }());
  EXPECT_EQ(ck.files()[0]->metadata().at("format"), "pt");
}

TEST_P(MadeTiny, ConfigHasThePublishedKeys) {
  TempDir dir;
  make_model(dir.path(), tiny(GetParam().family));
  const json made = json::parse(read_text_file(dir / "config.json"));
  const json pub = json::parse(read_text_file(kConfigs + GetParam().published + "/config.json"));
  for (auto it = pub.begin(); it != pub.end(); ++it) {
    if (it.key() == "auto_map") continue;  // remote code the made directory does not ship
    EXPECT_TRUE(made.contains(it.key())) << it.key();
  }
  EXPECT_EQ(made["model_type"], pub["model_type"]);
  EXPECT_EQ(made["architectures"], pub["architectures"]);
}

TEST_P(MadeTiny, SpecialTokensNameTheMadeTokenizersIds) {
  TempDir dir;
  make_model(dir.path(), tiny(GetParam().family));
  const SpecialTokens st = load_special_tokens(dir.path());
  const Tokenizer tok = Tokenizer::load(dir / "tokenizer.json");
  ASSERT_FALSE(st.eos.empty());
  for (int64_t id : st.eos) EXPECT_TRUE(tok.is_special(int32_t(id))) << id;
  const auto eos_text = tok.token_to_id(st.eos_token);
  ASSERT_TRUE(eos_text.has_value()) << st.eos_token;
  EXPECT_NE(std::find(st.eos.begin(), st.eos.end(), *eos_text), st.eos.end());
  const ModelConfig c = load_model_config(dir.path());
  EXPECT_LE(tok.vocab_size(), c.vocab_size);
}

INSTANTIATE_TEST_SUITE_P(Families, MadeTiny,
                         ::testing::Values(FamilyCase{Family::kQwen3Moe, "qwen3-30b-a3b"},
                                           FamilyCase{Family::kOlmoe, "olmoe-1b-7b"},
                                           FamilyCase{Family::kGptOss, "gpt-oss-20b"},
                                           FamilyCase{Family::kPhimoe, "phi-3.5-moe"}),
                         [](const auto& info) {
                           return std::string(family_name(info.param.family));
                         });

// The golden fixtures (tests/golden/<case>) were written by tools/make_golden.py and loaded
// back by transformers, which checked every parameter against the files: made with the same
// config.json, a checkpoint has exactly their tensor names, dtypes and shapes.
class MatchesTransformersSaved : public ::testing::TestWithParam<std::string> {};

TEST_P(MatchesTransformersSaved, SameNamesDtypesAndShapes) {
  const std::filesystem::path golden =
      std::filesystem::path(MOE_SOURCE_DIR) / "tests/golden" / GetParam();
  const json cfg = json::parse(read_text_file(golden / "config.json"));
  MakeModelOptions o;
  o.family = parse_family(cfg["model_type"].get<std::string>());
  ASSERT_TRUE(o.family.has_value());
  o.threads = 2;
  o.dtype = cfg["torch_dtype"] == "float32" ? DType::F32 : DType::BF16;
  for (auto it = cfg.begin(); it != cfg.end(); ++it) o.set.emplace_back(it.key(), it->dump());
  TempDir dir;
  make_model(dir.path(), o);
  const Checkpoint made = Checkpoint::open(dir.path()), want = Checkpoint::open(golden);
  ASSERT_EQ(made.names(), want.names());
  for (const std::string& n : want.names()) {
    EXPECT_EQ(made.info(n).dtype, want.info(n).dtype) << n;
    EXPECT_EQ(made.info(n).shape, want.info(n).shape) << n;
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, MatchesTransformersSaved,
                         ::testing::Values("qwen3_moe_f32", "qwen3_moe_bf16", "olmoe_f32",
                                           "olmoe_bf16", "gpt_oss_f32", "gpt_oss_bf16",
                                           "phimoe_f32", "phimoe_bf16"));

TEST(MakeModel, StopTokensAreThePublishedOnes) {
  TempDir dir;
  make_model(dir.path(), tiny(Family::kGptOss));
  const SpecialTokens st = load_special_tokens(dir.path());
  const Tokenizer tok = Tokenizer::load(dir / "tokenizer.json");
  std::vector<std::string> names;
  for (int64_t id : st.eos) names.push_back(tok.id_to_token(int32_t(id)));
  EXPECT_EQ(names, (std::vector<std::string>{"<|return|>", "<|endoftext|>", "<|call|>"}));
  EXPECT_EQ(tok.id_to_token(int32_t(*st.bos)), "<|startoftext|>");
}

TEST(MakeModel, SameSeedSameBytesWhateverTheShardingAndThreads) {
  TempDir a, b, c;
  MakeModelOptions o = tiny(Family::kQwen3Moe);
  make_model(a.path(), o);
  o.shard_size = 100000;
  o.threads = 1;
  const MadeModel sharded = make_model(b.path(), o);
  EXPECT_GT(std::count_if(sharded.files.begin(), sharded.files.end(),
                          [](const std::string& f) { return f.rfind("model-", 0) == 0; }),
            2);
  const Checkpoint ca = Checkpoint::open(a.path()), cb = Checkpoint::open(b.path());
  EXPECT_TRUE(cb.sharded());
  ASSERT_EQ(ca.names(), cb.names());
  for (const auto& n : ca.names()) EXPECT_EQ(bytes_of(ca.get(n)), bytes_of(cb.get(n))) << n;

  o.shard_size = 0;
  o.seed = 1;
  make_model(c.path(), o);
  const Checkpoint cc = Checkpoint::open(c.path());
  EXPECT_NE(bytes_of(ca.get("model.embed_tokens.weight")),
            bytes_of(cc.get("model.embed_tokens.weight")));
}

// Mean and standard deviation of a tensor's values.
std::pair<double, double> moments(const Tensor& t) {
  const Tensor f = t.to_f32();
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < f.numel(); ++i) {
    s += f.data<float>()[i];
    s2 += double(f.data<float>()[i]) * f.data<float>()[i];
  }
  const double n = double(f.numel()), mean = s / n;
  return {mean, std::sqrt(s2 / n - mean * mean)};
}

TEST(MakeModel, WeightScalesAreTheStatedOnes) {
  TempDir dir;
  MakeModelOptions o = tiny(Family::kOlmoe);
  o.dtype = DType::F32;
  make_model(dir.path(), o);
  const Checkpoint ck = Checkpoint::open(dir.path());
  // 1024 x 64 samples: the sample std of normal(0, 0.02) is within 2% of 0.02 (> 10 sigma).
  auto [m, s] = moments(ck.get("model.embed_tokens.weight", DType::F32, {1024, 64}));
  EXPECT_NEAR(m, 0.0, 0.001);
  EXPECT_NEAR(s, 0.02, 0.0004);
  auto [nm, ns] = moments(ck.get("model.layers.1.input_layernorm.weight"));
  EXPECT_NEAR(nm, 1.0, 0.02);  // 64 samples of 1 + normal(0, 0.02)
  EXPECT_GT(ns, 0.005);
}

TEST(MakeModel, Mxfp4BlocksMatchTheirScalesAndDecodeToTheStatedScale) {
  TempDir dir;
  make_model(dir.path(), tiny(Family::kGptOss));
  const Checkpoint ck = Checkpoint::open(dir.path());
  const std::string p = "model.layers.0.mlp.experts.";
  const Tensor blocks = ck.get(p + "gate_up_proj_blocks", DType::U8, {4, 128, 2, 16});
  const Tensor scales = ck.get(p + "gate_up_proj_scales", DType::U8, {4, 128, 2});
  const uint8_t* bl = blocks.data<uint8_t>();
  const uint8_t* sc = scales.data<uint8_t>();
  double s2 = 0;
  for (int64_t blk = 0; blk < scales.numel(); ++blk) {
    // The scale is 2^(floor(log2 amax) - 2): amax / scale is in [4, 8), so the largest
    // magnitude code of every block decodes to 4 or 6 (saturating above 6).
    float amax = 0;
    for (int j = 0; j < 32; ++j) {
      const uint8_t byte = bl[blk * 16 + j / 2];
      const float v = fp4_e2m1_to_f32(j % 2 ? byte >> 4 : byte & 0xf);
      amax = std::max(amax, std::fabs(v));
      s2 += double(v * e8m0_to_f32(sc[blk])) * (v * e8m0_to_f32(sc[blk]));
    }
    ASSERT_TRUE(amax == 4.0f || amax == 6.0f) << "block " << blk << " amax code " << amax;
  }
  // Decoded weights keep roughly the normal(0, 0.02) scale (FP4 rounding moves it a little).
  EXPECT_NEAR(std::sqrt(s2 / double(blocks.numel() * 2)), 0.02, 0.003);
}

TEST(MakeModel, OverridesReachConfigAndShapes) {
  TempDir dir;
  MakeModelOptions o = tiny(Family::kGptOss);
  o.layers = 3;
  o.experts = 6;
  o.top_k = 3;
  o.hidden = 96;
  o.moe_intermediate = 32;
  o.vocab = 2000;
  o.set = {{"rope_theta", "50000"}, {"sliding_window", "4"}};
  make_model(dir.path(), o);
  const ModelConfig c = load_model_config(dir.path());
  EXPECT_EQ(c.num_layers, 3);
  EXPECT_EQ(c.num_experts, 6);
  EXPECT_EQ(c.top_k, 3);
  EXPECT_EQ(c.rope.theta, 50000.0);
  EXPECT_EQ(c.sliding_window, (std::vector<int>{4, 0, 4}));
  const Checkpoint ck = Checkpoint::open(dir.path());
  EXPECT_EQ(ck.info("model.layers.2.mlp.experts.down_proj_blocks").shape, (Shape{6, 96, 1, 16}));
  EXPECT_EQ(ck.info("model.embed_tokens.weight").shape, (Shape{2000, 96}));
  const json cfg = json::parse(read_text_file(dir / "config.json"));
  EXPECT_EQ(cfg["experts_per_token"], 3);
  EXPECT_EQ(cfg["layer_types"].size(), 3u);
}

TEST(MakeModel, PhimoeLongRopeFollowsTheHeadDim) {
  MakeModelOptions o = tiny(Family::kPhimoe);
  o.hidden = 96;
  o.heads = 4;  // head_dim 24 -> 12 factors
  o.kv_heads = 2;
  const json cfg = json::parse(make_model_config(o));
  EXPECT_EQ(cfg["rope_scaling"]["short_factor"].size(), 12u);
  EXPECT_EQ(cfg["rope_scaling"]["long_factor"].size(), 12u);
}

TEST(MakeModel, RefusesToOverwriteUnlessAsked) {
  TempDir dir;
  make_model(dir.path(), tiny(Family::kOlmoe));
  expect_input_error([&] { make_model(dir.path(), tiny(Family::kOlmoe)); },
                     {dir.path().string(), "found a checkpoint", "--force"});
  MakeModelOptions o = tiny(Family::kOlmoe);
  o.overwrite = true;
  o.shard_size = 50000;  // switching to shards removes the old model.safetensors
  make_model(dir.path(), o);
  EXPECT_FALSE(std::filesystem::exists(dir / "model.safetensors"));
  EXPECT_TRUE(Checkpoint::open(dir.path()).sharded());
}

TEST(MakeModel, BadOptionsAreInputErrors) {
  MakeModelOptions o;
  expect_input_error([&] { make_model_config(o); }, {"--family", "qwen3_moe"});
  o.preset = "llama-70b";
  expect_input_error([&] { make_model_config(o); }, {"--preset", "gpt-oss-20b", "\"llama-70b\""});
  o.preset = "olmoe-1b-7b";
  o.family = Family::kQwen3Moe;
  expect_input_error([&] { make_model_config(o); }, {"--family olmoe", "--family qwen3_moe"});
  o = tiny(Family::kQwen3Moe);
  o.kv_heads = 3;
  expect_input_error([&] { make_model_config(o); },
                     {"make-model config.json", "num_key_value_heads", "found 3"});
  o = tiny(Family::kQwen3Moe);
  o.vocab = 100;
  expect_input_error([&] { make_model_config(o); }, {"vocab_size", "found 100"});
  o = tiny(Family::kOlmoe);
  o.set = {{"rope_scaling", R"({"type": "dynamic", "factor": 2})"}};
  expect_input_error([&] { make_model_config(o); }, {"rope_scaling.type", "\"dynamic\""});
}

TEST(MakeModel, DryRunSizesThePublishedPresets) {
  // Parameter totals of the published shapes (runtime/models/README.md section 6), without
  // writing anything.
  const std::pair<const char*, double> presets[] = {
      {"qwen3-30b-a3b", 30.5}, {"olmoe-1b-7b", 6.9}, {"gpt-oss-20b", 20.9}, {"phi-3.5-moe", 41.9}};
  TempDir dir;
  for (const auto& [preset, billions] : presets) {
    MakeModelOptions o;
    o.preset = preset;
    const MadeModel m = make_model(dir / "never-written", o, /*dry_run=*/true);
    EXPECT_NEAR(double(m.params.total) / 1e9, billions, 0.06) << preset;
    EXPECT_GT(m.tensor_bytes, uint64_t(1e10)) << preset;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "never-written"));
}

}  // namespace
}  // namespace moe::io
