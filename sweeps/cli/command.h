// The moe-sweep CLI's subcommand registry.
//
// Each subcommand lives in its own file in sweeps/cli/ and registers itself at static-init time:
//
//   MOE_COMMAND(inspect, "Print what a checkpoint holds", [](CLI::App& app) {
//     auto dir = std::make_shared<std::string>();
//     app.add_option("MODEL_DIR", *dir, "checkpoint directory")->required();
//     return [dir] { ...; return 0; };   // runs after parsing; returns the exit code
//   });
//
// The runner may throw moe::InputError (printed as one line, exit 2) or moe::Error (exit 1).
// Exit codes (README "Exit codes"), the same for every command: kExitOk, kExitFailed,
// kExitBadInput, kExitIncomplete, kExitStoppedWithWorkLeft.
// An underscore in the name becomes a dash on the command line (make_model -> make-model).
// Files in sweeps/cli/ are compiled into the executable itself, so registrations are never
// dropped by the linker. Not thread-safe (used only before main's parse).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace moe::cli {

constexpr int kExitOk = 0;                    // finished: everything asked for is done
constexpr int kExitFailed = 1;                // an error, or batches of a sweep failed
constexpr int kExitBadInput = 2;              // bad input: config, checkpoint, data, CLI, store
constexpr int kExitIncomplete = 3;            // merge: units missing, nothing written
constexpr int kExitStoppedWithWorkLeft = 75;  // run: stopped by a signal with units left
                                              // (EX_TEMPFAIL: resubmit to go on)

using Runner = std::function<int()>;
using Setup = std::function<Runner(CLI::App&)>;

struct CommandSpec {
  std::string name;
  std::string help;
  Setup setup;
  int order;  // position in --help (lower first)
};

std::vector<CommandSpec>& registry();

struct Registrar {
  Registrar(std::string name, std::string help, int order, Setup setup);
};

}  // namespace moe::cli

#define MOE_COMMAND(name, order, help, ...) \
  static ::moe::cli::Registrar moe_command_##name##_registrar(#name, help, order, __VA_ARGS__)
