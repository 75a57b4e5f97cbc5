// h5: a small RAII layer over the HDF5 C API, used by every writer and reader of moe-sweep's
// HDF5 files (unit files, merged results, routing traces, statistics).
//
// Conventions (documented for users in results/SCHEMA.md):
//  - numeric arrays are contiguous datasets of the element type (f32, f64, i32, i64, u8, ...),
//    row-major, with their shape; large ones are chunked and gzip-compressed;
//  - strings are variable-length UTF-8;
//  - a table is a group of equal-length 1-D column datasets plus a "columns" attribute giving
//    the column order (pandas: DataFrame({c: f[g][c][()] for c in f[g].attrs["columns"]})).
// Every failure throws moe::Error (or InputError when reading a user's file) naming the file and
// the object path. Handles are move-only and closed on destruction.
// Thread-safety: the Debian HDF5 build is not thread-safe; use one thread per process for HDF5.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace moe::h5 {

// A move-only owner of one hid_t, closed with the matching H5*close.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle();
  hid_t id() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

template <typename T>
struct Type;  // maps C++ element types to HDF5 native types (f32, f64, i8..i64, u8..u64)

class Group;

class File {
 public:
  // Creates (truncating) a file. File locking is off: moe-sweep guarantees one writer per file.
  // `userblock` bytes (0, or a power of two >= 512) at the start are left to the caller: HDF5
  // ignores them (unit files keep their checksum there, results/store.h).
  static File create(const std::filesystem::path& path, uint64_t userblock = 0);
  // Opens read-only (throws InputError naming the file if it is not a readable HDF5 file).
  static File open(const std::filesystem::path& path);
  static File open_rw(const std::filesystem::path& path);
  // A file that lives only in memory (`name` appears in errors); image() returns its bytes,
  // which open_image() opens read-only elsewhere (e.g. results sent between MPI ranks).
  static File create_in_memory(const std::string& name);
  static File open_image(const std::string& bytes, const std::string& name);
  std::string image() const;
  Group root() const;
  const std::filesystem::path& path() const { return path_; }
  void flush();

 private:
  Handle h_;
  std::filesystem::path path_;
};

class Group {
 public:
  Group(Handle h, std::filesystem::path file, std::string path)
      : h_(std::move(h)), file_(std::move(file)), path_(std::move(path)) {}
  const std::string& path() const { return path_; }
  const std::filesystem::path& file() const { return file_; }
  hid_t id() const { return h_.id(); }

  bool has(const std::string& name) const;  // child link exists (name may contain '/')
  // Opens or creates the child group (intermediate groups created).
  Group group(const std::string& name) const;
  Group open_group(const std::string& name) const;  // throws if absent
  std::vector<std::string> children() const;        // sorted link names

  // ---- datasets ----
  template <typename T>
  void write(const std::string& name, const std::vector<T>& data, std::vector<uint64_t> shape = {},
             bool compress = false) const {
    if (shape.empty()) shape = {uint64_t(data.size())};
    write_raw(name, Type<T>::id(), data.data(), shape, compress);
  }
  void write_strings(const std::string& name, const std::vector<std::string>& data) const;
  template <typename T>
  std::vector<T> read(const std::string& name, std::vector<uint64_t>* shape = nullptr) const {
    std::vector<uint64_t> s = dataset_shape(name);
    uint64_t n = 1;
    for (auto d : s) n *= d;
    std::vector<T> out(n);
    read_raw(name, Type<T>::id(), out.data());
    if (shape) *shape = s;
    return out;
  }
  std::vector<std::string> read_strings(const std::string& name) const;
  std::vector<uint64_t> dataset_shape(const std::string& name) const;
  // The element class of a dataset: 'i' signed integer, 'u' unsigned, 'f' float, 's' string,
  // '?' anything else; `bytes` gets the element size (0 for variable-length strings).
  char dataset_class(const std::string& name, size_t* bytes = nullptr) const;

  // ---- attributes on this group ----
  void set_attr(const std::string& name, const std::string& value) const;
  void set_attr(const std::string& name, int64_t value) const;
  void set_attr(const std::string& name, double value) const;
  void set_attr(const std::string& name, const std::vector<std::string>& value) const;
  bool has_attr(const std::string& name) const;
  std::string attr_string(const std::string& name) const;
  int64_t attr_int(const std::string& name) const;
  double attr_double(const std::string& name) const;
  std::vector<std::string> attr_strings(const std::string& name) const;

  void write_raw(const std::string& name, hid_t type, const void* data,
                 const std::vector<uint64_t>& shape, bool compress) const;
  void read_raw(const std::string& name, hid_t type, void* out) const;

 private:
  std::string where(const std::string& name) const;
  Handle h_;
  std::filesystem::path file_;
  std::string path_;
};

#define MOE_H5_TYPE(T, H) \
  template <>             \
  struct Type<T> {        \
    static hid_t id() { return H; } \
  };
MOE_H5_TYPE(float, H5T_NATIVE_FLOAT)
MOE_H5_TYPE(double, H5T_NATIVE_DOUBLE)
MOE_H5_TYPE(int8_t, H5T_NATIVE_INT8)
MOE_H5_TYPE(int16_t, H5T_NATIVE_INT16)
MOE_H5_TYPE(int32_t, H5T_NATIVE_INT32)
MOE_H5_TYPE(int64_t, H5T_NATIVE_INT64)
MOE_H5_TYPE(uint8_t, H5T_NATIVE_UINT8)
MOE_H5_TYPE(uint16_t, H5T_NATIVE_UINT16)
MOE_H5_TYPE(uint32_t, H5T_NATIVE_UINT32)
MOE_H5_TYPE(uint64_t, H5T_NATIVE_UINT64)
#undef MOE_H5_TYPE

}  // namespace moe::h5
