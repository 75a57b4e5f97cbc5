// TestDoubleRunner: a TEST DOUBLE for the model runner, used only by tests of the sweep engine
// (executors, leases, store, merge, faults). It loads no model: every number it produces is a
// deterministic function of the unit (hash of ids and sample indices), so runs can be compared
// bit for bit across executors and interruptions. Its unit files say runner "test-double".
//
// Like the real runner it reads its inputs from the store (expert sets read the statistics,
// points read their expert set) and honours the stop flag between samples.
// Environment knobs (for the integration tests):
//   MOE_TEST_DOUBLE_DELAY_MS=n      sleep n ms per sample (gives kill tests time to hit)
//   MOE_TEST_DOUBLE_FAIL_LANGUAGE=x eval units of language x fail with an InputError
// Thread-safety: one thread, like every runner.
#pragma once

#include "sweeps/exec/unit_runner.h"

namespace moe::sweeps::testing {

// Test-double dimensions: layers, experts, experts per token.
constexpr int kDoubleLayers = 4, kDoubleExperts = 8, kDoubleTopK = 2;

std::unique_ptr<UnitRunner> make_test_double_runner(const RunnerContext& ctx);

}  // namespace moe::sweeps::testing
