// Checkpoint layouts: tensor names and shapes per family (runtime/models/README.md sections 1-4),
// and parameter counts of the published shapes against the published totals (section 6 there).
#include "runtime/io/layout.h"

#include <map>

#include "runtime/io/model_config.h"
#include "tests/unit/io/io_test_util.h"

namespace moe::io {
namespace {

const std::string kConfigs = std::string(MOE_SOURCE_DIR) + "/tests/data/configs/";

std::map<std::string, TensorSpec> by_name(const std::vector<TensorSpec>& v) {
  std::map<std::string, TensorSpec> m;
  for (const auto& t : v) EXPECT_TRUE(m.emplace(t.name, t).second) << "duplicate " << t.name;
  return m;
}

void expect_tensor(const std::map<std::string, TensorSpec>& m, const std::string& name, DType dt,
                   const Shape& shape) {
  auto it = m.find(name);
  ASSERT_NE(it, m.end()) << name;
  EXPECT_EQ(it->second.dtype, dt) << name;
  EXPECT_EQ(it->second.shape, shape) << name;
}

TEST(Layout, Qwen3MoePublishedNamesAndShapes) {
  const ModelConfig c = load_model_config(kConfigs + "qwen3-30b-a3b");
  const auto m = by_name(checkpoint_layout(c));
  // 3 + 48 * (4 norms + 4 projections + router + 128 * 3 experts)
  EXPECT_EQ(m.size(), 3u + 48u * (4 + 4 + 1 + 128 * 3));
  const DType b = DType::BF16;
  expect_tensor(m, "model.embed_tokens.weight", b, {151936, 2048});
  expect_tensor(m, "model.layers.0.self_attn.q_proj.weight", b, {4096, 2048});
  expect_tensor(m, "model.layers.0.self_attn.k_proj.weight", b, {512, 2048});
  expect_tensor(m, "model.layers.0.self_attn.o_proj.weight", b, {2048, 4096});
  expect_tensor(m, "model.layers.47.self_attn.q_norm.weight", b, {128});
  expect_tensor(m, "model.layers.47.self_attn.k_norm.weight", b, {128});
  expect_tensor(m, "model.layers.3.mlp.gate.weight", b, {128, 2048});
  expect_tensor(m, "model.layers.3.mlp.experts.127.gate_proj.weight", b, {768, 2048});
  expect_tensor(m, "model.layers.3.mlp.experts.0.down_proj.weight", b, {2048, 768});
  expect_tensor(m, "lm_head.weight", b, {151936, 2048});
  EXPECT_EQ(m.count("model.layers.0.self_attn.q_proj.bias"), 0u);
}

TEST(Layout, OlmoeWholeVectorQkNorm) {
  const auto m = by_name(checkpoint_layout(load_model_config(kConfigs + "olmoe-1b-7b")));
  expect_tensor(m, "model.layers.0.self_attn.q_norm.weight", DType::BF16, {2048});
  expect_tensor(m, "model.layers.0.self_attn.k_norm.weight", DType::BF16, {2048});
  expect_tensor(m, "model.layers.15.mlp.experts.63.up_proj.weight", DType::BF16, {1024, 2048});
}

TEST(Layout, GptOssMxfp4ExpertsSinksAndBiases) {
  const auto m = by_name(checkpoint_layout(load_model_config(kConfigs + "gpt-oss-20b")));
  const DType b = DType::BF16;
  expect_tensor(m, "model.layers.0.self_attn.sinks", b, {64});
  expect_tensor(m, "model.layers.0.self_attn.q_proj.bias", b, {4096});
  expect_tensor(m, "model.layers.0.self_attn.o_proj.bias", b, {2880});
  expect_tensor(m, "model.layers.0.mlp.router.weight", b, {32, 2880});
  expect_tensor(m, "model.layers.0.mlp.router.bias", b, {32});
  expect_tensor(m, "model.layers.0.mlp.experts.gate_up_proj_blocks", DType::U8,
                {32, 5760, 90, 16});
  expect_tensor(m, "model.layers.0.mlp.experts.gate_up_proj_scales", DType::U8, {32, 5760, 90});
  expect_tensor(m, "model.layers.0.mlp.experts.gate_up_proj_bias", b, {32, 5760});
  expect_tensor(m, "model.layers.0.mlp.experts.down_proj_blocks", DType::U8, {32, 2880, 90, 16});
  expect_tensor(m, "model.layers.0.mlp.experts.down_proj_scales", DType::U8, {32, 2880, 90});
  expect_tensor(m, "model.layers.0.mlp.experts.down_proj_bias", b, {32, 2880});
}

TEST(Layout, PhimoeLayerNormBiasesAndLmHeadBias) {
  const auto m = by_name(checkpoint_layout(load_model_config(kConfigs + "phi-3.5-moe")));
  const DType b = DType::BF16;
  expect_tensor(m, "model.layers.0.input_layernorm.bias", b, {4096});
  expect_tensor(m, "model.layers.0.post_attention_layernorm.bias", b, {4096});
  expect_tensor(m, "model.layers.0.block_sparse_moe.gate.weight", b, {16, 4096});
  expect_tensor(m, "model.layers.0.block_sparse_moe.experts.15.w1.weight", b, {6400, 4096});
  expect_tensor(m, "model.layers.0.block_sparse_moe.experts.15.w2.weight", b, {4096, 6400});
  expect_tensor(m, "model.layers.0.block_sparse_moe.experts.15.w3.weight", b, {6400, 4096});
  expect_tensor(m, "model.norm.bias", b, {4096});
  expect_tensor(m, "lm_head.bias", b, {32064});
}

TEST(Layout, FloatDtypeChoiceLeavesMxfp4Bytes) {
  const auto m =
      by_name(checkpoint_layout(load_model_config(kConfigs + "gpt-oss-20b"), DType::F32));
  EXPECT_EQ(m.at("model.norm.weight").dtype, DType::F32);
  EXPECT_EQ(m.at("model.layers.1.mlp.experts.down_proj_blocks").dtype, DType::U8);
}

// runtime/models/README.md section 6: total / active parameters as published, to 0.1 B (Qwen's
// "3.3 B" is 3.35 B cut to one decimal, hence the 0.06 B tolerance). Active is non-expert +
// top_k/E of the experts; gpt-oss's published 3.6 B leaves out the input embedding.
struct Size {
  std::string dir;
  double total_b, active_b;
  bool active_without_embedding;
};
class PublishedSize : public ::testing::TestWithParam<Size> {};

TEST_P(PublishedSize, ParameterCountsMatchThePublishedTotals) {
  const Size& s = GetParam();
  const ModelConfig c = load_model_config(kConfigs + s.dir);
  const ParamCounts p = count_params(checkpoint_layout(c));
  EXPECT_NEAR(double(p.total) / 1e9, s.total_b, 0.06) << s.dir;
  double active = p.active(c.top_k, c.num_experts);
  if (s.active_without_embedding) active -= double(p.embedding);
  EXPECT_NEAR(active / 1e9, s.active_b, 0.06) << s.dir;
}

INSTANTIATE_TEST_SUITE_P(Families, PublishedSize,
                         ::testing::Values(Size{"qwen3-30b-a3b", 30.5, 3.3, false},
                                           Size{"olmoe-1b-7b", 6.9, 1.3, false},
                                           Size{"gpt-oss-20b", 20.9, 3.6, true},
                                           Size{"phi-3.5-moe", 41.9, 6.6, false}));

TEST(Layout, Mxfp4ParamsCountTwoPerByteAndScalesNone) {
  EXPECT_EQ(tensor_params(TensorRole::kExpertBlocks, {2, 4, 1, 16}), 2u * 4 * 32);
  EXPECT_EQ(tensor_params(TensorRole::kExpertScales, {2, 4, 1}), 0u);
  EXPECT_EQ(tensor_params(TensorRole::kLinear, {3, 5}), 15u);
}

}  // namespace
}  // namespace moe::io
