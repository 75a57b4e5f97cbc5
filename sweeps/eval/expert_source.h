// Expert sets for interventions: read back from a results file (the /experts/{model}/{name}
// groups `moe-sweep analyze` and `moe-sweep routing` write: a table of layer, expert, score plus
// per_layer_count [L] and the rule's attributes; results/SCHEMA.md), and turned into the
// per-layer lists an InterventionEdit takes.
// Thread-safety: HDF5 is used from one thread (results/h5.h).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "runtime/routing/intervention.h"
#include "sweeps/experts.h"

namespace moe::eval {

// `set` is "model/name" (the path under /experts) or "name" when exactly one model group holds
// it. Throws InputError naming the file and set when it is missing, ambiguous or malformed (the
// message lists the sets the file has).
experts::ExpertSet read_expert_set(const std::filesystem::path& file, const std::string& set);

// Every set under /experts as "model/name", sorted.
std::vector<std::string> list_expert_sets(const std::filesystem::path& file);

// [L] per MoE layer: each selected expert with its score.
routing::LayerExperts layer_experts(const experts::ExpertSet& set);

}  // namespace moe::eval
