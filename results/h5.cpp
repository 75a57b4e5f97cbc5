#include "results/h5.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "runtime/core/error.h"

namespace moe::h5 {
namespace {

// HDF5 prints its error stack to stderr by default; moe-sweep reports errors itself.
// HDF5's own exit handler closes the files still open, and HDF5 1.10 crashes there on a file
// whose write failed (a full disk: H5F__close_cb). Every file is closed by its owner (RAII), so
// the handler has nothing to do and is not installed.
struct SilenceHdf5 {
  SilenceHdf5() {
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
};
const SilenceHdf5 g_silence;

// The innermost message of HDF5's error stack: where the system's reason is ("... errno = 28,
// error message = 'No space left on device'"), which the outer messages leave out.
std::string hdf5_reason() {
  std::string reason;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned n, const H5E_error2_t* e, void* out) -> herr_t {
        if (n == 0 && e->desc) *static_cast<std::string*>(out) = e->desc;
        return 0;
      },
      &reason);
  H5Eclear2(H5E_DEFAULT);
  return reason;
}

[[noreturn]] void fail(const std::string& what) {
  const std::string reason = hdf5_reason();
  throw Error("HDF5: " + what + (reason.empty() ? "" : " (" + reason + ")"));
}

Handle check(hid_t id, herr_t (*close)(hid_t), const std::string& what) {
  if (id < 0) fail(what);
  return Handle(id, close);
}

void check(herr_t r, const std::string& what) {
  if (r < 0) fail(what);
}

Handle string_type() {
  Handle t = check(H5Tcopy(H5T_C_S1), H5Tclose, "H5Tcopy");
  check(H5Tset_size(t.id(), H5T_VARIABLE), "H5Tset_size");
  check(H5Tset_cset(t.id(), H5T_CSET_UTF8), "H5Tset_cset");
  return t;
}

Handle file_access() {
  Handle fapl = check(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "H5Pcreate");
  // One writer per file is guaranteed by the store; locks break on many network file systems.
  check(H5Pset_file_locking(fapl.id(), false, true), "H5Pset_file_locking");
  return fapl;
}

}  // namespace

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    if (id_ >= 0 && close_) close_(id_);
    id_ = o.id_;
    close_ = o.close_;
    o.id_ = -1;
  }
  return *this;
}

Handle::~Handle() {
  if (id_ >= 0 && close_) close_(id_);
}

File File::create(const std::filesystem::path& path, uint64_t userblock) {
  File f;
  f.path_ = path;
  Handle fapl = file_access();
  Handle fcpl = check(H5Pcreate(H5P_FILE_CREATE), H5Pclose, "H5Pcreate");
  if (userblock) check(H5Pset_userblock(fcpl.id(), userblock), "H5Pset_userblock");
  f.h_ = check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.id(), fapl.id()), H5Fclose,
               "cannot create " + path.string());
  return f;
}

File File::open(const std::filesystem::path& path) {
  File f;
  f.path_ = path;
  if (!std::filesystem::exists(path)) throw InputError(path.string(), "file does not exist");
  Handle fapl = file_access();
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.id());
  if (id < 0) throw InputError(path.string(), "expected an HDF5 file, found unreadable data");
  f.h_ = Handle(id, H5Fclose);
  return f;
}

File File::open_rw(const std::filesystem::path& path) {
  File f;
  f.path_ = path;
  Handle fapl = file_access();
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl.id());
  if (id < 0) throw InputError(path.string(), "cannot open HDF5 file for writing");
  f.h_ = Handle(id, H5Fclose);
  return f;
}

namespace {
// In-memory files: the core driver without a backing store, grown 1 MiB at a time.
Handle core_access() {
  Handle fapl = file_access();
  check(H5Pset_fapl_core(fapl.id(), size_t(1) << 20, false), "H5Pset_fapl_core");
  return fapl;
}
}  // namespace

File File::create_in_memory(const std::string& name) {
  File f;
  f.path_ = name;
  Handle fapl = core_access();
  f.h_ = check(H5Fcreate(name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id()), H5Fclose,
               "cannot create in-memory file " + name);
  return f;
}

File File::open_image(const std::string& bytes, const std::string& name) {
  File f;
  f.path_ = name;
  Handle fapl = core_access();
  check(H5Pset_file_image(fapl.id(), const_cast<char*>(bytes.data()), bytes.size()),
        "H5Pset_file_image");  // copied: `bytes` need not outlive the file
  hid_t id = H5Fopen(name.c_str(), H5F_ACC_RDONLY, fapl.id());
  if (id < 0)
    throw InputError(name, fmt::format("expected an HDF5 file image, found {} unreadable bytes",
                                       bytes.size()));
  f.h_ = Handle(id, H5Fclose);
  return f;
}

std::string File::image() const {
  check(H5Fflush(h_.id(), H5F_SCOPE_LOCAL), "flush " + path_.string());
  const ssize_t n = H5Fget_file_image(h_.id(), nullptr, 0);
  if (n < 0) fail("file image size of " + path_.string());
  std::string bytes(size_t(n), '\0');
  if (H5Fget_file_image(h_.id(), bytes.data(), bytes.size()) != n)
    fail("file image of " + path_.string());
  return bytes;
}

Group File::root() const {
  return Group(check(H5Gopen2(h_.id(), "/", H5P_DEFAULT), H5Gclose, "open /"), path_, "/");
}

void File::flush() { check(H5Fflush(h_.id(), H5F_SCOPE_GLOBAL), "flush " + path_.string()); }

std::string Group::where(const std::string& name) const {
  return file_.string() + ":" + (path_ == "/" ? "/" : path_ + "/") + name;
}

bool Group::has(const std::string& name) const {
  // Check each component so that missing intermediates do not raise errors.
  size_t pos = 0;
  while (true) {
    size_t next = name.find('/', pos);
    std::string prefix = name.substr(0, next);
    if (H5Lexists(h_.id(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (next == std::string::npos) return true;
    pos = next + 1;
  }
}

Group Group::group(const std::string& name) const {
  if (has(name)) return open_group(name);
  Handle lcpl = check(H5Pcreate(H5P_LINK_CREATE), H5Pclose, "H5Pcreate");
  check(H5Pset_create_intermediate_group(lcpl.id(), 1), "H5Pset_create_intermediate_group");
  Handle g = check(H5Gcreate2(h_.id(), name.c_str(), lcpl.id(), H5P_DEFAULT, H5P_DEFAULT),
                   H5Gclose, "create group " + where(name));
  return Group(std::move(g), file_, path_ == "/" ? "/" + name : path_ + "/" + name);
}

Group Group::open_group(const std::string& name) const {
  hid_t id = H5Gopen2(h_.id(), name.c_str(), H5P_DEFAULT);
  if (id < 0) throw InputError(where(name), "expected a group, found none");
  return Group(Handle(id, H5Gclose), file_, path_ == "/" ? "/" + name : path_ + "/" + name);
}

std::vector<std::string> Group::children() const {
  std::vector<std::string> out;
  H5Literate(
      h_.id(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->push_back(name);
        return 0;
      },
      &out);
  std::sort(out.begin(), out.end());
  return out;
}

void Group::write_raw(const std::string& name, hid_t type, const void* data,
                      const std::vector<uint64_t>& shape, bool compress) const {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  Handle space = check(H5Screate_simple(int(dims.size()), dims.data(), nullptr), H5Sclose,
                       "dataspace for " + where(name));
  Handle dcpl = check(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "H5Pcreate");
  uint64_t n = 1;
  for (auto d : shape) n *= d;
  if (compress && n >= 4096 && !dims.empty()) {
    // Chunk along the first dimension, about 1 MiB per chunk.
    std::vector<hsize_t> chunk = dims;
    const uint64_t row = n / std::max<uint64_t>(dims[0], 1);
    const uint64_t elem = H5Tget_size(type);
    chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(dims[0], (1u << 20) / std::max<uint64_t>(row * elem, 1)));
    check(H5Pset_chunk(dcpl.id(), int(chunk.size()), chunk.data()), "H5Pset_chunk");
    check(H5Pset_deflate(dcpl.id(), 4), "H5Pset_deflate");
  }
  Handle lcpl = check(H5Pcreate(H5P_LINK_CREATE), H5Pclose, "H5Pcreate");
  check(H5Pset_create_intermediate_group(lcpl.id(), 1), "H5Pset_create_intermediate_group");
  Handle ds = check(H5Dcreate2(h_.id(), name.c_str(), type, space.id(), lcpl.id(), dcpl.id(),
                               H5P_DEFAULT),
                    H5Dclose, "create dataset " + where(name));
  if (n) check(H5Dwrite(ds.id(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "write " + where(name));
}

void Group::write_strings(const std::string& name, const std::vector<std::string>& data) const {
  // C strings end at a NUL: a column holding one is stored as variable-length byte sequences.
  if (std::any_of(data.begin(), data.end(),
                  [](const std::string& s) { return s.find('\0') != std::string::npos; })) {
    std::vector<hvl_t> seqs(data.size());
    for (size_t i = 0; i < data.size(); ++i)
      seqs[i] = {data[i].size(), const_cast<char*>(data[i].data())};
    Handle t = check(H5Tvlen_create(H5T_NATIVE_UINT8), H5Tclose, "H5Tvlen_create");
    write_raw(name, t.id(), seqs.data(), {uint64_t(data.size())}, false);
    return;
  }
  std::vector<const char*> ptrs;
  ptrs.reserve(data.size());
  for (auto& s : data) ptrs.push_back(s.c_str());
  Handle t = string_type();
  write_raw(name, t.id(), ptrs.data(), {uint64_t(data.size())}, false);
}

std::vector<uint64_t> Group::dataset_shape(const std::string& name) const {
  hid_t id = H5Dopen2(h_.id(), name.c_str(), H5P_DEFAULT);
  if (id < 0) throw InputError(where(name), "expected a dataset, found none");
  Handle ds(id, H5Dclose);
  Handle space = check(H5Dget_space(ds.id()), H5Sclose, "dataspace of " + where(name));
  int nd = H5Sget_simple_extent_ndims(space.id());
  std::vector<hsize_t> dims(size_t(std::max(nd, 0)));
  H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr);
  return std::vector<uint64_t>(dims.begin(), dims.end());
}

char Group::dataset_class(const std::string& name, size_t* bytes) const {
  hid_t id = H5Dopen2(h_.id(), name.c_str(), H5P_DEFAULT);
  if (id < 0) throw InputError(where(name), "expected a dataset, found none");
  Handle ds(id, H5Dclose);
  Handle t = check(H5Dget_type(ds.id()), H5Tclose, "type of " + where(name));
  const H5T_class_t cls = H5Tget_class(t.id());
  if (bytes) *bytes = H5Tis_variable_str(t.id()) > 0 ? 0 : H5Tget_size(t.id());
  if (cls == H5T_INTEGER) return H5Tget_sign(t.id()) == H5T_SGN_NONE ? 'u' : 'i';
  if (cls == H5T_FLOAT) return 'f';
  if (cls == H5T_STRING) return 's';
  if (cls == H5T_VLEN) {  // byte sequences: a string column with NULs (write_strings)
    Handle base = check(H5Tget_super(t.id()), H5Tclose, "base type of " + where(name));
    if (H5Tget_class(base.id()) == H5T_INTEGER && H5Tget_size(base.id()) == 1) {
      if (bytes) *bytes = 0;
      return 's';
    }
  }
  return '?';
}

void Group::read_raw(const std::string& name, hid_t type, void* out) const {
  hid_t id = H5Dopen2(h_.id(), name.c_str(), H5P_DEFAULT);
  if (id < 0) throw InputError(where(name), "expected a dataset, found none");
  Handle ds(id, H5Dclose);
  if (H5Dread(ds.id(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
    throw InputError(where(name), "dataset cannot be read as the requested type");
}

std::vector<std::string> Group::read_strings(const std::string& name) const {
  const auto shape = dataset_shape(name);
  const size_t n = shape.empty() ? 1 : size_t(shape[0]);
  {
    Handle ds = check(H5Dopen2(h_.id(), name.c_str(), H5P_DEFAULT), H5Dclose, where(name));
    Handle ft = check(H5Dget_type(ds.id()), H5Tclose, "type of " + where(name));
    if (H5Tget_class(ft.id()) == H5T_VLEN) {
      std::vector<hvl_t> seqs(n);
      Handle t = check(H5Tvlen_create(H5T_NATIVE_UINT8), H5Tclose, "H5Tvlen_create");
      read_raw(name, t.id(), seqs.data());
      std::vector<std::string> out;
      out.reserve(n);
      for (const hvl_t& s : seqs) out.emplace_back(static_cast<const char*>(s.p), s.len);
      Handle space = check(H5Dget_space(ds.id()), H5Sclose, "dataspace of " + where(name));
      H5Dvlen_reclaim(t.id(), space.id(), H5P_DEFAULT, seqs.data());
      return out;
    }
  }
  std::vector<char*> ptrs(n, nullptr);
  Handle t = string_type();
  read_raw(name, t.id(), ptrs.data());
  std::vector<std::string> out;
  out.reserve(n);
  for (char* p : ptrs) {
    out.emplace_back(p ? p : "");
    H5free_memory(p);
  }
  return out;
}

namespace {
void write_attr(hid_t obj, const std::string& name, hid_t type, const void* data, hsize_t n,
                bool scalar, const std::string& where) {
  if (H5Aexists(obj, name.c_str()) > 0) check(H5Adelete(obj, name.c_str()), "delete attr " + where);
  Handle space = check(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), H5Sclose,
                       "attr space " + where);
  Handle a = check(H5Acreate2(obj, name.c_str(), type, space.id(), H5P_DEFAULT, H5P_DEFAULT),
                   H5Aclose, "create attr " + where);
  if (scalar || n > 0) check(H5Awrite(a.id(), type, data), "write attr " + where);
}
Handle open_attr(hid_t obj, const std::string& name, const std::string& where) {
  hid_t id = H5Aopen(obj, name.c_str(), H5P_DEFAULT);
  if (id < 0) throw InputError(where, "expected attribute '" + name + "', found none");
  return Handle(id, H5Aclose);
}
}  // namespace

void Group::set_attr(const std::string& name, const std::string& value) const {
  Handle t = string_type();
  const char* p = value.c_str();
  write_attr(h_.id(), name, t.id(), &p, 1, true, where("@" + name));
}
void Group::set_attr(const std::string& name, int64_t value) const {
  write_attr(h_.id(), name, H5T_NATIVE_INT64, &value, 1, true, where("@" + name));
}
void Group::set_attr(const std::string& name, double value) const {
  write_attr(h_.id(), name, H5T_NATIVE_DOUBLE, &value, 1, true, where("@" + name));
}
void Group::set_attr(const std::string& name, const std::vector<std::string>& value) const {
  Handle t = string_type();
  std::vector<const char*> ptrs;
  for (auto& s : value) ptrs.push_back(s.c_str());
  write_attr(h_.id(), name, t.id(), ptrs.data(), hsize_t(ptrs.size()), false, where("@" + name));
}
bool Group::has_attr(const std::string& name) const { return H5Aexists(h_.id(), name.c_str()) > 0; }

std::string Group::attr_string(const std::string& name) const {
  Handle a = open_attr(h_.id(), name, where("@" + name));
  Handle t = string_type();
  char* p = nullptr;
  if (H5Aread(a.id(), t.id(), &p) < 0) throw InputError(where("@" + name), "expected a string");
  std::string out = p ? p : "";
  H5free_memory(p);
  return out;
}
int64_t Group::attr_int(const std::string& name) const {
  Handle a = open_attr(h_.id(), name, where("@" + name));
  int64_t v = 0;
  if (H5Aread(a.id(), H5T_NATIVE_INT64, &v) < 0)
    throw InputError(where("@" + name), "expected an integer");
  return v;
}
double Group::attr_double(const std::string& name) const {
  Handle a = open_attr(h_.id(), name, where("@" + name));
  double v = 0;
  if (H5Aread(a.id(), H5T_NATIVE_DOUBLE, &v) < 0)
    throw InputError(where("@" + name), "expected a number");
  return v;
}
std::vector<std::string> Group::attr_strings(const std::string& name) const {
  Handle a = open_attr(h_.id(), name, where("@" + name));
  Handle space = check(H5Aget_space(a.id()), H5Sclose, "attr space");
  hssize_t n = H5Sget_simple_extent_npoints(space.id());
  std::vector<char*> ptrs(size_t(std::max<hssize_t>(n, 0)), nullptr);
  if (ptrs.empty()) return {};
  Handle t = string_type();
  if (H5Aread(a.id(), t.id(), ptrs.data()) < 0)
    throw InputError(where("@" + name), "expected strings");
  std::vector<std::string> out;
  for (char* p : ptrs) {
    out.emplace_back(p ? p : "");
    H5free_memory(p);
  }
  return out;
}

}  // namespace moe::h5
