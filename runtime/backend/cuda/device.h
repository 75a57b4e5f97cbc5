// Device resources of the CUDA backend, each owned by RAII:
//   DeviceContext  the device, a non-blocking stream and a cuBLAS handle bound to it. Shared
//                  (shared_ptr) by the backend and by every device tensor it allocated, so the
//                  stream outlives the last stream-ordered free.
//   device_alloc   stream-ordered device memory (cudaMallocAsync / cudaFreeAsync on the
//                  context's stream, from the device's default pool, kept between calls): a
//                  buffer may be released while kernels that use it are still queued.
//   upload         a host array copied into new device memory on the stream. The copy reads a
//                  staging copy of the array that the context keeps until its next sync(), so
//                  the caller's array may go away at once whenever the driver performs the copy.
// Internal to runtime/backend/cuda (includes the CUDA headers).
// Thread-safety: a context is used by one backend's forward pass at a time.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "runtime/core/tensor.h"

namespace moe::cuda {

class DeviceContext {
 public:
  explicit DeviceContext(int device);
  ~DeviceContext();
  DeviceContext(const DeviceContext&) = delete;
  DeviceContext& operator=(const DeviceContext&) = delete;
  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  cublasHandle_t cublas() const { return cublas_; }
  // Waits for everything queued on the stream (throws on a device fault); drops the staging
  // copies of finished uploads.
  void sync();
  // A host copy of `bytes` bytes of `src` that stays valid until the next sync().
  const void* stage(const void* src, size_t bytes);

 private:
  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  std::vector<std::unique_ptr<char[]>> staged_;
  size_t staged_bytes_ = 0;
};

// `bytes` of device memory, released stream-ordered when the last handle goes.
std::shared_ptr<void> device_alloc(const std::shared_ptr<DeviceContext>& ctx, size_t bytes);
// A device tensor of the given dtype and shape (contents undefined).
Tensor device_tensor(const std::shared_ptr<DeviceContext>& ctx, DType t, Shape shape);

// A device copy of a host array, alive as long as the handle.
template <class T>
struct DeviceArray {
  std::shared_ptr<void> owner;
  T* get() const { return static_cast<T*>(owner.get()); }
};
std::shared_ptr<void> upload_bytes(const std::shared_ptr<DeviceContext>& ctx, const void* src,
                                   size_t bytes);
template <class T>
DeviceArray<T> upload(const std::shared_ptr<DeviceContext>& ctx, std::span<const T> host) {
  return {upload_bytes(ctx, host.data(), host.size_bytes())};
}

}  // namespace moe::cuda
