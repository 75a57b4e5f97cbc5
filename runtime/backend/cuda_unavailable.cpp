// The CUDA entry points of a build without the CUDA toolkit (cuda/cuda_backend.h): every call
// reports that the backend is missing. Builds with CUDA define them in runtime/backend/cuda.
#include "runtime/backend/cuda/cuda_backend.h"

#if !MOE_HAVE_CUDA

#include "runtime/core/error.h"

namespace moe {

namespace {
constexpr const char* kNotBuilt =
    "this build has no CUDA (the CUDA toolkit and NCCL were not found at configure time)";
}

bool cuda_built() { return false; }

int cuda_device_count(std::string* why) {
  if (why) *why = kNotBuilt;
  return 0;
}

std::shared_ptr<Backend> make_cuda_backend(const BackendOptions&) {
  throw Error(fmt::format("CUDA backend not available: {}", kNotBuilt));
}

}  // namespace moe

#endif
