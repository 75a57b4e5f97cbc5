// The CPU-level dispatch (runtime/core/cpu_isa.h, runtime/backend/cpu/kernels.h): MOE_CPU_ISA's
// names and its errors, the tables kernels_for() hands out, and the guard at every kernel
// entry point: a kernel of a level above the one in use, called without dispatch, stops the
// process with a message naming it (before any of its instructions could fault).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "runtime/backend/cpu/kernels.h"
#include "runtime/core/error.h"
#if defined(__x86_64__)
#include "runtime/backend/cpu/level_kernels.h"
#endif

namespace moe {
namespace {

using cpu::Isa;

// Sets MOE_CPU_ISA for a scope (requested_isa() reads it on every call; active_isa() only once).
struct ScopedIsaVariable {
  std::string old;
  bool had = false;
  explicit ScopedIsaVariable(const char* value) {
    if (const char* v = std::getenv("MOE_CPU_ISA")) had = true, old = v;
    setenv("MOE_CPU_ISA", value, 1);
  }
  ~ScopedIsaVariable() {
    if (had)
      setenv("MOE_CPU_ISA", old.c_str(), 1);
    else
      unsetenv("MOE_CPU_ISA");
  }
};

TEST(CpuIsa, NamesRoundTripAndLevelsAreOrdered) {
  for (Isa isa : cpu::kAllIsas) EXPECT_EQ(cpu::parse_isa(cpu::isa_name(isa)), isa);
  EXPECT_EQ(cpu::parse_isa("AVX512_BF16"), Isa::kAvx512Bf16);
  EXPECT_FALSE(cpu::parse_isa("avx512bf16"));
  EXPECT_FALSE(cpu::parse_isa(""));
  EXPECT_LT(Isa::kAvx2, Isa::kAvx512);
  EXPECT_LT(Isa::kAvx512Bf16, Isa::kAmx);
}

TEST(CpuIsa, AnUnknownLevelInTheVariableIsAnInputErrorNamingIt) {
  const ScopedIsaVariable v("avx3");
  try {
    (void)cpu::requested_isa();
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.where(), "MOE_CPU_ISA");
    EXPECT_NE(std::string(e.what()).find("found 'avx3'"), std::string::npos) << e.what();
  }
}

TEST(CpuIsa, TheLevelInUseIsTheCpusCappedByTheVariable) {
  const auto cap = cpu::requested_isa();
  EXPECT_EQ(cpu::active_isa(), cap ? std::min(*cap, cpu::detected_isa()) : cpu::detected_isa());
  EXPECT_NE(std::string(cpu::isa_description()).find(cpu::isa_name(cpu::active_isa())),
            std::string::npos);
}

TEST(CpuIsa, KernelsForALevelAreThatLevelsOrNoneAboveTheLevelInUse) {
  EXPECT_EQ(cpu::kernels_for(Isa::kGeneric), nullptr);
  for (Isa isa : cpu::kAllIsas) {
    const cpu::Kernels* k = cpu::kernels_for(isa);
    if (isa > cpu::active_isa() || isa == Isa::kGeneric) {
      EXPECT_EQ(k, nullptr) << cpu::isa_name(isa);
      continue;
    }
#if defined(__x86_64__)
    ASSERT_NE(k, nullptr) << cpu::isa_name(isa);
    // avx512 has no kernels of its own: AVX2's serve it.
    EXPECT_EQ(k->isa, isa == Isa::kAvx512 ? Isa::kAvx2 : isa);
    EXPECT_EQ(k->attention_rows_amx != nullptr, isa == Isa::kAmx);
#endif
  }
  EXPECT_EQ(cpu::kernels(), cpu::kernels_for(cpu::active_isa()));
}

#if defined(__x86_64__)
// A kernel called past the dispatch: in a fresh process at the avx2 level (any x86-64 CPU this
// test runs on has AVX2 or lacks the level's kernels altogether), the AVX512-BF16 conversion
// and the AMX attention stop with the guard's message. On a CPU without AVX-512 the message
// proves the guard ran before any AVX-512 instruction (one would have been SIGILL instead).
TEST(CpuIsaDeathTest, AKernelAboveTheLevelInUseStopsTheProcessNamingIt) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // re-executes: the level is chosen afresh
  const ScopedIsaVariable v("avx2");
  const float x[4] = {1, 2, 3, 4};
  uint16_t out[4];
  EXPECT_DEATH(cpu::avx512bf16::kTable.f32_to_bf16(x, out, 4),
               "f32_to_bf16 needs the CPU level avx512_bf16, but the level in use is "
               "(avx2|generic)");
  EXPECT_DEATH(
      cpu::amx::kTable.attention_rows_amx(1, nullptr, 32, nullptr, nullptr, nullptr, 0, nullptr,
                                          nullptr, 1.0f, nullptr, nullptr, nullptr),
      "attention_rows_amx needs the CPU level amx");
}

TEST(CpuIsaDeathTest, AnAvx2KernelAtTheGenericLevelStopsTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const ScopedIsaVariable v("generic");
  const float x[4] = {1, 2, 3, 4};
  uint16_t out[4];
  EXPECT_DEATH(cpu::avx2::kTable.f32_to_bf16(x, out, 4),
               "f32_to_bf16 needs the CPU level avx2, but the level in use is generic");
}
#endif

}  // namespace
}  // namespace moe
