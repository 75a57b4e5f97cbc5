#include "runtime/core/cpu_isa.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "runtime/core/error.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace moe::cpu {

namespace {

constexpr const char* kNames[] = {"generic", "avx2", "avx512", "avx512_bf16", "amx"};

#if defined(__x86_64__)
struct Cpuid {
  unsigned a = 0, b = 0, c = 0, d = 0;
  bool ok = false;
  Cpuid(unsigned leaf, unsigned sub) { ok = __get_cpuid_count(leaf, sub, &a, &b, &c, &d) != 0; }
};

bool bit(unsigned reg, int n) {
  return (reg >> n) & 1u;
}

// XCR0: the register state the OS saves and restores (read with XGETBV, valid when OSXSAVE).
uint64_t xcr0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
}

// Linux grants a process the AMX tile data state only on request (arch_prctl
// ARCH_REQ_XCOMP_PERM = 0x1023 for XFEATURE_XTILEDATA = 18; process-wide, idempotent; fails
// where the kernel does not manage AMX state).
bool amx_permission() {
  return syscall(SYS_arch_prctl, 0x1023, 18) == 0;
}

Isa detect() {
  const Cpuid l1(1, 0);
  if (!l1.ok) return Isa::kGeneric;
  const bool osxsave = bit(l1.c, 27), fma = bit(l1.c, 12), avx = bit(l1.c, 28),
             f16c = bit(l1.c, 29);
  if (!osxsave || !avx) return Isa::kGeneric;
  const uint64_t xcr = xcr0();
  const bool ymm_state = (xcr & 0x6) == 0x6;           // SSE and AVX state
  const bool zmm_state = (xcr & 0xe6) == 0xe6;         // + opmask, ZMM_Hi256, Hi16_ZMM
  const bool tile_state = (xcr & 0x60000) == 0x60000;  // XTILECFG, XTILEDATA
  const Cpuid l7(7, 0), l7s1(7, 1);
  if (!l7.ok || !ymm_state || !fma || !f16c || !bit(l7.b, 5)) return Isa::kGeneric;
  const bool avx512 = zmm_state && bit(l7.b, 16) && bit(l7.b, 17) && bit(l7.b, 30) &&
                      bit(l7.b, 31);  // F, DQ, BW, VL
  if (!avx512) return Isa::kAvx2;
  if (!(l7s1.ok && bit(l7s1.a, 5))) return Isa::kAvx512;          // AVX512_BF16
  const bool amx = tile_state && bit(l7.d, 22) && bit(l7.d, 24);  // AMX-BF16, AMX-TILE
  if (!amx || !amx_permission()) return Isa::kAvx512Bf16;
  return Isa::kAmx;
}

std::string brand() {
  unsigned regs[12] = {};
  for (unsigned i = 0; i < 3; ++i) {
    const Cpuid c(0x80000002u + i, 0);
    if (!c.ok) return "unknown CPU";
    regs[i * 4] = c.a, regs[i * 4 + 1] = c.b, regs[i * 4 + 2] = c.c, regs[i * 4 + 3] = c.d;
  }
  char s[49] = {};
  std::memcpy(s, regs, 48);
  std::string out(s);
  out.erase(0, out.find_first_not_of(' '));
  out.erase(out.find_last_not_of(' ') + 1);
  return out.empty() ? "unknown CPU" : out;
}
#else
Isa detect() {
  return Isa::kGeneric;
}
std::string brand() {
  return "non-x86-64 CPU";
}
#endif

}  // namespace

const char* isa_name(Isa isa) {
  return kNames[int(isa)];
}

std::optional<Isa> parse_isa(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  for (Isa isa : kAllIsas)
    if (lower == isa_name(isa)) return isa;
  return std::nullopt;
}

Isa detected_isa() {
  static const Isa isa = detect();
  return isa;
}

std::optional<Isa> requested_isa() {
  const char* v = std::getenv("MOE_CPU_ISA");
  if (!v || !*v) return std::nullopt;
  if (const auto isa = parse_isa(v)) return isa;
  throw input_error("MOE_CPU_ISA",
                    "expected one of generic, avx2, avx512, avx512_bf16, amx, "
                    "found '{}'",
                    v);
}

Isa active_isa() {
  static const Isa isa = [] {
    const auto cap = requested_isa();
    return cap ? std::min(*cap, detected_isa()) : detected_isa();
  }();
  return isa;
}

std::string_view isa_description() {
  static const std::string d = [] {
    std::string s = fmt::format("{} ({}", isa_name(active_isa()), brand());
    if (const auto cap = requested_isa(); cap && *cap < detected_isa())
      s += fmt::format("; capped by MOE_CPU_ISA={} from {}", isa_name(*cap),
                       isa_name(detected_isa()));
    return s + ")";
  }();
  return d;
}

void isa_entry_check(Isa need, const char* function) {
  const Isa have = active_isa();
  if (need <= have) return;
  std::fprintf(stderr,
               "moe-sweep: internal error: %s needs the CPU level %s, but the level in use is %s "
               "(a kernel was called without dispatch)\n",
               function, isa_name(need), isa_name(have));
  std::abort();
}

}  // namespace moe::cpu
