// The sweep that `status` and `merge` read: given as its output directory (its config.yaml is
// what ran), or as the sweep's YAML with overrides, whose output directory is then read. The
// YAML's plan must be the one that ran there: a config edited or overridden since is refused,
// never silently replaced by the store's.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "results/store.h"
#include "sweeps/config/config.h"
#include "sweeps/plan/plan.h"

namespace moe::sweeps {

struct SweepDir {
  std::filesystem::path dir;
  SweepConfig config;  // as it ran
  Plan plan;           // with the inputs the store's units were computed from
};

// InputError naming the YAML and the store's config.yaml when their plans differ, when the
// directory holds no sweep, or when overrides come with a directory.
SweepDir open_sweep_dir(const std::string& dir_or_yaml, const std::vector<std::string>& overrides);

}  // namespace moe::sweeps
