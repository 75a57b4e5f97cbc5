#include "runtime/backend/cuda/cuda_check.h"

namespace moe::cuda {
void throw_cuda(const char* call, const char* file, int line, const char* msg) {
  throw Error(fmt::format("{} failed at {}:{}: {}", call, file, line, msg));
}
}  // namespace moe::cuda
