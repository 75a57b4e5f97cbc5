// moe-sweep: entry point. Dispatches to the registered subcommands (sweeps/cli/*.cpp).
// `moe-sweep [--log-level L] CONFIG.yaml ...` with no subcommand means `moe-sweep run ...`.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "runtime/core/cpu_isa.h"
#include "runtime/core/error.h"
#include "runtime/core/heap.h"
#include "runtime/core/version.h"
#include "sweeps/cli/command.h"

namespace moe::cli {

std::vector<CommandSpec>& registry() {
  static std::vector<CommandSpec> r;
  return r;
}

Registrar::Registrar(std::string name, std::string help, int order, Setup setup) {
  // MOE_COMMAND names are identifiers: make_model is the subcommand make-model.
  for (char& c : name)
    if (c == '_') c = '-';
  registry().push_back({std::move(name), std::move(help), std::move(setup), order});
}

}  // namespace moe::cli

namespace {

bool is_subcommand(const std::string& s) {
  for (const auto& c : moe::cli::registry())
    if (c.name == s) return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace moe::cli;
  moe::keep_freed_heap_memory();  // before any thread allocates (runtime/core/heap.h)
  std::vector<std::string> args(argv, argv + argc);
  // `moe-sweep [--log-level L] CONFIG` means `moe-sweep [--log-level L] run CONFIG` (so
  // `mpirun moe-sweep cfg.yaml` works).
  size_t first = 1;
  while (first < args.size() && args[first].rfind("--log-level", 0) == 0)
    first += args[first] == "--log-level" ? 2 : 1;
  if (first < args.size() && !args[first].empty() && args[first][0] != '-' &&
      !is_subcommand(args[first]) && is_subcommand("run"))
    args.insert(args.begin() + std::ptrdiff_t(first), "run");

  CLI::App app{"moe-sweep: routing research on Mixture-of-Experts LLMs (" +
                   std::string(moe::code_version()) + ")",
               "moe-sweep"};
  app.set_version_flag("--version", std::string(moe::code_version()));
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")
      ->capture_default_str();
  app.require_subcommand(1);
  app.fallthrough();

  auto specs = registry();
  std::stable_sort(specs.begin(), specs.end(),
                   [](const CommandSpec& a, const CommandSpec& b) { return a.order < b.order; });
  std::vector<std::pair<CLI::App*, Runner>> subs;
  for (auto& c : specs) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    subs.emplace_back(sub, c.setup(*sub));
  }

  std::vector<const char*> cargv;
  for (auto& a : args) cargv.push_back(a.c_str());
  try {
    app.parse(int(cargv.size()), const_cast<char**>(cargv.data()));
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  // Logs go to stderr, program output (reports, generated text) to stdout; colour only on a
  // terminal (not in mpirun's or SLURM's captured output).
  spdlog::set_default_logger(spdlog::stderr_color_mt("moe-sweep", spdlog::color_mode::automatic));
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("[%H:%M:%S] [%^%l%$] %v");
  try {
    for (auto& [sub, run] : subs) {
      if (!sub->parsed()) continue;
      // The commands that run a model say first which code and CPU level compute it.
      static const std::set<std::string> kRunsModel = {"run", "routing", "eval", "generate",
                                                       "trace"};
      if (kRunsModel.count(sub->get_name()))
        spdlog::info("moe-sweep {}, CPU level {}", moe::code_version(),
                     moe::cpu::isa_description());
      return run();
    }
  } catch (const moe::InputError& e) {
    std::fprintf(stderr, "moe-sweep: error: %s\n", e.what());
    return moe::cli::kExitBadInput;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moe-sweep: error: %s\n", e.what());
    return moe::cli::kExitFailed;
  }
  return moe::cli::kExitOk;
}
