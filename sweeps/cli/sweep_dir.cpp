#include "sweeps/cli/sweep_dir.h"

#include <fmt/format.h>

#include "runtime/core/error.h"
#include "sweeps/exec/executor.h"
#include "sweeps/phases/sample_counter.h"

namespace moe::sweeps {

SweepDir open_sweep_dir(const std::string& dir_or_yaml, const std::vector<std::string>& overrides) {
  namespace fs = std::filesystem;
  SweepDir s;
  const bool yaml = fs::is_regular_file(dir_or_yaml);
  std::optional<SweepConfig> given;
  if (yaml) {
    given = load_config(dir_or_yaml, overrides);
    s.dir = given->output;
  } else {
    if (!overrides.empty())
      throw InputError(overrides[0], fmt::format("overrides apply to a sweep's YAML, found the "
                                                 "directory '{}'",
                                                 dir_or_yaml));
    s.dir = dir_or_yaml;
  }
  if (!fs::is_regular_file(s.dir / "config.yaml"))
    throw InputError(s.dir.string(), fmt::format("expected a sweep's output directory (with "
                                                 "config.yaml, written by `moe-sweep run`), "
                                                 "found none{}",
                                                 yaml ? ": the sweep has not run yet" : ""));
  results::Store store(s.dir);
  s.config = load_config(store.config_path());
  const InputIdentity inputs = recorded_inputs(store, s.config);
  s.plan = make_plan(s.config, data_sample_counter(s.config), inputs);
  if (given) {
    const Plan asked = make_plan(*given, data_sample_counter(*given), inputs);
    if (asked.hash != s.plan.hash)
      throw InputError(
          dir_or_yaml,
          fmt::format("the sweep this config{} describes (plan {}) is not the one that ran in "
                      "{} (plan {}, {}): give that directory to read what ran, or run this "
                      "config first",
                      overrides.empty() ? "" : " with its overrides", asked.hash, s.dir.string(),
                      s.plan.hash, store.config_path().string()));
    s.config = std::move(*given);
  }
  return s;
}

}  // namespace moe::sweeps
