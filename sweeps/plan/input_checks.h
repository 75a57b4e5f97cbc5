// Checks of a sweep config against the inputs it names, made when a sweep is planned (`moe-sweep
// plan`, `moe-sweep run`) so that a mistake is reported before any unit runs. load_config
// checks the config on its own; these read the files it points at.
//
// Not part of make_plan, which stays a pure function of the config (tests plan configs whose
// models do not exist). Thread-safety: reads files only; safe to call concurrently.
#pragma once

#include "sweeps/config/config.h"

namespace moe::sweeps {

// Checks every non-empty grid layer range against the MoE layers of each model it is combined
// with: the range's last layer must be below the checkpoint's number of MoE layers (its
// config.json, io::load_model_config; layers are MoE-layer indices, sweeps/METHODS.md C).
// Reads config.json only for models some range is combined with. Throws InputError at the range
// as written ("file:line:col: grid[0].layers[1]: expected ..., found [2, 5]"), or at
// models.<name>.path when that config.json is missing or unreadable.
void check_layers(const SweepConfig& c);

}  // namespace moe::sweeps
