// Every config shipped in configs/ parses, validates and plans (with made-up sample counts:
// the datasets are not here), and its plan has what the study needs: statistics, expert sets
// and points. Expected errors would name the file and key.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "sweeps/config/config.h"
#include "sweeps/plan/plan.h"

namespace moe::sweeps {
namespace {

std::vector<std::filesystem::path> shipped_configs() {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(MOE_SOURCE_DIR) /
                                                           "configs"))
    if (e.path().extension() == ".yaml" && e.path().stem() != "demo") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ShippedConfigs, EveryStudyConfigParsesAndPlans) {
  ::setenv("MOE_MODELS", "/models", 1);
  ::setenv("MOE_DATA", "/data", 1);
  const auto files = shipped_configs();
  ASSERT_EQ(files.size(), 9u) << "the published setups of sweeps/METHODS.md F";
  SampleCounter counter;
  counter.corpus = [](const CorpusSpec&, const std::string&) { return int64_t(997); };
  counter.task = [](const TaskSpec&, const std::string&) { return int64_t(250); };
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    const SweepConfig c = load_config(f);
    const Plan p = make_plan(c, counter);
    EXPECT_FALSE(p.stats.empty());
    for (const TaskSpec& t : c.tasks)  // option paths are expanded like `path`
      EXPECT_EQ(t.options_json.find("${"), std::string::npos) << t.options_json;
    if (f.stem() == "olmoe_flores_routing") {
      EXPECT_TRUE(p.points.empty());
      continue;
    }
    EXPECT_FALSE(p.expert_sets.empty());
    EXPECT_GE(p.points.size(), 2u);  // the baseline and at least one intervention
  }
}

TEST(ShippedConfigs, DemoConfigPlansWithItsOwnData) {
  ::setenv("MOE_DEMO_DATA", MOE_SOURCE_DIR "/configs/demo_data", 1);
  const SweepConfig c = load_config(std::filesystem::path(MOE_SOURCE_DIR) / "configs/demo.yaml");
  const Plan p = make_plan(c);  // every sample count is in the config
  EXPECT_EQ(p.points.size(), 10u);
  EXPECT_EQ(p.expert_sets.size(), 4u);
  EXPECT_EQ(p.stats.size(), 5u);
}

}  // namespace
}  // namespace moe::sweeps
