// Where a test finds the source tree's files and the moe-sweep CLI: the environment's
// MOE_SOURCE_DIR and MOE_CLI where set (the GPU kit, tools/gpu_kit.sh, runs test programs away
// from the build tree), else the paths the build compiled in (MOE_SOURCE_DIR, MOE_CLI_PATH).
// Header-only, for tests/unit.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace moe::test {

inline std::filesystem::path source_dir() {
  const char* d = std::getenv("MOE_SOURCE_DIR");
  return d && *d ? std::filesystem::path(d) : std::filesystem::path(MOE_SOURCE_DIR);
}

inline std::string cli_path() {
  const char* c = std::getenv("MOE_CLI");
  return c && *c ? std::string(c) : std::string(MOE_CLI_PATH);
}

}  // namespace moe::test
