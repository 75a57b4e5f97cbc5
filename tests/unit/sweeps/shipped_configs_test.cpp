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

// routing_only keeps the routing list's statistics of a full study config (units with the same
// ids as the full sweep's), nothing else, and a resolved YAML that parses back to the same plan (the config.yaml that
// `moe-sweep routing` leaves for `status` and `merge DIR`).
TEST(ShippedConfigs, RoutingOnlyKeepsTheStatisticsAndParsesBackToTheSamePlan) {
  ::setenv("MOE_DEMO_DATA", MOE_SOURCE_DIR "/configs/demo_data", 1);
  const SweepConfig full =
      load_config(std::filesystem::path(MOE_SOURCE_DIR) / "configs/demo.yaml");
  const SweepConfig r = routing_only(full);
  EXPECT_TRUE(r.tasks.empty() && r.grid.empty() && r.rules.empty());
  EXPECT_FALSE(r.baseline);
  const Plan full_plan = make_plan(full), plan = make_plan(r);
  EXPECT_TRUE(plan.points.empty() && plan.expert_sets.empty());
  size_t listed = 0;  // the routing list's (model, corpus, language); the rules add more
  for (const RoutingCollect& rc : full.routing) listed += rc.languages.size() * full.models.size();
  ASSERT_EQ(plan.stats.size(), listed);
  for (const StatsSpec& st : plan.stats) {  // the same units as the full sweep's: shared ids
    bool found = false;
    for (const StatsSpec& f : full_plan.stats) found |= f.id == st.id;
    EXPECT_TRUE(found) << st.id;
  }
  const SweepConfig back = parse_config(r.resolved_text, "config.yaml");
  EXPECT_EQ(make_plan(back).hash, plan.hash);
  for (const char* key : {"tasks:", "grid:", "experts:", "interventions:"})
    EXPECT_EQ(r.resolved_text.find(key), std::string::npos) << key;
}

}  // namespace
}  // namespace moe::sweeps
