// The local executor with the test-double runner: dependencies, resume after lost units,
// failure markers and retry, and a merged file that does not depend on what was re-run.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "results/h5.h"
#include "results/merge.h"
#include "sweeps/exec/executor.h"
#include "sweeps/plan/merge_spec.h"
#include "test_double_runner.h"

namespace moe::sweeps {
namespace {
namespace fs = std::filesystem;

const char* kConfig = R"(
name: exec
output: /unused
models: {tiny: {path: /models/tiny}}
corpora:
  flores: {format: flores, path: /data/flores, samples: 5}
  gsm: {format: gsm8k, path: /data/gsm.jsonl, samples: 4}
experts:
  math: {rule: delta, target: {corpus: gsm, language: en}, reference: {corpus: flores, language: en}}
tasks:
  mgsm: {kind: mgsm, path: /data/mgsm, languages: [en, de, sw], samples: 6}
grid:
  - {method: [soft, hard], experts: math, layers: [[0, 1], [1, 3]], tau: [0.2, 0.5], lambda: 0.5}
execution: {unit_samples: 3, batch_points: 3, poll_s: 0.05, heartbeat_s: 1, lease_ttl_s: 10}
)";

class LocalExecutor : public ::testing::Test {
 protected:
  void SetUp() override {
    set_runner_override(testing::make_test_double_runner);
    dir_ = fs::temp_directory_path() / ("moe_exec_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    config_ = parse_config(kConfig, "exec.yaml");
    plan_ = make_plan(config_);
  }
  void TearDown() override {
    set_runner_override(nullptr);
    ::unsetenv("MOE_TEST_DOUBLE_FAIL_LANGUAGE");
    fs::remove_all(dir_);
  }
  RunSummary run() {
    results::Store store(dir_);
    RunOptions o;
    o.progress = false;
    return run_local(config_, plan_, store, o);
  }
  // /accuracy's accuracy column then /samples' scores, from a fresh merge.
  std::vector<double> merged_accuracy(const std::string& name) {
    results::Store store(dir_);
    auto rep = results::merge(store, merge_spec(config_, plan_), dir_ / name, false);
    EXPECT_TRUE(rep.missing.empty());
    h5::File f = h5::File::open(dir_ / name);
    std::vector<double> acc = results::Table::read(f.root(), "accuracy").get<double>("accuracy");
    const results::Table samples = results::Table::read(f.root().open_group("samples"), "mgsm");
    for (double x : samples.get<double>("score")) acc.push_back(x);
    return acc;
  }
  fs::path dir_;
  SweepConfig config_;
  Plan plan_;
};

TEST_F(LocalExecutor, RunsEveryUnitOnceAndResumesOnlyWhatIsMissing) {
  RunSummary s = run();
  EXPECT_TRUE(s.complete());
  EXPECT_EQ(s.units_done_here, int64_t(plan_.units.size()));
  const auto before = merged_accuracy("a.h5");
  ASSERT_EQ(before.size(), 9u * 3u + 9u * 3u * 6u);  // 9 points x 3 languages (x 6 samples)

  s = run();  // nothing left
  EXPECT_EQ(s.units_done_here, 0);

  // Lose one eval unit and the expert set: only those two are recomputed, same numbers.
  int removed = 0;
  for (const auto& u : plan_.units)
    if ((u.kind == UnitKind::kExperts && removed == 0) ||
        (u.kind == UnitKind::kEval && u.language == "de" && u.begin == 3 && removed == 1)) {
      fs::remove(dir_ / "units" / (u.id + ".h5"));
      ++removed;
    }
  ASSERT_EQ(removed, 2);
  s = run();
  EXPECT_TRUE(s.complete());
  EXPECT_EQ(s.units_done_here, 2);
  EXPECT_EQ(merged_accuracy("b.h5"), before);
}

TEST_F(LocalExecutor, FailedBatchesAreRecordedAndRetriedByTheNextRun) {
  ::setenv("MOE_TEST_DOUBLE_FAIL_LANGUAGE", "sw", 1);
  RunSummary s = run();
  EXPECT_FALSE(s.complete());
  EXPECT_GT(s.batches_failed, 0);
  results::Store store(dir_);
  const auto failed = store.failed();
  ASSERT_EQ(int64_t(failed.size()), s.batches_failed);
  EXPECT_NE(failed.begin()->second.error.find("injected failure"), std::string::npos);
  int64_t sw_units = 0;
  for (const auto& u : plan_.units) sw_units += u.language == "sw";
  EXPECT_EQ(s.units_done, int64_t(plan_.units.size()) - sw_units);
  ::unsetenv("MOE_TEST_DOUBLE_FAIL_LANGUAGE");
  s = run();
  EXPECT_TRUE(s.complete());
  EXPECT_EQ(s.units_done_here, sw_units);
  EXPECT_TRUE(store.failed().empty());
}

}  // namespace
}  // namespace moe::sweeps
