// Puts the TEST DOUBLE runner in place of the model runner in moe-sweep-testdouble, the CLI
// binary the engine's integration tests use (executors, SLURM, faults). Never in moe-sweep.
#include "sweeps/exec/unit_runner.h"
#include "tests/unit/sweeps/test_double_runner.h"

namespace {
struct Register {
  Register() { moe::sweeps::set_runner_override(moe::sweeps::testing::make_test_double_runner); }
} const g_register;
}  // namespace
