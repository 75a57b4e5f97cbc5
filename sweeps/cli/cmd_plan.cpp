// `moe-sweep plan CONFIG [key=value ...]`: prints the points, phases, units and estimated tokens
// of a sweep without running anything.
#include <cstdio>
#include <memory>

#include "sweeps/cli/command.h"
#include "sweeps/config/config.h"
#include "sweeps/phases/sample_counter.h"
#include "sweeps/plan/describe.h"
#include "sweeps/plan/input_checks.h"
#include "sweeps/plan/plan.h"

MOE_COMMAND(plan, 20, "Print the points, units and estimated tokens of a sweep (dry run)",
            [](CLI::App& app) {
              auto config = std::make_shared<std::string>();
              auto overrides = std::make_shared<std::vector<std::string>>();
              auto units = std::make_shared<bool>(false);
              app.add_option("CONFIG", *config, "sweep YAML")->required();
              app.add_option("overrides", *overrides, "key.path=value overrides");
              app.add_flag("--units", *units, "list every unit and batch");
              return [=] {
                using namespace moe::sweeps;
                SweepConfig c = load_config(*config, *overrides);
                check_layers(c);
                Plan plan = make_plan(c, data_sample_counter(c), identify_inputs(c));
                std::fputs(describe_plan(c, plan, {.units = *units}).c_str(), stdout);
                return 0;
              };
            });
