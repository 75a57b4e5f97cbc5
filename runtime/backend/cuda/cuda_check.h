// CUDA_CHECK / CUBLAS_CHECK / NCCL_CHECK: turn a failed CUDA, cuBLAS or NCCL call into a
// moe::Error naming the call, file:line and the library's own message.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <nccl.h>

#include "runtime/core/error.h"

namespace moe::cuda {
[[noreturn]] void throw_cuda(const char* call, const char* file, int line, const char* msg);
}

#define CUDA_CHECK(call)                                                                   \
  do {                                                                                     \
    cudaError_t err_ = (call);                                                             \
    if (err_ != cudaSuccess)                                                               \
      ::moe::cuda::throw_cuda(#call, __FILE__, __LINE__, cudaGetErrorString(err_));        \
  } while (0)
#define CUBLAS_CHECK(call)                                                                 \
  do {                                                                                     \
    cublasStatus_t st_ = (call);                                                           \
    if (st_ != CUBLAS_STATUS_SUCCESS)                                                      \
      ::moe::cuda::throw_cuda(#call, __FILE__, __LINE__, cublasGetStatusString(st_));      \
  } while (0)
#define NCCL_CHECK(call)                                                                   \
  do {                                                                                     \
    ncclResult_t r_ = (call);                                                              \
    if (r_ != ncclSuccess)                                                                 \
      ::moe::cuda::throw_cuda(#call, __FILE__, __LINE__, ncclGetErrorString(r_));          \
  } while (0)
