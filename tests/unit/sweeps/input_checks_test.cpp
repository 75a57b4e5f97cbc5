// check_layers: grid layer ranges against the MoE layers of each checkpoint's config.json. The
// checkpoints are config.json files written by the runtime's model maker (io::make_model_config,
// what `moe-sweep make-model` writes), with a known number of MoE layers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "runtime/core/error.h"
#include "runtime/io/model_maker.h"
#include "sweeps/config/config.h"
#include "sweeps/plan/input_checks.h"

namespace moe::sweeps {
namespace {
namespace fs = std::filesystem;

class CheckLayers : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           (std::string("moe_sweeps_") + info->name() + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A checkpoint directory holding only the config.json of a tiny Qwen3-MoE with `layers`
  // decoder layers (`set`: extra config.json keys, e.g. dense layers).
  fs::path checkpoint(const std::string& name, int layers,
                      std::vector<std::pair<std::string, std::string>> set = {}) {
    io::MakeModelOptions o;
    o.family = io::Family::kQwen3Moe;
    o.layers = layers;
    o.set = std::move(set);
    const fs::path d = dir_ / name;
    fs::create_directories(d);
    std::ofstream(d / "config.json", std::ios::binary) << io::make_model_config(o);
    return d;
  }

  // A sweep over model `tiny` at `model_path` with one masking block over `layers` (YAML).
  static SweepConfig sweep(const fs::path& model_path, const std::string& layers,
                           const std::string& extra = "") {
    return parse_config(
        "name: s\n"
        "output: /out/s\n"
        "models: {tiny: {path: " +
            model_path.string() +
            "}}\n"
            "corpora: {f: {format: flores, path: /f, samples: 1}}\n"
            "experts: {x: {rule: delta, target: {corpus: f, language: de},\n"
            "              reference: {corpus: f, language: en}, tau: 0.3}}\n"
            "tasks: {mgsm: {kind: mgsm, path: /d, languages: [en], samples: 1}}\n" +
            extra +
            "grid:\n"
            "  - method: mask\n"
            "    experts: x\n"
            "    layers: " +
            layers + "\n",
        "s.yaml");
  }

  static std::string error_of(const SweepConfig& c) {
    try {
      check_layers(c);
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
};

TEST_F(CheckLayers, AcceptsRangesWithinTheMoeLayers) {
  const fs::path m = checkpoint("m", 4);
  EXPECT_EQ(error_of(sweep(m, "[[0, 3], [2, 2], '1-3']")), "");
  EXPECT_EQ(error_of(sweep(m, "[]")), "");  // the baseline: nothing to check
}

TEST_F(CheckLayers, RefusesARangePastTheLastMoeLayerNamingTheRangeAsWritten) {
  const fs::path m = checkpoint("m", 4);
  EXPECT_EQ(error_of(sweep(m, "[[0, 3], [2, 4]]")),
            "s.yaml:11:22: grid[0].layers[1]: expected a range within the MoE layers of model "
            "'tiny' (0-3, 0-indexed; 4 MoE layers in " +
                (m / "config.json").string() + "), found [2, 4]");
  EXPECT_NE(error_of(sweep(m, "'3-9'"))
                .find("grid[0].layers: expected a range within the MoE "
                      "layers of model 'tiny' (0-3, 0-indexed;"),
            std::string::npos);
}

TEST_F(CheckLayers, OneBasedRangesAreCheckedAndReportedOneBased) {
  const fs::path m = checkpoint("m", 4);
  EXPECT_EQ(error_of(sweep(m, "[1, 4]", "layer_indexing: one_based\n")), "");
  const std::string e = error_of(sweep(m, "[1, 5]", "layer_indexing: one_based\n"));
  EXPECT_NE(e.find("(1-4, 1-indexed; 4 MoE layers in"), std::string::npos) << e;
  EXPECT_NE(e.find("found [1, 5]"), std::string::npos) << e;
}

// Layers are MoE-layer indices (the runtime's router hooks and interventions count MoE layers):
// with decoder layer 1 dense, 4 decoder layers hold 3 MoE layers, and MoE layer 3 does not exist.
TEST_F(CheckLayers, CountsMoeLayersNotDecoderLayers) {
  const fs::path m = checkpoint("m", 4, {{"mlp_only_layers", "[1]"}});
  EXPECT_EQ(error_of(sweep(m, "[0, 2]")), "");
  const std::string e = error_of(sweep(m, "[0, 3]"));
  EXPECT_NE(e.find("(0-2, 0-indexed; 3 MoE layers in"), std::string::npos) << e;
}

TEST_F(CheckLayers, MissingConfigJsonNamesTheModelKeyAndTheFile) {
  const fs::path empty = dir_ / "empty";
  fs::create_directories(empty);
  const std::string e = error_of(sweep(empty, "[0, 1]"));
  EXPECT_EQ(e.rfind("s.yaml:3:23: models.tiny.path: cannot read the checkpoint's config.json", 0),
            0u)
      << e;
  EXPECT_NE(e.find((empty / "config.json").string() + ": expected a file, found nothing"),
            std::string::npos)
      << e;
}

// Every model a range is combined with is checked: a product with two models checks the range
// against both; a zip pairs each range with its own model only.
TEST_F(CheckLayers, ChecksEachModelTheRangeIsCombinedWith) {
  const fs::path small = checkpoint("small", 2), big = checkpoint("big", 6);
  const std::string head =
      "name: s\n"
      "output: /out/s\n"
      "models: {small: {path: " +
      small.string() + "}, big: {path: " + big.string() +
      "}}\n"
      "corpora: {f: {format: flores, path: /f, samples: 1}}\n"
      "experts: {x: {rule: delta, target: {corpus: f, language: de},\n"
      "              reference: {corpus: f, language: en}, tau: 0.3}}\n"
      "tasks: {mgsm: {kind: mgsm, path: /d, languages: [en], samples: 1}}\n"
      "grid:\n"
      "  - method: mask\n"
      "    experts: x\n";
  EXPECT_EQ(error_of(parse_config(
                head + "    zip: {model: [small, big], layers: [[0, 1], [0, 5]]}\n", "s.yaml")),
            "");
  const std::string product = error_of(parse_config(head + "    layers: [0, 5]\n", "s.yaml"));
  EXPECT_NE(product.find("model 'small' (0-1, 0-indexed; 2 MoE layers"), std::string::npos)
      << product;
  const std::string listed =
      error_of(parse_config(head + "    model: [big]\n    layers: [0, 5]\n", "s.yaml"));
  EXPECT_EQ(listed, "");  // only `big` is in this block
  const std::string zipped = error_of(
      parse_config(head + "    zip: {model: [big, small], layers: [[0, 1], [0, 5]]}\n", "s.yaml"));
  EXPECT_NE(zipped.find("grid[0].zip.layers[1]: expected a range within the MoE layers of model "
                        "'small'"),
            std::string::npos)
      << zipped;
}

}  // namespace
}  // namespace moe::sweeps
