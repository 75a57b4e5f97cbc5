// CPU instruction-set levels of the fast CPU backend, chosen once per process.
//
// The fast backend's hand-written kernels are compiled per level in their own translation units
// (kernels_avx2.cpp, kernels_avx512bf16.cpp, ...; see kernels.h); everything else is compiled for
// the build's baseline (x86-64-v2 by default, CMakeLists.txt). The level in use is the highest
// the CPU and the operating system support (CPUID, the XSAVE state the OS enabled in XCR0, and
// Linux's permission for the AMX tile data), capped by the environment variable
// MOE_CPU_ISA=generic|avx2|avx512|avx512_bf16|amx, which is also passed on to oneDNN as its
// maximum ISA. A level the CPU lacks is never used, whatever MOE_CPU_ISA says.
//   generic      no kernels of moe-sweep's own: reference loops and oneDNN (any CPU, any arch)
//   avx2         AVX2 + FMA + F16C (Haswell, Zen 1-3)
//   avx512       + AVX-512 F/BW/VL/DQ (Skylake-SP .. Ice Lake): oneDNN's AVX-512 kernels; the
//                vector kernels are AVX2's (kernels.h says why)
//   avx512_bf16  + AVX512-BF16 (Cooper Lake, Zen 4)
//   amx          + AMX-TILE, AMX-BF16 with the tile state granted (Sapphire Rapids)
// Thread-safety: every function may be called from any thread.
#pragma once

#include <optional>
#include <string_view>

namespace moe::cpu {

enum class Isa : int { kGeneric = 0, kAvx2 = 1, kAvx512 = 2, kAvx512Bf16 = 3, kAmx = 4 };

// "generic", "avx2", "avx512", "avx512_bf16", "amx".
const char* isa_name(Isa isa);
// The level a name (as isa_name gives it, any case) stands for; nullopt for anything else.
std::optional<Isa> parse_isa(std::string_view name);
// All levels, lowest first.
constexpr Isa kAllIsas[] = {Isa::kGeneric, Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Bf16, Isa::kAmx};

// The highest level this CPU and OS support (asked once; kGeneric off x86-64).
Isa detected_isa();
// MOE_CPU_ISA's level, if the variable is set and not empty. Throws InputError naming the
// variable for a value that is not a level's name.
std::optional<Isa> requested_isa();
// The level in use: min(detected_isa(), requested_isa()), fixed at the first call. Throws as
// requested_isa() does.
Isa active_isa();
// "avx512_bf16 (AMD EPYC 9R14; capped by MOE_CPU_ISA=avx2 from avx512_bf16)": the level in use,
// the CPU's brand string, and where MOE_CPU_ISA lowered it. For logs and result files.
std::string_view isa_description();

// The guard every entry point of a level's kernel file calls first: aborts the process, naming
// the function, the level it needs and the level in use, when `need` is above active_isa(). A
// call that reaches a kernel without dispatch is a bug; executing the kernel's instructions on a
// CPU without them would be an illegal instruction, somewhere less clear. Out of line, and
// compiled for the baseline, so that the check itself cannot use the instructions it guards.
void isa_entry_check(Isa need, const char* function);

}  // namespace moe::cpu
