// safetensors: reading (mmap, zero-copy views, full validation) and writing (single file or
// sharded with model.safetensors.index.json), per MODELS.md section 0.
//
// SafetensorsFile owns one read-only mapping; the Tensors it hands out view that mapping and keep
// it alive (the mapping outlives the SafetensorsFile if views remain). Checkpoint resolves names
// across shards through the index's weight_map (never by guessing shard names).
// Every validation failure throws moe::InputError naming the file, the tensor and the byte offset.
// Thread-safety: const methods are safe to call concurrently after open().
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/core/tensor.h"

namespace moe::io {

struct TensorInfo {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin = 0;  // byte offset relative to the data buffer
  uint64_t end = 0;    // exclusive
  uint64_t nbytes() const { return end - begin; }
};

class SafetensorsFile {
 public:
  // Maps and validates `path`. Throws InputError on any problem.
  static std::shared_ptr<SafetensorsFile> open(const std::filesystem::path& path);
  // Validates a header held in memory (no mapping): used by the fuzzer and by open().
  // `file_size` is the total size of the file the header came from.
  static std::vector<TensorInfo> parse_header(const uint8_t* data, uint64_t size,
                                              const std::string& file_label,
                                              std::map<std::string, std::string>* metadata);

  const std::filesystem::path& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // in data-offset order
  const TensorInfo* find(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  uint64_t file_size() const { return file_size_; }
  // Zero-copy view of a tensor (keeps the mapping alive). Throws InputError if absent.
  Tensor view(const std::string& name) const;
  const uint8_t* data_buffer() const { return base_ + data_start_; }

  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

 private:
  SafetensorsFile() = default;
  std::filesystem::path path_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
  std::shared_ptr<void> mapping_;  // munmap on release
  const uint8_t* base_ = nullptr;
  uint64_t file_size_ = 0;
  uint64_t data_start_ = 0;
};

// A checkpoint directory: model.safetensors, or shards listed by model.safetensors.index.json.
class Checkpoint {
 public:
  static Checkpoint open(const std::filesystem::path& dir);
  const std::filesystem::path& dir() const { return dir_; }
  bool has(const std::string& name) const;
  const TensorInfo& info(const std::string& name) const;  // throws InputError if absent
  Tensor get(const std::string& name) const;               // zero-copy view
  // Throws InputError naming the tensor if absent or if dtype/shape differ from expected.
  Tensor get(const std::string& name, DType dtype, const Shape& shape) const;
  std::vector<std::string> names() const;  // sorted
  std::filesystem::path file_of(const std::string& name) const;
  uint64_t bytes_on_disk() const;  // sum of shard file sizes
  const std::vector<std::shared_ptr<SafetensorsFile>>& files() const { return files_; }

 private:
  std::filesystem::path dir_;
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> where_;  // tensor name -> index in files_
};

// Writes tensors to one safetensors file, or to shards plus an index. Data is written in the
// order tensors were added, contiguous and 8-byte aligned (as the reference writer does).
class SafetensorsWriter {
 public:
  // `bytes` must equal dtype_bytes(dtype, numel(shape)).
  void add(const std::string& name, DType dtype, const Shape& shape, std::vector<uint8_t> bytes);
  void add(const std::string& name, const Tensor& t);  // CPU tensor, copied
  // Streams: `fill(dst)` writes the tensor's bytes when the file is written, so a full-size
  // random checkpoint never needs to be held in memory at once.
  using Filler = std::function<void(uint8_t* dst, uint64_t nbytes)>;
  void add(const std::string& name, DType dtype, const Shape& shape, Filler fill);
  void set_metadata(std::map<std::string, std::string> m) { metadata_ = std::move(m); }
  // One file.
  void write(const std::filesystem::path& file) const;
  // Shards of at most max_shard_bytes each: model-0000i-of-0000n.safetensors + index json.
  void write_sharded(const std::filesystem::path& dir, uint64_t max_shard_bytes) const;

 private:
  struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    std::vector<uint8_t> bytes;  // or empty with `fill` set
    Filler fill;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace moe::io
