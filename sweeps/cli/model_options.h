// Command-line options shared by the subcommands that load a model (generate, trace, ...):
// --backend, --threads, --bf16-emulation, --longrope. Header-only; used only by sweeps/cli/*.cpp.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "runtime/core/error.h"
#include "runtime/models/model.h"

namespace moe::cli {

struct ModelFlags {
  std::string backend = "cpu";
  int threads = 0;
  std::string bf16_emulation = "auto";
  std::string longrope = "reference";

  void add(CLI::App& app) {
    app.add_option("--backend", backend, "cpu (fast), cpu-ref (reference, slow) or cuda (GPU, where built and present)")
        ->capture_default_str();
    app.add_option("--threads", threads, "worker threads (0 = all cores)")->capture_default_str();
    app.add_option("--bf16-emulation", bf16_emulation,
                   "cpu-ref: round activations like transformers' bf16 (auto = for bf16 "
                   "checkpoints), on, off")
        ->check(CLI::IsMember({"auto", "on", "off"}))
        ->capture_default_str();
    app.add_option("--longrope", longrope,
                   "phimoe beyond original_max_position_embeddings: reference (long factors and "
                   "mscale, as the original Phi-3.5 code and vLLM) or transformers (short "
                   "factors, long mscale, as transformers 5.23 computes)")
        ->check(CLI::IsMember({"reference", "transformers"}))
        ->capture_default_str();
  }
  ModelLoadOptions load_options() const {
    ModelLoadOptions o;
    o.backend.name = backend;
    o.backend.threads = threads;
    using E = ModelLoadOptions::Bf16Emulation;
    o.bf16_emulation = bf16_emulation == "on" ? E::kOn : bf16_emulation == "off" ? E::kOff : E::kAuto;
    o.longrope = longrope == "transformers" ? ModelLoadOptions::LongRope::kTransformers
                                            : ModelLoadOptions::LongRope::kReference;
    return o;
  }
};

}  // namespace moe::cli
