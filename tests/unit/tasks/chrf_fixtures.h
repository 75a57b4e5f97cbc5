// Test helper: tests/data/chrf_fixtures.json, sacreBLEU's chrF (sentence and corpus) of
// multilingual hypothesis/reference pairs, made by tools/make_chrf_fixtures.py. Read by the chrF
// tests and the sweep's FLORES merge test.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace moe::tasks::testing {

inline nlohmann::json chrf_fixtures() {
  std::ifstream in(std::string(MOE_SOURCE_DIR) + "/tests/data/chrf_fixtures.json");
  EXPECT_TRUE(in.good()) << "tests/data/chrf_fixtures.json missing";
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
}

}  // namespace moe::tasks::testing
