// Phase 2 of a sweep: one expert set (a rule of the config with its tau / K / thr, for one
// model) computed from the routing statistics of phase 1, read from the store.
//
// Rules (sweeps/METHODS.md B; the selection functions are sweeps/experts.h):
//   delta              Delta = mean a_i/L_i of the target data - of the reference data; Delta > tau.
//                      Several target languages: one set per language, united.
//   delta_3sigma       the same Delta; Delta > 3 std (per layer, over experts).
//   affinity_exclusive normalised affinity W over the languages S with top-K frequencies;
//                      sum over the targets T of W > thr.
//   affinity_shared    some W > 0 and every W < thr; score = the steering coefficient
//                      c = W[T[0], l, e] (S is ordered with T[0] first).
// The result holds the table "experts" (layer = MoE layer index, the index interventions and
// layer ranges use; decoder_layer; expert; score),
// the per-layer scores as arrays ("delta" [L, E] or "affinity" [S, L, E]), "per_layer_count" [L]
// (so `moe-sweep eval` reads the set from a merged file) and the rule with its
// parameters as notes. Needs no model. Thread-safety: pure function of its inputs.
#pragma once

#include "results/unit_result.h"
#include "sweeps/exec/unit_runner.h"

namespace moe::sweeps {

results::UnitResult run_expert_identification(const RunnerContext& ctx, const Unit& unit);

}  // namespace moe::sweeps
