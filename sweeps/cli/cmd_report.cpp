// `moe-sweep report results.h5 [--top N] [--detail N] [--point ID ...] [--model M] [--task T]`:
// the studies' tables from a merged sweep file (results/report.h).
#include <cstdio>
#include <memory>

#include "results/report.h"
#include "sweeps/cli/command.h"

MOE_COMMAND(report, 45, "Print a merged sweep's tables: best points, base vs intervened per "
                        "language with CI and p-values, accuracy over the grid",
            [](CLI::App& app) {
              struct Args {
                std::string file;
                moe::results::ReportOptions o;
              };
              auto a = std::make_shared<Args>();
              app.add_option("FILE", a->file, "merged results (moe-sweep merge)")->required();
              app.add_option("--top", a->o.top, "points in the best-points table (0 = all)")
                  ->capture_default_str();
              app.add_option("--detail", a->o.detail,
                             "best points shown per language with CI and McNemar p")
                  ->capture_default_str();
              app.add_option("--point", a->o.points, "also show these points per language");
              app.add_option("--model", a->o.model, "only this model");
              app.add_option("--task", a->o.task, "only this task");
              return [a] {
                std::fputs(moe::results::format_report(a->file, a->o).c_str(), stdout);
                return 0;
              };
            });
