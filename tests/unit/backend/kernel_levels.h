// The kernel tests run once per CPU level that has kernels of its own (kernels.h): each test is
// parameterised by the level, named after it (.../avx2, .../avx512_bf16, .../amx), and skipped
// where the CPU, or MOE_CPU_ISA, does not reach that level. Header-only, for tests/unit/backend.
#pragma once

#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "runtime/backend/cpu/kernels.h"

namespace moe::cpu {
// gtest prints a level by its name (in test names and failure messages).
inline void PrintTo(Isa isa, std::ostream* os) { *os << isa_name(isa); }
}  // namespace moe::cpu

namespace moe {

class KernelLevel : public ::testing::TestWithParam<cpu::Isa> {
 protected:
  // The level's kernels; skips the test where they are not available.
  void SetUp() override {
    k = cpu::kernels_for(GetParam());
    if (!k)
      GTEST_SKIP() << "the CPU level " << cpu::isa_name(GetParam()) << " is not in use here ("
                   << cpu::isa_description() << ")";
  }
  const cpu::Kernels* k = nullptr;
};

inline std::string kernel_level_name(const ::testing::TestParamInfo<cpu::Isa>& info) {
  return cpu::isa_name(info.param);
}

}  // namespace moe

// Instantiates the KernelLevel-derived suite `suite` for every level with kernels.
#define MOE_INSTANTIATE_FOR_KERNEL_LEVELS(suite)                                                   \
  INSTANTIATE_TEST_SUITE_P(Levels, suite,                                                          \
                           ::testing::Values(::moe::cpu::Isa::kAvx2, ::moe::cpu::Isa::kAvx512Bf16, \
                                             ::moe::cpu::Isa::kAmx),                               \
                           ::moe::kernel_level_name)
