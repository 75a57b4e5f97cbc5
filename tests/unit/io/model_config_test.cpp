// config.json parsing for the four families against what transformers makes of the same files
// (tests/data/configs/<model>/expected.json, from tools/make_config_fixtures.py), both config
// spellings (transformers 4 as published, transformers 5 as re-saved), special tokens, and every
// validation error.
#include "runtime/io/model_config.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

#include "runtime/io/files.h"
#include "tests/unit/io/io_test_util.h"

namespace moe::io {
namespace {

using nlohmann::json;
using testing::expect_input_error;
using testing::TempDir;

const std::string kConfigs = std::string(MOE_SOURCE_DIR) + "/tests/data/configs/";

json read_json(const std::string& path) { return json::parse(read_text_file(path)); }

ModelConfig parse(const json& j, const std::string& label = "x/config.json") {
  return parse_model_config(j.dump(), label);
}

struct Published {
  std::string dir;
  Family family;
  std::string architecture;
  RoutingKind routing;
};

class PublishedConfig : public ::testing::TestWithParam<Published> {};

TEST_P(PublishedConfig, MatchesWhatTransformersDerives) {
  const Published& p = GetParam();
  const ModelConfig c = load_model_config(kConfigs + p.dir);
  const json e = read_json(kConfigs + p.dir + "/expected.json");
  EXPECT_EQ(c.family, p.family);
  EXPECT_EQ(family_name(c.family), e["model_type"].get<std::string>());
  EXPECT_EQ(c.architecture, p.architecture);
  EXPECT_EQ(c.routing, p.routing);
  EXPECT_EQ(c.num_layers, e["num_hidden_layers"].get<int>());
  EXPECT_EQ(c.hidden_size, e["hidden_size"].get<int>());
  EXPECT_EQ(c.num_heads, e["num_attention_heads"].get<int>());
  EXPECT_EQ(c.num_kv_heads, e["num_key_value_heads"].get<int>());
  EXPECT_EQ(c.head_dim, e["head_dim"].get<int>());
  EXPECT_EQ(c.vocab_size, e["vocab_size"].get<int64_t>());
  EXPECT_EQ(c.num_experts, e["num_experts"].get<int>());
  EXPECT_EQ(c.top_k, e["num_experts_per_tok"].get<int>());
  EXPECT_EQ(c.moe_layer, e["moe_layer"].get<std::vector<bool>>());
  EXPECT_EQ(c.sliding_window, e["sliding_window"].get<std::vector<int>>());
  EXPECT_DOUBLE_EQ(c.norm_eps, e["rms_norm_eps"].get<double>());
  EXPECT_EQ(c.max_position_embeddings, e["max_position_embeddings"].get<int64_t>());
  EXPECT_EQ(c.attention_bias, e["attention_bias"].get<bool>());
  EXPECT_EQ(c.tie_word_embeddings, e["tie_word_embeddings"].get<bool>());
  EXPECT_EQ(c.norm_topk_prob, e["norm_topk_prob"].get<bool>());
  EXPECT_EQ(rope_kind_name(c.rope.kind), e["rope_type"].get<std::string>());
  EXPECT_DOUBLE_EQ(c.rope.theta, e["rope_theta"].get<double>());
  const json& rp = e["rope_parameters"];
  if (c.rope.kind == RopeConfig::Kind::kYarn) {
    EXPECT_DOUBLE_EQ(c.rope.factor, rp["factor"].get<double>());
    EXPECT_DOUBLE_EQ(c.rope.beta_fast, rp["beta_fast"].get<double>());
    EXPECT_DOUBLE_EQ(c.rope.beta_slow, rp["beta_slow"].get<double>());
    EXPECT_EQ(c.rope.truncate, rp.value("truncate", true));
    EXPECT_EQ(c.rope.original_max_position_embeddings,
              rp["original_max_position_embeddings"].get<int64_t>());
    // transformers' _compute_yarn_parameters attention scaling; same formula in double.
    EXPECT_NEAR(c.rope.attention_factor, e["rope_attention_scaling"].get<double>(), 1e-12);
  }
  if (c.rope.kind == RopeConfig::Kind::kLongRope) {
    EXPECT_EQ(c.rope.short_factor, rp["short_factor"].get<std::vector<double>>());
    EXPECT_EQ(c.rope.long_factor, rp["long_factor"].get<std::vector<double>>());
    EXPECT_DOUBLE_EQ(c.rope.short_mscale, rp["short_mscale"].get<double>());
    EXPECT_DOUBLE_EQ(c.rope.long_mscale, rp["long_mscale"].get<double>());
    EXPECT_EQ(c.rope.original_max_position_embeddings,
              rp["original_max_position_embeddings"].get<int64_t>());
  }
  EXPECT_EQ(c.torch_dtype, DType::BF16);
}

void expect_same(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.family, b.family);
  EXPECT_EQ(a.num_layers, b.num_layers);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.num_heads, b.num_heads);
  EXPECT_EQ(a.num_kv_heads, b.num_kv_heads);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.num_experts, b.num_experts);
  EXPECT_EQ(a.top_k, b.top_k);
  EXPECT_EQ(a.moe_intermediate_size, b.moe_intermediate_size);
  EXPECT_EQ(a.dense_intermediate_size, b.dense_intermediate_size);
  EXPECT_EQ(a.moe_layer, b.moe_layer);
  EXPECT_EQ(a.sliding_window, b.sliding_window);
  EXPECT_EQ(a.routing, b.routing);
  EXPECT_EQ(a.norm_topk_prob, b.norm_topk_prob);
  EXPECT_EQ(a.norm, b.norm);
  EXPECT_EQ(a.norm_eps, b.norm_eps);
  EXPECT_EQ(a.qk_norm, b.qk_norm);
  EXPECT_EQ(a.qk_norm_per_head, b.qk_norm_per_head);
  EXPECT_EQ(a.clip_qkv, b.clip_qkv);
  EXPECT_EQ(a.attention_bias, b.attention_bias);
  EXPECT_EQ(a.attention_sinks, b.attention_sinks);
  EXPECT_EQ(a.router_bias, b.router_bias);
  EXPECT_EQ(a.expert_bias, b.expert_bias);
  EXPECT_EQ(a.lm_head_bias, b.lm_head_bias);
  EXPECT_EQ(a.tie_word_embeddings, b.tie_word_embeddings);
  EXPECT_EQ(a.swiglu_limit, b.swiglu_limit);
  EXPECT_EQ(a.swiglu_alpha, b.swiglu_alpha);
  EXPECT_EQ(a.quantization, b.quantization);
  EXPECT_EQ(a.router_jitter_noise, b.router_jitter_noise);
  EXPECT_EQ(a.max_position_embeddings, b.max_position_embeddings);
  EXPECT_EQ(a.torch_dtype, b.torch_dtype);
  EXPECT_EQ(a.rope.kind, b.rope.kind);
  EXPECT_EQ(a.rope.theta, b.rope.theta);
  EXPECT_EQ(a.rope.factor, b.rope.factor);
  EXPECT_EQ(a.rope.beta_fast, b.rope.beta_fast);
  EXPECT_EQ(a.rope.beta_slow, b.rope.beta_slow);
  EXPECT_EQ(a.rope.truncate, b.rope.truncate);
  EXPECT_EQ(a.rope.attention_factor, b.rope.attention_factor);
  EXPECT_EQ(a.rope.original_max_position_embeddings, b.rope.original_max_position_embeddings);
  EXPECT_EQ(a.rope.short_factor, b.rope.short_factor);
  EXPECT_EQ(a.rope.long_factor, b.rope.long_factor);
  EXPECT_EQ(a.rope.short_mscale, b.rope.short_mscale);
  EXPECT_EQ(a.rope.long_mscale, b.rope.long_mscale);
}

TEST_P(PublishedConfig, TransformersFiveSpellingParsesTheSame) {
  const Published& p = GetParam();
  expect_same(load_model_config(kConfigs + p.dir), load_model_config(kConfigs + p.dir + "-tf5"));
}

INSTANTIATE_TEST_SUITE_P(
    Families, PublishedConfig,
    ::testing::Values(
        Published{"qwen3-30b-a3b", Family::kQwen3Moe, "Qwen3MoeForCausalLM",
                  RoutingKind::kSoftmaxTopK},
        Published{"olmoe-1b-7b", Family::kOlmoe, "OlmoeForCausalLM", RoutingKind::kSoftmaxTopK},
        Published{"gpt-oss-20b", Family::kGptOss, "GptOssForCausalLM", RoutingKind::kTopKSoftmax},
        Published{"phi-3.5-moe", Family::kPhimoe, "PhiMoEForCausalLM",
                  RoutingKind::kSparseMixer}),
    [](const auto& info) {
      std::string n = info.param.dir;
      for (char& ch : n)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return n;
    });

TEST(ModelConfigFamilies, FamilySpecificFields) {
  const ModelConfig q = load_model_config(kConfigs + "qwen3-30b-a3b");
  EXPECT_TRUE(q.qk_norm && q.qk_norm_per_head);
  EXPECT_EQ(q.moe_intermediate_size, 768);
  EXPECT_EQ(q.norm, NormKind::kRms);
  EXPECT_EQ(q.num_moe_layers(), 48);

  const ModelConfig o = load_model_config(kConfigs + "olmoe-1b-7b");
  EXPECT_TRUE(o.qk_norm);
  EXPECT_FALSE(o.qk_norm_per_head);
  EXPECT_FALSE(o.norm_topk_prob);
  EXPECT_FALSE(o.clip_qkv.has_value());
  EXPECT_EQ(o.head_dim, 128);  // hidden / heads: no head_dim key

  const ModelConfig g = load_model_config(kConfigs + "gpt-oss-20b");
  EXPECT_TRUE(g.attention_sinks && g.router_bias && g.expert_bias && g.attention_bias);
  EXPECT_EQ(g.quantization, "mxfp4");
  EXPECT_DOUBLE_EQ(g.swiglu_limit, 7.0);
  EXPECT_DOUBLE_EQ(g.swiglu_alpha, 1.702);
  EXPECT_FALSE(g.rope.truncate);
  EXPECT_EQ(g.moe_intermediate_size, 2880);

  const ModelConfig ph = load_model_config(kConfigs + "phi-3.5-moe");
  EXPECT_EQ(ph.norm, NormKind::kLayerNorm);
  EXPECT_TRUE(ph.lm_head_bias);
  EXPECT_DOUBLE_EQ(ph.router_jitter_noise, 0.01);
  EXPECT_EQ(ph.rope.short_factor.size(), 64u);
  EXPECT_DOUBLE_EQ(ph.rope.short_mscale, 1.243163121016122);
}

// ---- derived fields, hand-computed -----------------------------------------------------------

json qwen3() { return read_json(kConfigs + "qwen3-30b-a3b/config.json"); }
json olmoe() { return read_json(kConfigs + "olmoe-1b-7b/config.json"); }
json gpt_oss() { return read_json(kConfigs + "gpt-oss-20b/config.json"); }
json phimoe() { return read_json(kConfigs + "phi-3.5-moe/config.json"); }

TEST(ModelConfigDerived, Qwen3SparseStepAndMlpOnlyLayers) {
  json j = qwen3();
  j["num_hidden_layers"] = 6;
  j["decoder_sparse_step"] = 2;
  j["mlp_only_layers"] = {3};
  const ModelConfig c = parse(j);
  // MoE iff not in mlp_only_layers and (i + 1) % 2 == 0: layers 1 and 5 (3 is excluded).
  EXPECT_EQ(c.moe_layer, (std::vector<bool>{false, true, false, false, false, true}));
  EXPECT_EQ(c.num_moe_layers(), 2);
  EXPECT_EQ(c.dense_intermediate_size, 6144);
}

TEST(ModelConfigDerived, Qwen3SlidingWindowOnlyWithUseSlidingWindow) {
  json j = qwen3();
  j["num_hidden_layers"] = 2;
  j["sliding_window"] = 512;
  EXPECT_EQ(parse(j).sliding_window, (std::vector<int>{0, 0}));
  j["use_sliding_window"] = true;
  EXPECT_EQ(parse(j).sliding_window, (std::vector<int>{512, 512}));
}

TEST(ModelConfigDerived, HeadDimDefaultsToHiddenOverHeads) {
  json j = qwen3();
  j.erase("head_dim");
  EXPECT_EQ(parse(j).head_dim, 2048 / 32);
}

TEST(ModelConfigDerived, GptOssDefaultsWithoutRopeScalingOrLayerTypes) {
  json j = gpt_oss();
  j.erase("rope_scaling");
  j.erase("layer_types");
  j["num_hidden_layers"] = 3;
  const ModelConfig c = parse(j);
  EXPECT_EQ(c.rope.kind, RopeConfig::Kind::kYarn);
  EXPECT_DOUBLE_EQ(c.rope.factor, 32.0);
  EXPECT_DOUBLE_EQ(c.rope.attention_factor, 0.1 * std::log(32.0) + 1.0);
  EXPECT_EQ(c.rope.original_max_position_embeddings, 4096);
  EXPECT_EQ(c.sliding_window, (std::vector<int>{128, 0, 128}));
}

TEST(ModelConfigDerived, GptOssExplicitNullSlidingWindowDisablesIt) {
  json j = gpt_oss();
  j["sliding_window"] = nullptr;
  EXPECT_EQ(parse(j).sliding_window[0], 0);
}

TEST(ModelConfigDerived, YarnMscaleAndExplicitAttentionFactor) {
  json j = gpt_oss();
  j["rope_scaling"]["mscale"] = 0.707;
  j["rope_scaling"]["mscale_all_dim"] = 1.0;
  const double f = 32.0;
  EXPECT_NEAR(parse(j).rope.attention_factor,
              (0.1 * 0.707 * std::log(f) + 1.0) / (0.1 * std::log(f) + 1.0), 1e-15);
  j["rope_scaling"]["attention_factor"] = 1.5;
  EXPECT_DOUBLE_EQ(parse(j).rope.attention_factor, 1.5);
}

TEST(ModelConfigDerived, DtypeSpellings) {
  json j = olmoe();
  j.erase("torch_dtype");
  j["dtype"] = "float32";
  EXPECT_EQ(parse(j).torch_dtype, DType::F32);
  j["dtype"] = "float16";
  EXPECT_EQ(parse(j).torch_dtype, DType::F16);
}

TEST(ModelConfigDerived, ArchitectureAloneIdentifiesTheFamily) {
  json j = phimoe();
  j.erase("model_type");
  EXPECT_EQ(parse(j).family, Family::kPhimoe);
  j["architectures"] = {"PhimoeForCausalLM"};
  EXPECT_EQ(parse(j).family, Family::kPhimoe);
}

TEST(ModelConfigDerived, OlmoeClipQkv) {
  json j = olmoe();
  j["clip_qkv"] = 8.0;
  EXPECT_EQ(parse(j).clip_qkv, 8.0);
}

// ---- validation ------------------------------------------------------------------------------

void expect_error(const json& j, const std::vector<std::string>& parts) {
  std::vector<std::string> all{"x/config.json"};
  all.insert(all.end(), parts.begin(), parts.end());
  expect_input_error([&] { parse(j); }, all);
}

TEST(ModelConfigValidation, MissingRequiredField) {
  for (const char* key : {"hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size",
                          "num_experts_per_tok", "moe_intermediate_size"}) {
    json j = qwen3();
    j.erase(key);
    expect_error(j, {std::string("key '") + key + "'", "the key is missing"});
  }
  json j = olmoe();
  j.erase("num_experts");
  expect_error(j, {"key 'num_experts'", "num_local_experts", "found neither"});
  j = phimoe();
  j.erase("intermediate_size");
  expect_error(j, {"key 'intermediate_size'", "missing"});
}

TEST(ModelConfigValidation, MistypedField) {
  json j = qwen3();
  j["hidden_size"] = "2048";
  expect_error(j, {"key 'hidden_size'", "expected an integer", "found \"2048\" (string)"});
  j = qwen3();
  j["norm_topk_prob"] = "yes";
  expect_error(j, {"key 'norm_topk_prob'", "true or false", "\"yes\""});
  j = qwen3();
  j["rms_norm_eps"] = json::array();
  expect_error(j, {"key 'rms_norm_eps'", "a number", "an array"});
  j = qwen3();
  j["mlp_only_layers"] = {0, "1"};
  expect_error(j, {"key 'mlp_only_layers[1]'", "an integer"});
  j = qwen3();
  j["hidden_size"] = 0;
  expect_error(j, {"key 'hidden_size'", "in [1, ", "found 0"});
}

TEST(ModelConfigValidation, HeadsNotDivisibleByKvHeads) {
  json j = qwen3();
  j["num_key_value_heads"] = 5;
  expect_error(j, {"key 'num_key_value_heads'", "divisor of num_attention_heads (32)", "found 5"});
}

TEST(ModelConfigValidation, TopKAboveExperts) {
  json j = olmoe();
  j["num_experts_per_tok"] = 65;
  expect_error(j, {"key 'num_experts_per_tok'", "at most the number of experts (64)", "found 65"});
}

TEST(ModelConfigValidation, ExpertCountSpellingsDisagree) {
  json j = qwen3();
  j["num_local_experts"] = 64;
  expect_error(j, {"key 'num_local_experts'", "same value as num_experts (128)", "found 64"});
}

TEST(ModelConfigValidation, LayerTypesLengthAndValues) {
  json j = gpt_oss();
  j["layer_types"].erase(0);
  expect_error(j, {"key 'layer_types'", "expected 24 entries", "found 23"});
  j = gpt_oss();
  j["layer_types"][3] = "chunked_attention";
  expect_error(j, {"key 'layer_types[3]'", "sliding_attention", "\"chunked_attention\""});
}

TEST(ModelConfigValidation, LongRopeFactorLengths) {
  json j = phimoe();
  j["rope_scaling"]["short_factor"].erase(0);
  expect_error(j, {"key 'rope_scaling.short_factor'", "head_dim/2 = 64", "found 63"});
  j = phimoe();
  j["rope_scaling"].erase("long_factor");
  expect_error(j, {"key 'rope_scaling.long_factor'", "64 numbers"});
  j = phimoe();
  j["rope_scaling"].erase("short_mscale");
  expect_error(j, {"key 'rope_scaling.short_mscale'", "a number"});
}

TEST(ModelConfigValidation, UnsupportedRopeType) {
  json j = qwen3();
  j["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}};
  expect_error(j, {"key 'rope_scaling.type'", "\"default\", \"yarn\", \"longrope\"",
                   "\"dynamic\""});
  j = gpt_oss();
  j["rope_scaling"].erase("factor");
  expect_error(j, {"key 'rope_scaling.factor'", "missing"});
}

TEST(ModelConfigValidation, UnknownModelTypeListsTheSupportedOnes) {
  json j = qwen3();
  j["model_type"] = "mixtral";
  expect_error(j, {"key 'model_type'", "qwen3_moe", "olmoe", "gpt_oss", "phimoe", "\"mixtral\""});
}

TEST(ModelConfigValidation, UnknownArchitectureListsTheSupportedOnes) {
  json j = qwen3();
  j.erase("model_type");
  j["architectures"] = {"MixtralForCausalLM"};
  expect_error(j, {"key 'architectures[0]'", "Qwen3MoeForCausalLM", "GptOssForCausalLM",
                   "\"MixtralForCausalLM\""});
  j = qwen3();
  j["architectures"] = {"OlmoeForCausalLM"};
  expect_error(j, {"architectures[0]", "model_type qwen3_moe", "\"OlmoeForCausalLM\""});
  j = qwen3();
  j.erase("model_type");
  j.erase("architectures");
  expect_error(j, {"neither model_type nor architectures"});
}

TEST(ModelConfigValidation, QwenLayerIndicesAndSparseStep) {
  json j = qwen3();
  j["mlp_only_layers"] = {48};
  expect_error(j, {"key 'mlp_only_layers[0]'", "[0, 48)", "found 48"});
  j = qwen3();
  j["decoder_sparse_step"] = 0;
  expect_error(j, {"key 'decoder_sparse_step'", "found 0"});
}

TEST(ModelConfigValidation, FamilyConstraints) {
  json j = phimoe();
  j["num_experts_per_tok"] = 3;
  expect_error(j, {"key 'num_experts_per_tok'", "expected 2", "sparsemixer", "found 3"});
  j = gpt_oss();
  j["quantization_config"]["quant_method"] = "gptq";
  expect_error(j, {"key 'quantization_config.quant_method'", "mxfp4", "\"gptq\""});
  j = gpt_oss();
  j["intermediate_size"] = 100;
  expect_error(j, {"key 'intermediate_size'", "multiple of 32", "found 100"});
  j = olmoe();
  j["head_dim"] = 64;
  expect_error(j, {"key 'head_dim'", "hidden_size (2048)", "16 x 64"});
  j = qwen3();
  j["head_dim"] = 127;
  expect_error(j, {"key 'head_dim'", "even head_dim", "127"});
  j = qwen3();
  j["hidden_act"] = "gelu";
  expect_error(j, {"key 'hidden_act'", "silu", "\"gelu\""});
  j = olmoe();
  j["torch_dtype"] = "int8";
  expect_error(j, {"key 'torch_dtype'", "bfloat16", "\"int8\""});
  j = olmoe();
  j["clip_qkv"] = -1;
  expect_error(j, {"key 'clip_qkv'", "positive"});
}

TEST(ModelConfigValidation, AbsurdSizesAreRejectedBeforeAllocating) {
  json j = qwen3();
  j["num_hidden_layers"] = 1000000000;
  expect_error(j, {"key 'num_hidden_layers'", "in [1, 4096]", "found 1000000000"});
}

TEST(ModelConfigValidation, NotJsonOrNotAnObject) {
  expect_input_error([] { parse_model_config("{\"a\": 1,}", "x/config.json"); },
                     {"x/config.json: byte 8", "expected valid JSON"});
  expect_input_error([] { parse_model_config("{\"rope_theta\": 1e999}", "x/config.json"); },
                     {"x/config.json", "expected valid JSON", "number overflow parsing '1e999'"});
  expect_input_error([] { parse_model_config("[1]", "x/config.json"); },
                     {"x/config.json", "expected a JSON object", "an array"});
}

TEST(ModelConfigValidation, MissingFileNamesIt) {
  TempDir dir;
  expect_input_error([&] { load_model_config(dir.path()); },
                     {(dir / "config.json").string(), "no such file"});
}

// ---- special tokens --------------------------------------------------------------------------

TEST(SpecialTokens, PublishedFilesOfEachFamily) {
  const SpecialTokens q = load_special_tokens(kConfigs + "qwen3-30b-a3b");
  EXPECT_EQ(q.bos, 151643);
  EXPECT_EQ(q.eos, (std::vector<int64_t>{151645, 151643}));
  EXPECT_EQ(q.pad, 151643);
  EXPECT_FALSE(q.add_bos);
  EXPECT_EQ(q.eos_token, "<|im_end|>");
  EXPECT_EQ(q.bos_token, "");

  const SpecialTokens o = load_special_tokens(kConfigs + "olmoe-1b-7b");
  EXPECT_EQ(o.eos, (std::vector<int64_t>{50279}));
  EXPECT_EQ(o.pad, 1);
  EXPECT_EQ(o.bos, 50279);  // no bos id anywhere: tokenizer_config's bos_token resolved
  EXPECT_EQ(o.pad_token, "<|padding|>");

  const SpecialTokens g = load_special_tokens(kConfigs + "gpt-oss-20b");
  EXPECT_EQ(g.bos, 199998);
  EXPECT_EQ(g.eos, (std::vector<int64_t>{200002, 199999, 200012}));
  EXPECT_EQ(g.pad, 199999);

  const SpecialTokens p = load_special_tokens(kConfigs + "phi-3.5-moe");
  EXPECT_EQ(p.bos, 1);
  EXPECT_EQ(p.eos, (std::vector<int64_t>{32007, 32001, 32000}));
  EXPECT_EQ(p.pad, 32000);
  EXPECT_EQ(p.bos_token, "<s>");
}

TEST(SpecialTokens, StringsResolvedThroughTokenizerJsonWhenIdsAreAbsent) {
  TempDir dir;
  write_text_file(dir / "config.json", R"({"model_type": "olmoe"})");
  write_text_file(dir / "tokenizer_config.json",
                  R"({"bos_token": {"content": "<s>", "__type": "AddedToken"}, "eos_token": "</s>",
                      "pad_token": "<pad>"})");
  write_text_file(dir / "tokenizer.json",
                  R"({"added_tokens": [{"id": 5, "content": "</s>"}], "model": {"vocab":
                      {"<s>": 4, "<pad>": 9}},
                      "post_processor": {"type": "TemplateProcessing", "single":
                      [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}]}})");
  const SpecialTokens st = load_special_tokens(dir.path());
  EXPECT_EQ(st.bos, 4);
  EXPECT_EQ(st.eos, (std::vector<int64_t>{5}));
  EXPECT_EQ(st.pad, 9);
  EXPECT_TRUE(st.add_bos);  // from the post_processor

  // transformers 5 ignores tokenizer_config's add_bos_token when a tokenizer.json exists.
  write_text_file(dir / "tokenizer_config.json", R"({"add_bos_token": false, "eos_token": "</s>"})");
  EXPECT_TRUE(load_special_tokens(dir.path()).add_bos);
  std::filesystem::remove(dir / "tokenizer.json");
  write_text_file(dir / "tokenizer_config.json", R"({"add_bos_token": true})");
  EXPECT_TRUE(load_special_tokens(dir.path()).add_bos);
  write_text_file(dir / "tokenizer_config.json", R"({"add_bos_token": false})");
  EXPECT_FALSE(load_special_tokens(dir.path()).add_bos);
}

TEST(SpecialTokens, UnresolvableTokenIsAnError) {
  TempDir dir;
  write_text_file(dir / "config.json", R"({"model_type": "olmoe"})");
  write_text_file(dir / "tokenizer_config.json", R"({"eos_token": "<eos>"})");
  expect_input_error([&] { load_special_tokens(dir.path()); },
                     {"tokenizer_config.json: key 'eos_token'", "\"<eos>\""});
  write_text_file(dir / "generation_config.json", R"({"eos_token_id": "2"})");
  expect_input_error([&] { load_special_tokens(dir.path()); },
                     {"generation_config.json: key 'eos_token_id'", "an integer or a list"});
}

}  // namespace
}  // namespace moe::io
