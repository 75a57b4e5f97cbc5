// `moe-sweep merge DIR|CONFIG [key=value ...] [--out FILE] [--allow-partial]`: builds
// DIR/results.h5 from the unit files, for the configuration the sweep ran (DIR/config.yaml; or
// give the sweep's YAML and overrides, which must describe what ran there: sweep_dir.h). Damaged
// unit files are moved to quarantine/ and named. Refuses, listing what is missing, unless every
// unit is done or --allow-partial (the file is then marked partial).
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>

#include "results/merge.h"
#include "sweeps/cli/command.h"
#include "sweeps/cli/sweep_dir.h"
#include "sweeps/config/config.h"
#include "sweeps/plan/merge_spec.h"

MOE_COMMAND(merge, 40, "Merge a sweep's unit files into results.h5", [](CLI::App& app) {
  struct Args {
    std::string dir, out;
    std::vector<std::string> overrides;
    bool allow_partial = false;
  };
  auto a = std::make_shared<Args>();
  app.add_option("DIR", a->dir, "the sweep's output directory, or its YAML")->required();
  app.add_option("overrides", a->overrides, "key.path=value overrides (with a YAML)");
  app.add_option("--out", a->out, "merged file (default DIR/results.h5)");
  app.add_flag("--allow-partial", a->allow_partial,
               "write even with missing units (the file is marked partial)");
  return [a] {
    using namespace moe::sweeps;
    const SweepDir sweep = open_sweep_dir(a->dir, a->overrides);
    const std::filesystem::path& dir = sweep.dir;
    moe::results::Store store(dir);
    moe::results::MergeSpec spec = merge_spec(sweep.config, sweep.plan);
    spec.config_yaml = store.read_source_config();
    const std::filesystem::path out = a->out.empty() ? dir / "results.h5" : std::filesystem::path(a->out);
    const auto rep = moe::results::merge(store, spec, out, a->allow_partial);
    for (const auto& d : rep.damaged)
      std::fprintf(stderr,
                   "merge: damaged unit file moved to quarantine/ (`moe-sweep run` "
                   "computes it again): %s\n",
                   d.c_str());
    if (!rep.missing.empty()) {
      std::fprintf(stderr, "merge: %zu of %lld units missing:\n", rep.missing.size(),
                   (long long)rep.units_total);
      for (size_t i = 0; i < rep.missing.size() && i < 20; ++i)
        std::fprintf(stderr, "  %s\n", rep.missing[i].c_str());
      if (rep.missing.size() > 20) std::fprintf(stderr, "  ... and %zu more\n", rep.missing.size() - 20);
    }
    if (rep.written.empty()) {
      std::fprintf(stderr,
                   "merge: nothing written (run the sweep to completion, see `moe-sweep status "
                   "%s`, or pass --allow-partial)\n",
                   dir.c_str());
      return moe::cli::kExitIncomplete;
    }
    std::printf("%s: %lld units%s\n", rep.written.c_str(), (long long)rep.units_total,
                rep.missing.empty() ? "" : " (PARTIAL: missing units listed in /missing)");
    return 0;
  };
});
