// The CUDA backend's entry points, usable from CPU code: this header includes no CUDA header, so
// it compiles in every build. The backend itself (CudaBackend, runtime/backend/cuda/backend.h)
// is built only when the CUDA toolkit and NCCL are found (MOE_HAVE_CUDA); in other builds these
// functions report that it is missing (runtime/backend/cuda_unavailable.cpp).
// Thread-safety: the functions are safe to call from any thread; a backend follows Backend's
// rules.
#pragma once

#include <memory>
#include <string>

#include "runtime/backend/backend.h"

namespace moe {

// True when this build contains the CUDA backend.
bool cuda_built();
// Number of CUDA devices this process sees: 0 without CUDA in the build, without a driver or
// without GPUs; `why`, when given, then receives the reason.
int cuda_device_count(std::string* why = nullptr);
// The "cuda" backend on the current device. Throws moe::Error "CUDA backend not available:
// <reason>" where the build has no CUDA or the machine no usable GPU.
std::shared_ptr<Backend> make_cuda_backend(const BackendOptions& options);

}  // namespace moe
