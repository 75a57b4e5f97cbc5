// Tensor: a typed, row-major, contiguous n-d array on one device.
//
// A Tensor either owns its storage (Tensor::empty/zeros) or views storage owned by someone else
// (a memory-mapped checkpoint, a pinned buffer) that it keeps alive through a shared owner handle.
// Copying a Tensor copies the handle, not the data (like shared_ptr); use clone() for a deep copy.
// No strides: every tensor is contiguous, as in safetensors. Sub-byte dtypes (F4, F6) are only
// viewed, never allocated element-wise.
// Thread-safety: handles may be shared across threads; concurrent writes to the same data are the
// caller's responsibility.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/core/dtype.h"

namespace moe {

enum class Device : uint8_t { CPU, CUDA };

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);  // "[2, 3]"
int64_t shape_numel(const Shape& s);

// Allocator for non-CPU devices; the CUDA backend registers one. CPU memory is 64-byte aligned.
struct DeviceAllocator {
  virtual ~DeviceAllocator() = default;
  virtual std::shared_ptr<void> allocate(size_t bytes) = 0;
};
void register_device_allocator(Device d, DeviceAllocator* a);

// A backend's second layout of a weight's data (CpuFastBackend: bf16 rows re-laid in panels for
// its kernels), attached by Backend::prepare_weight. Each backend derives its own and finds it
// again by dynamic_cast.
struct PreparedLayout {
  virtual ~PreparedLayout() = default;
};

class Tensor {
 public:
  Tensor() = default;
  static Tensor empty(DType t, Shape shape, Device d = Device::CPU);
  static Tensor zeros(DType t, Shape shape);  // CPU only
  // Views `data` (not copied); `owner` keeps it alive (may be null for static data).
  static Tensor view(DType t, Shape shape, void* data, std::shared_ptr<void> owner,
                     Device d = Device::CPU);
  // CPU f32 tensor from values (tests, small tables).
  static Tensor from_f32(Shape shape, const std::vector<float>& values);

  bool defined() const { return data_ != nullptr || numel() == 0; }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return int(shape_.size()); }
  int64_t size(int i) const { return shape_[i < 0 ? i + ndim() : i]; }
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const;

  void* raw() { return data_; }
  const void* raw() const { return data_; }
  template <typename T>
  T* data() { return static_cast<T*>(data_); }
  template <typename T>
  const T* data() const { return static_cast<const T*>(data_); }

  // Same storage, new shape with the same element count (without the prepared layout).
  Tensor reshape(Shape shape) const;
  // Same storage: rows [begin, end) along dim 0 (without the prepared layout).
  Tensor slice_rows(int64_t begin, int64_t end) const;
  // Deep copy on the CPU (without the prepared layout).
  Tensor clone() const;
  // The same tensor carrying `layout`, the same data in another arrangement (copies of the
  // handle share it); null: none.
  Tensor with_layout(std::shared_ptr<const PreparedLayout> layout) const;
  const PreparedLayout* layout() const { return layout_.get(); }
  // CPU conversion of any float dtype (F32, BF16, F16, F8) to a new F32 tensor.
  Tensor to_f32() const;

 private:
  DType dtype_ = DType::F32;
  Device device_ = Device::CPU;
  Shape shape_;
  void* data_ = nullptr;
  std::shared_ptr<void> owner_;
  std::shared_ptr<const PreparedLayout> layout_;
};

}  // namespace moe
