// Checkpoints written by io::make_model load in the runtime for every family and dtype: the
// logits of a prompt have the [T, V] shape, are finite and vary; the reference and the fast CPU
// backend (independent implementations) agree on them; a sharded copy gives the same logits.
// (That the made layout is transformers' own is checked in tests/unit/io/model_maker_test.cpp
// against the golden fixtures transformers loaded.)
// Tolerance: f32 checkpoints, cpu-ref vs cpu within 2e-3 absolute (summation order and the fast
// path's blocked GEMMs; logits here are about 0.1 in size); bf16 checkpoints are compared
// within 0.05 (the fast path rounds only GEMM inputs to bf16, the reference every activation).
#include <gtest/gtest.h>

#include <unistd.h>
#include <cmath>
#include <filesystem>
#include <string>

#include "runtime/io/model_maker.h"
#include "tests/unit/models/tiny_model.h"

namespace moe {
namespace {

namespace fs = std::filesystem;

struct MadeCase {
  io::Family family;
  DType dtype;
};

std::string label(const ::testing::TestParamInfo<MadeCase>& i) {
  return std::string(io::family_name(i.param.family)) +
         (i.param.dtype == DType::F32 ? "_f32" : "_bf16");
}

// A made tiny checkpoint in a fresh directory, removed at the end of the test.
class MadeCheckpoint : public ::testing::TestWithParam<MadeCase> {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("moe_made_" + label({GetParam(), 0}) + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  io::MakeModelOptions options(uint64_t shard_size = 0) const {
    io::MakeModelOptions o;
    o.family = GetParam().family;
    o.dtype = GetParam().dtype;
    o.threads = 2;
    o.seed = 7;
    o.shard_size = shard_size;
    o.overwrite = true;
    return o;
  }
  fs::path dir_;
};

std::shared_ptr<Model> load(const fs::path& dir, const std::string& backend) {
  ModelLoadOptions o;
  o.backend.name = backend;
  return load_model(dir, o);
}

const std::vector<int32_t> kPrompt = {5, 17, 300, 42, 9, 511, 77, 1000, 3, 64};

TEST_P(MadeCheckpoint, LoadsAndGivesFiniteVaryingLogitsOnBothCpuBackends) {
  const io::MadeModel made = io::make_model(dir_, options());
  const int64_t vocab = made.config.vocab_size;
  const Tensor ref = testing::all_logits(*load(dir_, "cpu-ref"), kPrompt).to_f32();
  ASSERT_EQ(ref.shape(), (Shape{int64_t(kPrompt.size()), vocab}));
  const float* r = ref.data<float>();
  double lo = r[0], hi = r[0];
  for (int64_t i = 0; i < ref.numel(); ++i) {
    ASSERT_TRUE(std::isfinite(r[i])) << "logit " << i;
    lo = std::min(lo, double(r[i]));
    hi = std::max(hi, double(r[i]));
  }
  EXPECT_GT(hi - lo, 1e-3);

  const Tensor fast = testing::all_logits(*load(dir_, "cpu"), kPrompt).to_f32();
  ASSERT_EQ(fast.shape(), ref.shape());
  const double tol = GetParam().dtype == DType::F32 ? 2e-3 : 0.05;
  for (int64_t i = 0; i < ref.numel(); ++i)
    ASSERT_NEAR(fast.data<float>()[i], r[i], tol) << "logit " << i;
}

TEST_P(MadeCheckpoint, ShardedCopyGivesTheSameLogits) {
  io::make_model(dir_, options());
  const Tensor one = testing::all_logits(*load(dir_, "cpu-ref"), kPrompt).to_f32();
  io::make_model(dir_, options(/*shard_size=*/60000));
  ASSERT_TRUE(fs::exists(dir_ / "model.safetensors.index.json"));
  ASSERT_FALSE(fs::exists(dir_ / "model.safetensors"));
  const Tensor sharded = testing::all_logits(*load(dir_, "cpu-ref"), kPrompt).to_f32();
  ASSERT_EQ(sharded.shape(), one.shape());
  for (int64_t i = 0; i < one.numel(); ++i)
    ASSERT_EQ(sharded.data<float>()[i], one.data<float>()[i]) << "logit " << i;
}

INSTANTIATE_TEST_SUITE_P(Families, MadeCheckpoint,
                         ::testing::Values(MadeCase{io::Family::kQwen3Moe, DType::F32},
                                           MadeCase{io::Family::kQwen3Moe, DType::BF16},
                                           MadeCase{io::Family::kOlmoe, DType::F32},
                                           MadeCase{io::Family::kOlmoe, DType::BF16},
                                           MadeCase{io::Family::kGptOss, DType::F32},
                                           MadeCase{io::Family::kGptOss, DType::BF16},
                                           MadeCase{io::Family::kPhimoe, DType::F32},
                                           MadeCase{io::Family::kPhimoe, DType::BF16}),
                         label);

}  // namespace
}  // namespace moe
