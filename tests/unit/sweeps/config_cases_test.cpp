// Data-driven config tests: every tests/unit/sweeps/config_cases/NAME.yaml against NAME.expected
// (the `moe-sweep plan --units` text, or "error: <message>"). See config_cases/README.md.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/core/error.h"
#include "sweeps/config/config.h"
#include "sweeps/plan/describe.h"
#include "sweeps/plan/plan.h"

namespace moe::sweeps {
namespace {
namespace fs = std::filesystem;

fs::path cases_dir() { return fs::path(MOE_SOURCE_DIR) / "tests/unit/sweeps/config_cases"; }

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> words_after(const std::string& text, const std::string& tag) {
  std::vector<std::string> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# " + tag + ":", 0) != 0) continue;
    std::istringstream ws(line.substr(tag.size() + 3));
    for (std::string w; ws >> w;) out.push_back(w);
  }
  return out;
}

// What the case produces: the plan text or "error: ...".
std::string outcome(const fs::path& yaml) {
  const std::string text = read(yaml);
  for (const auto& kv : words_after(text, "env")) {
    const auto eq = kv.find('=');
    ::setenv(kv.substr(0, eq).c_str(), kv.substr(eq + 1).c_str(), 1);
  }
  try {
    SweepConfig c = parse_config(text, yaml.filename().string(), words_after(text, "overrides"));
    Plan plan = make_plan(c);
    return describe_plan(c, plan, {.units = true});
  } catch (const InputError& e) {
    return std::string("error: ") + e.what() + "\n";
  }
}

class ConfigCase : public ::testing::TestWithParam<std::string> {};

TEST_P(ConfigCase, PlanOrErrorMatchesExpected) {
  const fs::path yaml = cases_dir() / (GetParam() + ".yaml");
  const fs::path expected = cases_dir() / (GetParam() + ".expected");
  const std::string got = outcome(yaml);
  if (std::getenv("MOE_UPDATE_EXPECTED")) {
    std::ofstream(expected, std::ios::binary) << got;
    GTEST_SKIP() << "rewrote " << expected;
  }
  ASSERT_TRUE(fs::exists(expected)) << expected << " is missing; got:\n" << got;
  EXPECT_EQ(got, read(expected)) << "case " << yaml;
  // Error cases are named err_*; every other case must plan.
  EXPECT_EQ(GetParam().rfind("err_", 0) == 0, got.rfind("error: ", 0) == 0) << got;
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(cases_dir()))
    if (e.path().extension() == ".yaml") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

INSTANTIATE_TEST_SUITE_P(Cases, ConfigCase, ::testing::ValuesIn(case_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace moe::sweeps
