#include "results/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
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
  const fs::path tmp = dir_ / "tmp" / (meta.unit + "." + unique_suffix() + ".h5");
  {
    h5::File f = h5::File::create(tmp);
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
  fsync_path(tmp);
  const fs::path dst = unit_path(meta.unit);
  if (::rename(tmp.c_str(), dst.c_str()) != 0) sys_fail("rename into " + dst.string());
  fsync_path(dst.parent_path());
}

UnitResult Store::read(const std::string& unit, UnitMeta* meta) const {
  h5::File f = h5::File::open(unit_path(unit));
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
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_ / "tmp", ec)) {
    auto t = fs::last_write_time(e.path(), ec);
    if (ec) continue;
    if (std::chrono::duration<double>(now - t).count() > age_s && fs::remove(e.path(), ec)) ++n;
  }
  return n;
}

void Store::write_config(const std::string& resolved_yaml, const std::string& source_yaml) const {
  write_file_atomic(dir_ / "config.source.yaml", source_yaml);
  write_file_atomic(config_path(), resolved_yaml);
}

std::string Store::read_source_config() const {
  std::ifstream in(dir_ / "config.source.yaml", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace moe::results
