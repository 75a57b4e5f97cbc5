// SafetensorsWriter: single-file and sharded safetensors output, written through a writable
// mapping of the output file so streamed tensors never need a buffer of their own.
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "runtime/core/error.h"
#include "runtime/io/files.h"
#include "runtime/io/json_util.h"
#include "runtime/io/safetensors.h"

namespace moe::io {
namespace {

// A writable shared mapping of the first `size` bytes of an output file.
class WritableMapping {
 public:
  WritableMapping(const OutputFile& f, uint64_t size) : size_(size) {
    if (size == 0) return;
    p_ = ::mmap(nullptr, size_t(size), PROT_READ | PROT_WRITE, MAP_SHARED, f.fd(), 0);
    if (p_ == MAP_FAILED) {
      p_ = nullptr;
      f.fail("cannot map");
    }
  }
  ~WritableMapping() {
    if (p_) ::munmap(p_, size_t(size_));
  }
  WritableMapping(const WritableMapping&) = delete;
  WritableMapping& operator=(const WritableMapping&) = delete;
  uint8_t* data() { return static_cast<uint8_t*>(p_); }

 private:
  void* p_ = nullptr;
  uint64_t size_;
};

}  // namespace

void SafetensorsWriter::add_entry(Entry e) {
  MOE_ASSERT(e.name != "__metadata__", "'__metadata__' is reserved");
  MOE_ASSERT(names_.count(e.name) == 0, "tensor '{}' added twice", e.name);
  for (int64_t d : e.shape) MOE_ASSERT(d >= 0, "negative dimension in {}", shape_str(e.shape));
  auto nb = dtype_bytes(e.dtype, uint64_t(shape_numel(e.shape)));
  MOE_ASSERT(nb.has_value(), "{} {} is not a whole number of bytes", dtype_name(e.dtype),
             shape_str(e.shape));
  e.nbytes = *nb;
  names_.emplace(e.name, entries_.size());
  entries_.push_back(std::move(e));
}

void SafetensorsWriter::add(const std::string& name, DType dtype, const Shape& shape,
                            std::vector<uint8_t> bytes) {
  auto nb = dtype_bytes(dtype, uint64_t(shape_numel(shape)));
  MOE_ASSERT(nb && *nb == bytes.size(), "tensor '{}': {} bytes for {} {}", name, bytes.size(),
             dtype_name(dtype), shape_str(shape));
  add_entry(Entry{name, dtype, shape, 0, std::move(bytes), nullptr});
}

void SafetensorsWriter::add(const std::string& name, const Tensor& t) {
  MOE_ASSERT(t.device() == Device::CPU, "tensor '{}' is not on the CPU", name);
  const auto* p = static_cast<const uint8_t*>(t.raw());
  add(name, t.dtype(), t.shape(), std::vector<uint8_t>(p, p + t.nbytes()));
}

void SafetensorsWriter::add(const std::string& name, DType dtype, const Shape& shape, Filler fill) {
  MOE_ASSERT(fill != nullptr, "tensor '{}': empty filler", name);
  add_entry(Entry{name, dtype, shape, 0, {}, std::move(fill)});
}

uint64_t SafetensorsWriter::total_bytes() const {
  uint64_t s = 0;
  for (const Entry& e : entries_) s += e.nbytes;
  return s;
}

void SafetensorsWriter::write_file(const std::filesystem::path& file,
                                   const std::vector<const Entry*>& entries) const {
  // Widest elements first, stable: every tensor starts aligned for its element type.
  std::vector<const Entry*> order = entries;
  std::stable_sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    return dtype_bits(a->dtype) > dtype_bits(b->dtype);
  });
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  uint64_t offset = 0;
  for (const Entry* e : order) {
    header[e->name] = {{"dtype", std::string(dtype_name(e->dtype))},
                       {"shape", e->shape},
                       {"data_offsets", {offset, offset + e->nbytes}}};
    offset += e->nbytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const uint64_t data_start = 8 + text.size();
  const uint64_t total = data_start + offset;

  OutputFile f(file);
  f.reserve(total);
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = uint8_t(uint64_t(text.size()) >> (8 * i));
  f.pwrite_all(len, 8, 0);
  f.pwrite_all(text.data(), text.size(), 8);
  {
    WritableMapping map(f, total);
    uint8_t* dst = map.data() ? map.data() + data_start : nullptr;
    for (const Entry* e : order) {
      if (e->nbytes == 0) continue;
      if (e->fill) {
        e->fill(dst, e->nbytes);
      } else {
        std::memcpy(dst, e->bytes.data(), e->bytes.size());
      }
      dst += e->nbytes;
    }
  }
  f.commit();
}

void SafetensorsWriter::write(const std::filesystem::path& file) const {
  std::vector<const Entry*> all;
  for (const Entry& e : entries_) all.push_back(&e);
  write_file(file, all);
}

std::vector<std::string> SafetensorsWriter::write_sharded(const std::filesystem::path& dir,
                                                          uint64_t max_shard_bytes) const {
  MOE_ASSERT(max_shard_bytes > 0, "shard size must be positive");
  std::vector<std::vector<const Entry*>> shards(1);
  uint64_t in_shard = 0;
  for (const Entry& e : entries_) {
    if (!shards.back().empty() && in_shard + e.nbytes > max_shard_bytes) {
      shards.emplace_back();
      in_shard = 0;
    }
    shards.back().push_back(&e);
    in_shard += e.nbytes;
  }
  const size_t n = shards.size();
  std::vector<std::string> names;
  Json weight_map = Json::object();
  for (size_t i = 0; i < n; ++i) {
    names.push_back(fmt::format("model-{:05d}-of-{:05d}.safetensors", i + 1, n));
    write_file(dir / names.back(), shards[i]);
    for (const Entry* e : shards[i]) weight_map[e->name] = names.back();
  }
  Json index = {{"metadata", {{"total_size", total_bytes()}}}, {"weight_map", weight_map}};
  write_text_file(dir / Checkpoint::kIndexFile, index.dump(2) + "\n");
  return names;
}

}  // namespace moe::io
