// safetensors reading and checkpoint (shard) resolution. The writer is in safetensors_writer.cpp.
#include "runtime/io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <string_view>

#include "runtime/core/error.h"
#include "runtime/io/json_util.h"

namespace moe::io {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;

std::string dtype_list() {
  std::string s;
  for (int i = 0; i <= int(DType::F6_E3M2); ++i) {
    s += (i ? ", " : "");
    s += dtype_name(DType(i));
  }
  return s;
}

std::string span_str(uint64_t b, uint64_t e) { return fmt::format("[{}, {})", b, e); }

// Reads an offset/dimension: a non-negative JSON integer.
bool non_negative(const Json& v, uint64_t* out) {
  if (v.is_number_unsigned()) {
    *out = v.get<uint64_t>();
    return true;
  }
  return false;  // negative integers, floats, strings, ...
}

// One header entry -> TensorInfo (without range checks against the buffer).
TensorInfo parse_entry(const std::string& name, const Json& v, const std::string& where) {
  if (!v.is_object()) {
    throw input_error(where, "expected an object with dtype, shape and data_offsets, found {}",
                      describe_json(v));
  }
  TensorInfo t;
  t.name = name;
  auto dt = v.find("dtype");
  if (dt == v.end())
    throw input_error(where, "expected key 'dtype' (one of {}), found nothing", dtype_list());
  if (!dt->is_string()) {
    throw input_error(where, "expected 'dtype' to be one of {}, found {}", dtype_list(),
                      describe_json(*dt));
  }
  auto parsed = parse_dtype(dt->get<std::string>());
  if (!parsed) {
    throw input_error(where, "expected 'dtype' to be one of {}, found {}", dtype_list(),
                      describe_json(*dt));
  }
  t.dtype = *parsed;

  auto sh = v.find("shape");
  if (sh == v.end())
    throw input_error(where, "expected key 'shape' (a list of dimensions), found nothing");
  if (!sh->is_array())
    throw input_error(where, "expected 'shape' to be a list of dimensions, found {}",
                      describe_json(*sh));
  bool overflow = false;
  uint64_t numel = 1;
  for (size_t i = 0; i < sh->size(); ++i) {
    uint64_t d;
    if (!non_negative((*sh)[i], &d) || d > uint64_t(INT64_MAX)) {
      throw input_error(where, "expected shape[{}] to be a non-negative integer below 2^63, "
                        "found {}", i, describe_json((*sh)[i]));
    }
    // The product of the non-zero dimensions must stay below 2^62, so that element counts
    // never overflow anywhere downstream (even for an empty tensor).
    if (d != 0 && numel > (uint64_t(1) << 62) / d) overflow = true;
    else if (d != 0) numel *= d;
    t.shape.push_back(int64_t(d));
  }
  if (overflow) {
    throw input_error(where, "expected a shape with fewer than 2^62 elements, found {}",
                      sh->dump());
  }

  auto off = v.find("data_offsets");
  if (off == v.end())
    throw input_error(where, "expected key 'data_offsets' ([begin, end)), found nothing");
  uint64_t b = 0, e = 0;
  if (!off->is_array() || off->size() != 2 || !non_negative((*off)[0], &b) ||
      !non_negative((*off)[1], &e)) {
    throw input_error(where, "expected 'data_offsets' to be [begin, end] (two non-negative "
                      "integers), found {}", off->is_array() ? off->dump() : describe_json(*off));
  }
  if (e < b) {
    throw input_error(where, "expected data_offsets begin <= end, found {}", off->dump());
  }
  t.begin = b;
  t.end = e;
  return t;
}

}  // namespace

SafetensorsHeader SafetensorsFile::parse_header(const uint8_t* data, uint64_t size,
                                                const std::string& file) {
  if (size < 8) {
    throw input_error(file, "expected at least 8 bytes (the header length), found a file of {} "
                      "bytes", size);
  }
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];  // little-endian u64
  if (n > kMaxHeaderBytes) {
    throw input_error(file + ": byte 0", "expected a header length of at most {} bytes, found {} "
                      "(not a safetensors file, or a corrupt one)", kMaxHeaderBytes, n);
  }
  if (n > size - 8) {
    throw input_error(file + ": byte 0", "expected a header length of at most {} (the file is {} "
                      "bytes), found {} (truncated file?)", size - 8, size, n);
  }
  SafetensorsHeader h;
  h.data_start = 8 + n;
  const uint64_t buffer = size - h.data_start;
  const std::string_view text(reinterpret_cast<const char*>(data + 8), size_t(n));

  // Parse once with a callback that notes duplicate top-level keys (nlohmann keeps the last).
  std::set<std::string> seen;
  std::string duplicate;
  Json root;
  try {
    root = Json::parse(text.begin(), text.end(),
                       [&](int depth, Json::parse_event_t ev, Json& parsed) {
                         if (ev == Json::parse_event_t::key && depth == 1 && duplicate.empty() &&
                             parsed.is_string() && !seen.insert(parsed.get<std::string>()).second)
                           duplicate = parsed.get<std::string>();
                         return true;
                       });
  } catch (const Json::exception& e) {
    const JsonFailure f = json_failure(e);
    throw input_error(file + ": byte " + std::to_string(8 + f.byte.value_or(0)),
                      "expected a JSON header, found invalid JSON ({})", f.problem);
  }
  if (!root.is_object()) {
    throw input_error(file + ": byte 8", "expected the header to be a JSON object, found {}",
                      describe_json(root));
  }
  if (!duplicate.empty()) {
    throw input_error(file + ": tensor '" + duplicate + "'",
                      "expected unique tensor names, found this name twice in the header");
  }

  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string& key = it.key();
    if (key == "__metadata__") {
      if (it->is_null()) continue;
      if (!it->is_object()) {
        throw input_error(file + ": header key '__metadata__'",
                          "expected an object of string values, found {}", describe_json(*it));
      }
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) {
          throw input_error(file + ": header key '__metadata__." + m.key() + "'",
                            "expected a string, found {}", describe_json(*m));
        }
        h.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    h.tensors.push_back(parse_entry(key, *it, file + ": tensor '" + key + "'"));
  }

  // Sizes, bounds, then the ranges must tile [0, buffer) exactly: no overlap, no gap.
  for (const TensorInfo& t : h.tensors) {
    const std::string where =
        file + ": tensor '" + t.name + "' at byte " + std::to_string(h.data_start + t.begin);
    const uint64_t numel = uint64_t(shape_numel(t.shape));  // < 2^62 (parse_entry)
    auto expect = dtype_bytes(t.dtype, numel);
    if (!expect) {
      throw input_error(where, "expected a whole number of bytes for {} {} ({} elements x {} "
                        "bits), found {} elements", dtype_name(t.dtype), shape_str(t.shape),
                        numel, dtype_bits(t.dtype), numel);
    }
    if (*expect != t.nbytes()) {
      throw input_error(where, "expected {} bytes for {} {}, found data_offsets {} ({} bytes)",
                        *expect, dtype_name(t.dtype), shape_str(t.shape),
                        span_str(t.begin, t.end), t.nbytes());
    }
    if (t.end > buffer) {
      throw input_error(where, "expected data_offsets within the data buffer [0, {}) (file of {} "
                        "bytes), found {} (truncated file?)", buffer, size,
                        span_str(t.begin, t.end));
    }
  }
  std::stable_sort(h.tensors.begin(), h.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t pos = 0;
  const TensorInfo* prev = nullptr;
  for (const TensorInfo& t : h.tensors) {
    const std::string where =
        file + ": tensor '" + t.name + "' at byte " + std::to_string(h.data_start + t.begin);
    if (t.begin < pos) {
      throw input_error(where, "expected data_offsets starting at {} (after tensor '{}' {}), "
                        "found {} which overlaps it", pos, prev->name,
                        span_str(prev->begin, prev->end), span_str(t.begin, t.end));
    }
    if (t.begin > pos) {
      throw input_error(where, "expected data_offsets starting at {} ({}), found {}: a gap of {} "
                        "bytes", pos, prev ? "right after tensor '" + prev->name + "'" :
                        std::string("the start of the data buffer"),
                        span_str(t.begin, t.end), t.begin - pos);
    }
    pos = t.end;
    if (t.nbytes()) prev = &t;
    else if (!prev) prev = &t;
  }
  if (pos != buffer) {
    throw input_error(file + ": byte " + std::to_string(h.data_start + pos),
                      "expected the tensors to cover the whole data buffer ({} bytes), found {} "
                      "bytes after the last tensor{}", buffer, buffer - pos,
                      prev ? " '" + prev->name + "'" : std::string());
  }
  return h;
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
  const std::string label = path.string();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw input_error(label, "cannot open safetensors file: {}", std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw input_error(label, "expected a regular file");
  }
  const uint64_t size = uint64_t(st.st_size);
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  f->file_size_ = size;
  if (size < 8) {
    ::close(fd);
    parse_header(nullptr, size, label);  // throws the "too small" error
  }
  void* p = ::mmap(nullptr, size_t(size), PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);  // the mapping stays valid after close
  if (p == MAP_FAILED) {
    throw input_error(label, "cannot map {} bytes: {}", size, std::strerror(map_errno));
  }
  f->mapping_ = std::shared_ptr<void>(p, [size](void* q) { ::munmap(q, size_t(size)); });
  f->base_ = static_cast<const uint8_t*>(p);
  f->header_ = parse_header(f->base_, size, label);
  for (size_t i = 0; i < f->header_.tensors.size(); ++i)
    f->index_.emplace(f->header_.tensors[i].name, i);
  return f;
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &header_.tensors[it->second];
}

Tensor SafetensorsFile::view(const std::string& name) const {
  const TensorInfo* t = find(name);
  if (!t) throw input_error(path_.string(), "expected a tensor named '{}', found none", name);
  // The view shares ownership of the mapping (aliasing constructor of the owner handle).
  void* data = const_cast<uint8_t*>(data_buffer() + t->begin);
  return Tensor::view(t->dtype, t->shape, data, mapping_);
}

// ---- Checkpoint ------------------------------------------------------------------------------

Checkpoint Checkpoint::open(const std::filesystem::path& dir) {
  Checkpoint c;
  c.dir_ = dir;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    throw input_error(dir.string(), "expected a checkpoint directory, found {}",
                      std::filesystem::exists(dir, ec) ? "a file" : "nothing (no such directory)");
  }
  const auto index_path = dir / kIndexFile;
  const auto single_path = dir / kSingleFile;
  if (std::filesystem::exists(index_path, ec)) {
    c.sharded_ = true;
    const Json root = read_json_file(index_path);
    const JsonObject idx(root, index_path.string());
    auto wm = idx.opt_object("weight_map");
    if (!wm) {
      throw input_error(idx.where("weight_map"),
                        "expected an object mapping tensor names to shard files, found {}",
                        idx.find("weight_map") ? describe_json(*idx.find("weight_map"))
                                               : std::string("nothing (the key is missing)"));
    }
    // Shard file -> the first tensor that needs it (named in errors).
    std::map<std::string, std::string> shard_first_tensor;
    std::map<std::string, std::string> tensor_shard;
    for (auto it = wm->json().begin(); it != wm->json().end(); ++it) {
      if (!it->is_string()) wm->fail(it.key(), "a shard file name");
      const std::string shard = it->get<std::string>();
      const std::filesystem::path rel(shard);
      if (shard.empty() || rel.is_absolute() || rel.has_parent_path()) {
        wm->fail(it.key(), "a file name in the checkpoint directory");
      }
      shard_first_tensor.emplace(shard, it.key());
      tensor_shard.emplace(it.key(), shard);
    }
    std::map<std::string, size_t> shard_index;
    for (const auto& [shard, first] : shard_first_tensor) {
      const auto p = dir / shard;
      if (!std::filesystem::exists(p, ec)) {
        throw input_error(p.string(), "expected the shard file that {} maps tensor '{}' to, "
                          "found no such file", kIndexFile, first);
      }
      shard_index[shard] = c.files_.size();
      c.files_.push_back(SafetensorsFile::open(p));
    }
    for (const auto& [name, shard] : tensor_shard) {
      const size_t fi = shard_index.at(shard);
      if (!c.files_[fi]->find(name)) {
        throw input_error(index_path.string() + ": key 'weight_map." + name + "'",
                          "expected tensor '{}' in {}, found no such tensor in that file", name,
                          shard);
      }
      c.where_.emplace(name, fi);
    }
  } else if (std::filesystem::exists(single_path, ec)) {
    c.files_.push_back(SafetensorsFile::open(single_path));
    for (const TensorInfo& t : c.files_[0]->tensors()) c.where_.emplace(t.name, 0);
  } else {
    throw input_error(dir.string(), "expected {} or {} in the checkpoint directory, found "
                      "neither", kSingleFile, kIndexFile);
  }
  return c;
}

bool Checkpoint::has(const std::string& name) const { return where_.count(name) != 0; }

const TensorInfo& Checkpoint::info(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) {
    throw input_error(dir_.string(), "expected a tensor named '{}' in the checkpoint, found none",
                      name);
  }
  return *files_[it->second]->find(name);
}

Tensor Checkpoint::get(const std::string& name) const {
  info(name);  // throws if absent
  return files_[where_.at(name)]->view(name);
}

Tensor Checkpoint::get(const std::string& name, DType dtype, const Shape& shape) const {
  const TensorInfo& t = info(name);
  if (t.dtype != dtype || t.shape != shape) {
    throw input_error(file_of(name).string() + ": tensor '" + name + "'",
                      "expected {} {}, found {} {}", dtype_name(dtype), shape_str(shape),
                      dtype_name(t.dtype), shape_str(t.shape));
  }
  return get(name);
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(where_.size());
  for (const auto& [n, _] : where_) out.push_back(n);
  return out;
}

std::filesystem::path Checkpoint::file_of(const std::string& name) const {
  info(name);
  return files_[where_.at(name)]->path();
}

uint64_t Checkpoint::bytes_on_disk() const {
  uint64_t s = 0;
  for (const auto& f : files_) s += f->file_size();
  return s;
}

}  // namespace moe::io
