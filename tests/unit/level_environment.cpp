// Linked into the unit-test programs that ctest runs once per CPU level (tests/CMakeLists.txt:
// the entries named "<test>@<level>", run with MOE_CPU_ISA=<level>): where the CPU lacks the
// level asked for, every test of the run is skipped rather than run again at a lower level.
#include <gtest/gtest.h>

#include "runtime/core/cpu_isa.h"

namespace {

class LevelEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    const auto want = moe::cpu::requested_isa();
    if (want && *want > moe::cpu::detected_isa())
      GTEST_SKIP() << "MOE_CPU_ISA=" << moe::cpu::isa_name(*want) << ": this CPU reaches only "
                   << moe::cpu::isa_name(moe::cpu::detected_isa());
  }
};

[[maybe_unused]] ::testing::Environment* const kLevelEnvironment =
    ::testing::AddGlobalTestEnvironment(new LevelEnvironment);

}  // namespace
