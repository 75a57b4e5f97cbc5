#include "runtime/backend/cuda/device.h"

#include <cstdint>
#include <cstring>

#include "runtime/backend/cuda/cuda_check.h"

namespace moe::cuda {

DeviceContext::DeviceContext(int device) : device_(device) {
  CUDA_CHECK(cudaSetDevice(device_));
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  if (cublasStatus_t st = cublasCreate(&cublas_); st != CUBLAS_STATUS_SUCCESS) {
    cudaStreamDestroy(stream_);
    CUBLAS_CHECK(st);
  }
  CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
  // Plain f32 products (no TF32) for f32 weights; pointer arrays and scalars on the host side.
  CUBLAS_CHECK(cublasSetMathMode(cublas_, CUBLAS_PEDANTIC_MATH));
  // Keep freed memory in the pool between steps instead of returning it at every sync.
  cudaMemPool_t pool = nullptr;
  CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device_));
  uint64_t keep = UINT64_MAX;
  CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep));
}

DeviceContext::~DeviceContext() {
  cudaSetDevice(device_);
  cudaStreamSynchronize(stream_);
  cublasDestroy(cublas_);
  cudaStreamDestroy(stream_);
}

void DeviceContext::sync() {
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  staged_.clear();
  staged_bytes_ = 0;
}

const void* DeviceContext::stage(const void* src, size_t bytes) {
  // Bound the staging memory of a long run without syncs (e.g. many steps without logits).
  if (staged_bytes_ > (size_t(64) << 20)) sync();
  staged_.push_back(std::make_unique<char[]>(bytes));
  std::memcpy(staged_.back().get(), src, bytes);
  staged_bytes_ += bytes;
  return staged_.back().get();
}

std::shared_ptr<void> device_alloc(const std::shared_ptr<DeviceContext>& ctx, size_t bytes) {
  void* p = nullptr;
  if (bytes > 0) CUDA_CHECK(cudaMallocAsync(&p, bytes, ctx->stream()));
  return std::shared_ptr<void>(p, [ctx](void* q) {
    if (q) cudaFreeAsync(q, ctx->stream());
  });
}

Tensor device_tensor(const std::shared_ptr<DeviceContext>& ctx, DType t, Shape shape) {
  const auto bytes = dtype_bytes(t, uint64_t(shape_numel(shape)));
  MOE_ASSERT(bytes.has_value(), "device tensor of {} {}", dtype_name(t), shape_str(shape));
  std::shared_ptr<void> mem = device_alloc(ctx, size_t(*bytes));
  void* p = mem.get();
  return Tensor::view(t, std::move(shape), p, std::move(mem), Device::CUDA);
}

std::shared_ptr<void> upload_bytes(const std::shared_ptr<DeviceContext>& ctx, const void* src,
                                   size_t bytes) {
  std::shared_ptr<void> mem = device_alloc(ctx, bytes);
  if (bytes > 0)
    CUDA_CHECK(cudaMemcpyAsync(mem.get(), ctx->stage(src, bytes), bytes, cudaMemcpyHostToDevice,
                               ctx->stream()));
  return mem;
}

}  // namespace moe::cuda
