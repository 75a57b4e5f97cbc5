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

int64_t panels_size(int64_t N, int64_t K) {
  return (N + kPanelRows - 1) / kPanelRows * kPanelRows * K;
}

void pack_bf16_panels(const uint16_t* w, int64_t N, int64_t K, int64_t ldw, int64_t p0, int64_t p1,
                      uint16_t* out) {
  constexpr int64_t kHalf = kPanelRows / 2;
  for (int64_t p = p0; p < p1; ++p) {
    uint16_t* panel = out + p * kPanelRows * K;
    for (int64_t i = 0; i < kPanelRows; ++i) {
      const int64_t n = p * kPanelRows + i;
      // Row i of the panel goes to slot 2i (i < 8) or 2(i - 8) + 1, every 16 values.
      uint16_t* dst = panel + (i < kHalf ? 2 * i : 2 * (i - kHalf) + 1);
      if (n >= N) {
        for (int64_t k = 0; k < K; ++k) dst[k * kPanelRows] = 0;
        continue;
      }
      const uint16_t* src = w + n * ldw;
      for (int64_t k = 0; k < K; ++k) dst[k * kPanelRows] = src[k];
    }
  }
}

const Kernels* kernels() {
  return kernels_for(active_isa());
}

}  // namespace moe::cpu
