// The sample counts a plan needs when a config leaves `samples` at 0 ("every sample"): the
// sequences of a routing corpus language (corpus loader) and the evaluable samples of a task
// language (the evaluator's preparation: MGSM exemplar rows left out, Global-MMLU's selection).
// Reads the data files, so every rank and node that plans gets the same counts from the same
// files. Thread-safety: pure functions of the files.
#pragma once

#include "sweeps/plan/plan.h"

namespace moe::sweeps {

SampleCounter data_sample_counter(const SweepConfig& c);

}  // namespace moe::sweeps
