// safetensors: reading (mmap, zero-copy views, full validation) and writing (single file or
// sharded with model.safetensors.index.json), per runtime/models/README.md section 0.
//
// SafetensorsFile owns one read-only mapping; the Tensors it hands out view that mapping and keep
// it alive (the mapping outlives the SafetensorsFile if views remain). The mapping is PROT_READ:
// views of a checkpoint must not be written to. Offsets inside the file are not guaranteed to be
// aligned for the element type: read elements with memcpy (or copy the tensor) rather than
// casting the pointer when alignment matters.
// Checkpoint resolves names across shards through the index's weight_map (never by guessing
// shard names).
// Every validation failure throws moe::InputError naming the file, the tensor and the byte offset
// (absolute in the file), what was expected and what was found.
// Thread-safety: SafetensorsFile and Checkpoint are immutable after open(); all const methods are
// safe to call concurrently. SafetensorsWriter is not thread-safe (build it from one thread).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/core/tensor.h"

namespace moe::io {

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  uint64_t begin = 0;  // byte offset relative to the data buffer
  uint64_t end = 0;    // exclusive
  uint64_t nbytes() const { return end - begin; }
};

// What a header says, after validation against the file it came from.
struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;              // sorted by data offset
  std::map<std::string, std::string> metadata;  // "__metadata__" (may be empty)
  uint64_t data_start = 0;                      // 8 + header length: where the data buffer starts
};

class SafetensorsFile {
 public:
  // Maps and validates `path`. Throws InputError on any problem.
  static std::shared_ptr<SafetensorsFile> open(const std::filesystem::path& path);
  // Validates the header of a file held in memory: `data` is the whole file (`size` bytes), so
  // offsets are checked against the real data buffer. `file_label` names the file in errors.
  // Used by open() and by the fuzzer. Throws InputError on any problem.
  static SafetensorsHeader parse_header(const uint8_t* data, uint64_t size,
                                        const std::string& file_label);

  const std::filesystem::path& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return header_.tensors; }  // offset order
  const TensorInfo* find(const std::string& name) const;  // null if absent
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  uint64_t file_size() const { return file_size_; }
  // Zero-copy view of a tensor (keeps the mapping alive). Throws InputError if absent.
  Tensor view(const std::string& name) const;
  const uint8_t* data_buffer() const { return base_ + header_.data_start; }
  uint64_t data_start() const { return header_.data_start; }

  ~SafetensorsFile() = default;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

 private:
  SafetensorsFile() = default;
  std::filesystem::path path_;
  SafetensorsHeader header_;
  std::map<std::string, size_t> index_;  // name -> position in header_.tensors
  std::shared_ptr<void> mapping_;        // munmap on release
  const uint8_t* base_ = nullptr;
  uint64_t file_size_ = 0;
};

// A checkpoint directory: model.safetensors, or shards listed by model.safetensors.index.json
// (the index wins when both exist, as in transformers).
class Checkpoint {
 public:
  static constexpr const char* kSingleFile = "model.safetensors";
  static constexpr const char* kIndexFile = "model.safetensors.index.json";

  // Throws InputError if neither file exists, if the index is malformed, if a shard it names is
  // missing (naming the shard and a tensor that needs it), or if a tensor the index maps to a
  // shard is not in that shard.
  static Checkpoint open(const std::filesystem::path& dir);
  const std::filesystem::path& dir() const { return dir_; }
  bool sharded() const { return sharded_; }
  bool has(const std::string& name) const;
  const TensorInfo& info(const std::string& name) const;  // throws InputError if absent
  Tensor get(const std::string& name) const;               // zero-copy view
  // Throws InputError naming the tensor if absent or if dtype/shape differ from expected.
  Tensor get(const std::string& name, DType dtype, const Shape& shape) const;
  std::vector<std::string> names() const;  // sorted
  std::filesystem::path file_of(const std::string& name) const;
  uint64_t bytes_on_disk() const;  // sum of the safetensors files' sizes (index excluded)
  const std::vector<std::shared_ptr<SafetensorsFile>>& files() const { return files_; }

 private:
  std::filesystem::path dir_;
  bool sharded_ = false;
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> where_;  // tensor name -> index in files_
};

// Writes tensors to one safetensors file, or to shards plus an index. Within a file, tensors are
// grouped by element width, widest first (as the reference writer does, so every tensor starts
// at an offset aligned for its element type), in the order they were added within a group; the
// header is padded with spaces to a multiple of 8 bytes. Shards take tensors in the order added.
// Files are written to "<name>.tmp" and renamed into place once complete.
class SafetensorsWriter {
 public:
  // `bytes` must hold exactly dtype_bytes(dtype, numel(shape)) bytes.
  void add(const std::string& name, DType dtype, const Shape& shape, std::vector<uint8_t> bytes);
  void add(const std::string& name, const Tensor& t);  // CPU tensor, copied
  // Streams: `fill(dst, nbytes)` writes the tensor's bytes straight into the output file (a
  // writable mapping) when the file is written, so a full-size random checkpoint is never held
  // in memory. `fill` is called once per write.
  using Filler = std::function<void(uint8_t* dst, uint64_t nbytes)>;
  void add(const std::string& name, DType dtype, const Shape& shape, Filler fill);
  void set_metadata(std::map<std::string, std::string> m) { metadata_ = std::move(m); }

  size_t size() const { return entries_.size(); }
  uint64_t total_bytes() const;  // sum of tensor data sizes (the index's total_size)

  // One file.
  void write(const std::filesystem::path& file) const;
  // Shards of at most max_shard_bytes of tensor data each (a larger tensor gets a shard of its
  // own): model-0000i-of-0000n.safetensors plus model.safetensors.index.json. Returns the shard
  // file names in order.
  std::vector<std::string> write_sharded(const std::filesystem::path& dir,
                                         uint64_t max_shard_bytes) const;

 private:
  struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    uint64_t nbytes = 0;
    std::vector<uint8_t> bytes;  // or empty with `fill` set
    Filler fill;
  };
  void add_entry(Entry e);
  void write_file(const std::filesystem::path& file, const std::vector<const Entry*>& entries) const;
  std::vector<Entry> entries_;
  std::map<std::string, size_t> names_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace moe::io
