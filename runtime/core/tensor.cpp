#include "runtime/core/tensor.h"

#include <array>
#include <cstdlib>
#include <cstring>

#include "runtime/core/error.h"

namespace moe {
namespace {
std::array<DeviceAllocator*, 2> g_allocators{};
}

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

void register_device_allocator(Device d, DeviceAllocator* a) {
  g_allocators[static_cast<size_t>(d)] = a;
}

size_t Tensor::nbytes() const {
  auto b = dtype_bytes(dtype_, uint64_t(numel()));
  MOE_ASSERT(b.has_value(), "tensor of {} {} is not a whole number of bytes", dtype_name(dtype_),
             shape_str(shape_));
  return size_t(*b);
}

Tensor Tensor::empty(DType t, Shape shape, Device d) {
  for (int64_t x : shape) MOE_ASSERT(x >= 0, "negative dimension in {}", shape_str(shape));
  Tensor out;
  out.dtype_ = t;
  out.device_ = d;
  out.shape_ = std::move(shape);
  const size_t bytes = out.nbytes();
  if (d == Device::CPU) {
    const size_t padded = (bytes + 63) / 64 * 64;
    void* p = padded ? std::aligned_alloc(64, padded) : nullptr;
    if (padded && !p) throw Error(fmt::format("out of memory allocating {} bytes", bytes));
    out.owner_ = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
    out.data_ = p;
  } else {
    DeviceAllocator* a = g_allocators[static_cast<size_t>(d)];
    if (!a) throw Error("no allocator registered for this device (built without CUDA?)");
    out.owner_ = a->allocate(bytes);
    out.data_ = out.owner_.get();
  }
  return out;
}

Tensor Tensor::zeros(DType t, Shape shape) {
  Tensor out = empty(t, std::move(shape));
  if (out.nbytes()) std::memset(out.data_, 0, out.nbytes());
  return out;
}

Tensor Tensor::view(DType t, Shape shape, void* data, std::shared_ptr<void> owner, Device d) {
  Tensor out;
  out.dtype_ = t;
  out.device_ = d;
  out.shape_ = std::move(shape);
  out.data_ = data;
  out.owner_ = std::move(owner);
  return out;
}

Tensor Tensor::from_f32(Shape shape, const std::vector<float>& values) {
  MOE_ASSERT(shape_numel(shape) == int64_t(values.size()), "{} values for shape {}",
             values.size(), shape_str(shape));
  Tensor out = empty(DType::F32, std::move(shape));
  if (!values.empty()) std::memcpy(out.data_, values.data(), values.size() * sizeof(float));
  return out;
}

Tensor Tensor::reshape(Shape shape) const {
  MOE_ASSERT(shape_numel(shape) == numel(), "reshape {} -> {}", shape_str(shape_),
             shape_str(shape));
  Tensor out = *this;
  out.shape_ = std::move(shape);
  out.layout_.reset();
  return out;
}

Tensor Tensor::slice_rows(int64_t begin, int64_t end) const {
  MOE_ASSERT(ndim() >= 1 && 0 <= begin && begin <= end && end <= shape_[0], "slice [{}, {}) of {}",
             begin, end, shape_str(shape_));
  Tensor out = *this;
  const size_t row_bytes = shape_[0] ? nbytes() / size_t(shape_[0]) : 0;
  out.shape_[0] = end - begin;
  out.data_ = static_cast<char*>(data_) + size_t(begin) * row_bytes;
  out.layout_.reset();
  return out;
}

Tensor Tensor::with_layout(std::shared_ptr<const PreparedLayout> layout) const {
  Tensor out = *this;
  out.layout_ = std::move(layout);
  return out;
}

Tensor Tensor::clone() const {
  MOE_ASSERT(device_ == Device::CPU, "clone() is CPU-only");
  Tensor out = empty(dtype_, shape_);
  if (nbytes()) std::memcpy(out.data_, data_, nbytes());
  return out;
}

Tensor Tensor::to_f32() const {
  MOE_ASSERT(device_ == Device::CPU, "to_f32() is CPU-only");
  Tensor out = empty(DType::F32, shape_);
  float* o = out.data<float>();
  const int64_t n = numel();
  switch (dtype_) {
    case DType::F32: if (n) std::memcpy(o, data_, size_t(n) * 4); break;
    case DType::BF16: for (int64_t i = 0; i < n; ++i) o[i] = bf16_to_f32(data<uint16_t>()[i]); break;
    case DType::F16: for (int64_t i = 0; i < n; ++i) o[i] = f16_to_f32(data<uint16_t>()[i]); break;
    case DType::F64: for (int64_t i = 0; i < n; ++i) o[i] = float(data<double>()[i]); break;
    case DType::F8_E4M3: for (int64_t i = 0; i < n; ++i) o[i] = f8_e4m3_to_f32(data<uint8_t>()[i]); break;
    case DType::F8_E5M2: for (int64_t i = 0; i < n; ++i) o[i] = f8_e5m2_to_f32(data<uint8_t>()[i]); break;
    default:
      throw Error(fmt::format("cannot convert {} to F32", dtype_name(dtype_)));
  }
  return out;
}

}  // namespace moe
