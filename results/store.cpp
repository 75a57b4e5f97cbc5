#include "results/store.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <xxhash.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>

#include "results/h5.h"
#include "runtime/core/error.h"
#include "runtime/core/cpu_isa.h"
#include "runtime/core/version.h"

namespace moe::results {
namespace fs = std::filesystem;

namespace {

constexpr int64_t kUnitSchemaVersion = 1;

[[noreturn]] void sys_fail(const std::string& what) {
  throw Error(fmt::format("{}: {}", what, std::strerror(errno)));
}

std::string hostname() {
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  return host;
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string unique_suffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{}.{}.{:016x}", hostname(), ::getpid(), rng());
}

// "<host>.<pid>" of a merge's temporary file whose process is gone from this host.
bool merge_tmp_orphaned(const std::string& host_pid) {
  const size_t dot = host_pid.rfind('.');
  if (dot == std::string::npos || host_pid.substr(0, dot) != hostname()) return false;
  const long pid = std::strtol(host_pid.c_str() + dot + 1, nullptr, 10);
  return pid > 0 && ::kill(pid_t(pid), 0) != 0 && errno == ESRCH;
}

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string hex128(const void* data, size_t n) {
  const XXH128_hash_t h = XXH3_128bits(data, n);
  return fmt::format("{:016x}{:016x}", h.high64, h.low64);
}

constexpr std::string_view kHeaderMagic = "moe-sweep unit\nxxh3-128 ";

// The user-block header of a unit file whose bytes after the header are `body` (file size n).
std::string unit_header(std::string_view body, uint64_t n) {
  std::string h =
      fmt::format("{}{}\nbytes {}\n", kHeaderMagic, hex128(body.data(), body.size()), n);
  h.resize(kUnitHeaderBytes, '\0');
  return h;
}

// What is wrong with a unit file of `size` bytes that starts with `bytes` ("" when nothing):
// its header and size, and with the whole file in `bytes`, its checksum.
std::string unit_file_damage(const std::string& bytes, uint64_t size) {
  if (size < kUnitHeaderBytes || bytes.size() < kUnitHeaderBytes)
    return fmt::format("truncated: {} bytes, shorter than its {}-byte header", size,
                       kUnitHeaderBytes);
  const std::string_view head(bytes.data(), kUnitHeaderBytes);
  const size_t hex_at = kHeaderMagic.size(), bytes_at = hex_at + 32 + 7;
  if (head.substr(0, hex_at) != kHeaderMagic || head.substr(hex_at + 32, 7) != "\nbytes ")
    return "no moe-sweep checksum header at offset 0 (overwritten, or not written by moe-sweep)";
  const std::string_view stored = head.substr(hex_at, 32);
  uint64_t n = 0;
  size_t i = bytes_at;
  for (; i < head.size() && head[i] >= '0' && head[i] <= '9'; ++i) n = n * 10 + (head[i] - '0');
  if (i == bytes_at || i >= head.size() || head[i] != '\n')
    return "no moe-sweep checksum header at offset 0 (its byte count is unreadable)";
  if (n != size)
    return fmt::format("{}: the header says {} bytes, the file has {}",
                       size < n ? "truncated" : "extended", n, size);
  if (bytes.size() < size) return "";  // the header only
  const std::string computed =
      hex128(bytes.data() + kUnitHeaderBytes, bytes.size() - kUnitHeaderBytes);
  if (computed != stored)
    return fmt::format(
        "damaged: the bytes after offset {} do not match the header's checksum "
        "(xxh3-128 {} stored, {} computed)",
        kUnitHeaderBytes, stored, computed);
  return "";
}

}  // namespace

void fsync_path(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) sys_fail("open " + path.string() + " for fsync");
  if (::fsync(fd) != 0 && errno != EINVAL) {
    int e = errno;
    ::close(fd);
    errno = e;
    sys_fail("fsync " + path.string());
  }
  ::close(fd);
}

void write_file_atomic(const fs::path& path, const std::string& content) {
  const fs::path tmp = path.string() + ".tmp." + unique_suffix();
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) sys_fail("create " + tmp.string());
    out << content;
    out.flush();
    if (!out) sys_fail("write " + tmp.string());
  }
  fsync_path(tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) sys_fail("rename to " + path.string());
  fsync_path(path.parent_path().empty() ? fs::path(".") : path.parent_path());
}

Store::Store(fs::path dir) : dir_(std::move(dir)) {
  for (const char* sub : {"units", "tmp", "leases", "failed"}) {
    std::error_code ec;
    fs::create_directories(dir_ / sub, ec);
    if (ec)
      throw InputError(dir_.string(), fmt::format("cannot create the output folder {}: {}", sub,
                                                  ec.message()));
  }
}

fs::path Store::unit_path(const std::string& unit) const { return dir_ / "units" / (unit + ".h5"); }

bool Store::done(const std::string& unit) const { return fs::exists(unit_path(unit)); }

std::set<std::string> Store::done_units() const {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir_ / "units")) {
    const std::string f = e.path().filename().string();
    if (f.size() > 3 && f.compare(f.size() - 3, 3, ".h5") == 0) out.insert(f.substr(0, f.size() - 3));
  }
  return out;
}

void Store::commit(UnitMeta meta, const UnitResult& r, const std::string& owner) const {
  meta.code_version = code_version();
  meta.cpu_isa = std::string(cpu::isa_description());
  meta.host = hostname();
  meta.owner = owner;
  meta.created = unix_now();
  TempFile temp(dir_ / "tmp" / (meta.unit + "." + unique_suffix() + ".h5"));
  const fs::path& tmp = temp.path();
  {
    h5::File f = h5::File::create(tmp, kUnitHeaderBytes);
    h5::Group root = f.root();
    root.set_attr("schema_version", kUnitSchemaVersion);
    root.set_attr("unit", meta.unit);
    root.set_attr("kind", meta.kind);
    root.set_attr("runner", meta.runner);
    root.set_attr("code_version", meta.code_version);
    root.set_attr("cpu_isa", meta.cpu_isa);
    root.set_attr("host", meta.host);
    root.set_attr("owner", meta.owner);
    root.set_attr("created", meta.created);
    std::vector<std::string> keys;
    h5::Group labels = root.group("labels");
    for (const auto& [k, v] : meta.labels) {
      labels.set_attr(k, v);
      keys.push_back(k);
    }
    labels.set_attr("keys", keys);
    r.write(root);
    f.flush();
  }  // closed
  {  // the checksum header, over every byte HDF5 wrote after the user block
    std::string bytes = read_all(tmp);
    if (bytes.size() < kUnitHeaderBytes) throw Error("cannot read back " + tmp.string());
    const std::string header =
        unit_header(std::string_view(bytes).substr(kUnitHeaderBytes), bytes.size());
    std::fstream out(tmp, std::ios::binary | std::ios::in | std::ios::out);
    out.write(header.data(), std::streamsize(header.size()));
    out.flush();
    if (!out) sys_fail("write the checksum header of " + tmp.string());
  }
  fsync_path(tmp);
  const fs::path dst = unit_path(meta.unit);
  if (::rename(tmp.c_str(), dst.c_str()) != 0) sys_fail("rename into " + dst.string());
  temp.keep();
  fsync_path(dst.parent_path());
}

std::string Store::damage(const std::string& unit, Check check) const {
  const fs::path p = unit_path(unit);
  std::ifstream in(p, std::ios::binary);
  std::error_code ec;
  const uint64_t size = fs::file_size(p, ec);
  if (!in || ec) return fmt::format("cannot be opened: {}", std::strerror(errno));
  if (check == Check::kFull)
    return unit_file_damage(std::string(std::istreambuf_iterator<char>(in), {}), size);
  std::string head(kUnitHeaderBytes, '\0');
  in.read(head.data(), std::streamsize(head.size()));
  head.resize(size_t(in.gcount()));
  return unit_file_damage(head, size);
}

fs::path Store::quarantine(const std::string& unit, const std::string& why) const {
  std::error_code ec;
  fs::create_directories(dir_ / "quarantine", ec);
  const fs::path dst = dir_ / "quarantine" / (unit + "." + unique_suffix() + ".h5");
  if (::rename(unit_path(unit).c_str(), dst.c_str()) != 0) {
    if (errno == ENOENT) return {};
    sys_fail("move " + unit_path(unit).string() + " to quarantine/");
  }
  write_file_atomic(dst.string() + ".txt", unit + ": " + why + "\n");
  return dst;
}

std::vector<std::string> Store::quarantine_damaged(const std::vector<std::string>& units,
                                                   Check check) const {
  std::vector<std::string> out;
  const std::set<std::string> present = done_units();
  for (const auto& u : units) {
    if (!present.count(u)) continue;
    std::string why = damage(u, check);
    if (why.empty()) continue;
    if (quarantine(u, why).empty()) continue;  // moved by another process
    out.push_back(u + ": " + why);
  }
  return out;
}

UnitResult Store::read(const std::string& unit, UnitMeta* meta) const try {
  const fs::path path = unit_path(unit);
  if (const std::string why = damage(unit); !why.empty()) {
    quarantine(unit, why);  // pending again: the next run computes it
    throw InputError(path.string(), fmt::format("damaged unit file: {} (moved to quarantine/; "
                                                "the next run computes the unit again)",
                                                why));
  }
  h5::File f = h5::File::open(path);
  h5::Group root = f.root();
  if (meta) {
    meta->unit = root.attr_string("unit");
    meta->kind = root.attr_string("kind");
    meta->runner = root.attr_string("runner");
    meta->code_version = root.attr_string("code_version");
    meta->cpu_isa = root.has_attr("cpu_isa") ? root.attr_string("cpu_isa") : "";
    meta->host = root.attr_string("host");
    meta->owner = root.attr_string("owner");
    meta->created = root.attr_double("created");
    h5::Group labels = root.open_group("labels");
    for (const auto& k : labels.attr_strings("keys")) meta->labels[k] = labels.attr_string(k);
  }
  return UnitResult::read(root);
} catch (const InputError&) {
  throw;
} catch (const Error& e) {
  // A file whose checksum matches but whose layout is not a unit file's (another version).
  throw InputError(unit_path(unit).string(),
                   fmt::format("expected a unit file, found: {}", e.what()));
}

void Store::mark_failed(const std::string& batch, const std::string& error,
                        const std::string& owner) const {
  write_file_atomic(dir_ / "failed" / (batch + ".txt"), owner + "\n" + error + "\n");
}

void Store::clear_failed(const std::string& batch) const {
  std::error_code ec;
  fs::remove(dir_ / "failed" / (batch + ".txt"), ec);
}

void Store::clear_all_failed() const {
  for (const auto& [b, f] : failed()) clear_failed(b);
}

std::map<std::string, FailedBatch> Store::failed() const {
  std::map<std::string, FailedBatch> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_ / "failed", ec)) {
    const std::string f = e.path().filename().string();
    if (f.size() <= 4 || f.compare(f.size() - 4, 4, ".txt") != 0) continue;
    std::ifstream in(e.path());
    FailedBatch fb;
    fb.batch = f.substr(0, f.size() - 4);
    std::getline(in, fb.owner);
    std::stringstream rest;
    rest << in.rdbuf();
    fb.error = rest.str();
    while (!fb.error.empty() && fb.error.back() == '\n') fb.error.pop_back();
    out[fb.batch] = std::move(fb);
  }
  return out;
}

int Store::clean_tmp(double age_s) const {
  int n = 0;
  const auto now = fs::file_time_type::clock::now();
  auto old = [&](const fs::path& p) {
    std::error_code ec;
    auto t = fs::last_write_time(p, ec);
    return !ec && std::chrono::duration<double>(now - t).count() > age_s;
  };
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_ / "tmp", ec))
    if (old(e.path()) && fs::remove(e.path(), ec)) ++n;
  // write_file_atomic's temporary files (config, inputs, failed/ records): they live for
  // milliseconds. The merge's own (results.h5.tmp.<host>.<pid>) go when their process is gone.
  for (const fs::path& d : {dir_, dir_ / "failed"})
    for (const auto& e : fs::directory_iterator(d, ec)) {
      const std::string f = e.path().filename().string();
      const size_t at = f.find(".tmp.");
      if (at == std::string::npos || !e.is_regular_file(ec)) continue;
      const bool stale =
          f.rfind("results.h5.tmp.", 0) == 0 ? merge_tmp_orphaned(f.substr(at + 5)) : old(e.path());
      if (stale && fs::remove(e.path(), ec)) ++n;
    }
  return n;
}

fs::path Store::merge_tmp(const fs::path& out) {
  return out.string() + fmt::format(".tmp.{}.{}", hostname(), ::getpid());
}

void Store::write_config(const std::string& resolved_yaml, const std::string& source_yaml) const {
  write_file_atomic(dir_ / "config.source.yaml", source_yaml);
  write_file_atomic(config_path(), resolved_yaml);
}

void Store::write_inputs(const std::string& json) const {
  write_file_atomic(inputs_path(), json);
}

std::string Store::read_inputs() const {
  return read_all(inputs_path());
}

std::string Store::read_source_config() const {
  return read_all(dir_ / "config.source.yaml");
}

}  // namespace moe::results
