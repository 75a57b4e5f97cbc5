#include "runtime/backend/cpu/kernels.h"

#if defined(__x86_64__)
#include "runtime/backend/cpu/level_kernels.h"
#endif

namespace moe::cpu {

const Kernels* kernels_for(Isa level) {
  if (level > active_isa()) return nullptr;
#if defined(__x86_64__)
  switch (level) {
    case Isa::kGeneric:
      return nullptr;
    case Isa::kAvx2:
    case Isa::kAvx512:
      return &avx2::kTable;
    case Isa::kAvx512Bf16:
      return &avx512bf16::kTable;
    case Isa::kAmx:
      return &amx::kTable;
  }
#endif
  return nullptr;
}

const Kernels* kernels() {
  return kernels_for(active_isa());
}

}  // namespace moe::cpu
