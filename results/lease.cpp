#include "results/lease.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <signal.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "runtime/core/error.h"

namespace moe::results {
namespace fs = std::filesystem;

namespace {

[[noreturn]] void sys_fail(const std::string& what) {
  throw Error(fmt::format("{}: {}", what, std::strerror(errno)));
}

// Reads the whole file; false if it does not exist.
bool read_file(const fs::path& p, std::string* out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

double mtime_of(const struct stat& st) {
  return double(st.st_mtim.tv_sec) + 1e-9 * double(st.st_mtim.tv_nsec);
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

uint64_t hash64(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string hostname() {
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  return host;
}

// A token "host:pid:rand:n" whose process is gone from this host or a zombie (the holder was
// killed): its lease need not wait for the TTL. Other hosts' holders are judged by the TTL alone.
bool holder_dead(const std::string& token) {
  const size_t a = token.find(':');
  const size_t b = a == std::string::npos ? a : token.find(':', a + 1);
  if (b == std::string::npos || token.substr(0, a) != hostname()) return false;
  const long pid = std::strtol(token.c_str() + a + 1, nullptr, 10);
  if (pid <= 0) return false;
  if (::kill(pid_t(pid), 0) != 0) return errno == ESRCH;
  // A killed process its parent has not reaped yet is a zombie: it still answers kill(pid, 0)
  // but will never heartbeat again. Orphans stay zombies for good where PID 1 does not reap
  // (containers), e.g. an MPI rank whose mpirun has exited. /proc/<pid>/stat: "pid (comm) S ...".
  std::string stat;
  if (!read_file(fmt::format("/proc/{}/stat", pid), &stat)) return false;
  const size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return false;
  const char state = stat[close + 2];
  return state == 'Z' || state == 'X';
}

}  // namespace

bool create_exclusive(const fs::path& path, const std::string& content,
                      const std::string& unique) {
  const fs::path tmp = path.string() + ".tmp." + unique;
  int fd = ::open(tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) sys_fail("create " + tmp.string());
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      ::unlink(tmp.c_str());
      sys_fail("write " + tmp.string());
    }
    p += n;
    left -= size_t(n);
  }
  ::close(fd);
  bool ok = ::link(tmp.c_str(), path.c_str()) == 0;
  if (!ok && errno != EEXIST) {
    // On NFS the reply may be lost although the link was made: the link count tells.
    struct stat st {};
    ok = ::stat(tmp.c_str(), &st) == 0 && st.st_nlink == 2;
    if (!ok) {
      int e = errno;
      ::unlink(tmp.c_str());
      errno = e;
      sys_fail("link " + path.string());
    }
  }
  ::unlink(tmp.c_str());
  return ok;
}

std::string Leases::make_owner() {
  std::random_device rd;
  return fmt::format("{}:{}:{:08x}", hostname(), ::getpid(), rd());
}

Leases::Leases(fs::path dir, std::string owner, double ttl_s)
    : dir_(std::move(dir)), owner_(std::move(owner)), ttl_s_(ttl_s) {
  fs::create_directories(dir_);
}

Leases::~Leases() {
  std::error_code ec;
  fs::remove(dir_ / (".clock." + owner_), ec);
}

fs::path Leases::path(const std::string& name) const { return dir_ / (name + ".lease"); }

std::string Leases::new_token() { return fmt::format("{}:{}", owner_, ++counter_); }

std::string Leases::unique() { return fmt::format("{:016x}.{}", hash64(owner_), ++counter_); }

double Leases::fs_now() const {
  const fs::path probe = dir_ / (".clock." + owner_);
  int fd = ::open(probe.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) sys_fail("create " + probe.string());
  ::futimens(fd, nullptr);
  struct stat st {};
  ::fstat(fd, &st);
  ::close(fd);
  return mtime_of(st);
}

bool Leases::acquire(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (held_.count(name)) return true;
  const fs::path p = path(name);
  for (int attempt = 0; attempt < 3; ++attempt) {
    const std::string token = new_token();
    if (create_exclusive(p, token + "\n", unique())) {
      held_.insert(name);
      tokens_.emplace_back(name, token);
      return true;
    }
    // Held: live or stale?
    std::string old;
    struct stat st {};
    if (!read_file(p, &old) || ::stat(p.c_str(), &st) != 0) continue;  // just released: retry
    const std::string old_token = first_line(old);
    const double age = fs_now() - mtime_of(st);
    if (age <= ttl_s_ && !holder_dead(old_token)) return false;
    if (!take_break(name, old_token, token)) return false;
    std::string now;
    if (read_file(p, &now) && first_line(now) == old_token) ::unlink(p.c_str());
    // The stale generation is gone; race for a fresh lease like everyone else.
  }
  return false;
}

// The break file of `old_token`'s generation, created for `token`. If another process holds it,
// that process is taking the generation over, unless it died doing so (a gone or zombie process
// of this host, or a break file older than the TTL): then its own break, keyed by its token, is
// taken in turn, so that among the processes that find it dead exactly one goes on. A chain of
// breakers that all died is followed the same way.
bool Leases::take_break(const std::string& name, const std::string& old_token,
                        const std::string& token) {
  std::string generation = old_token;
  for (int depth = 0; depth < 16; ++depth) {
    const fs::path brk = dir_ / fmt::format("{}.break.{:016x}", name, hash64(generation));
    if (create_exclusive(brk, token + "\n", unique())) return true;
    std::string content;
    struct stat st {};
    if (!read_file(brk, &content) || ::stat(brk.c_str(), &st) != 0) return false;
    const std::string breaker = first_line(content);
    if (fs_now() - mtime_of(st) <= ttl_s_ && !holder_dead(breaker)) return false;
    generation = breaker;
  }
  return false;
}

std::vector<std::string> Leases::heartbeat() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> lost;
  for (auto it = tokens_.begin(); it != tokens_.end();) {
    const fs::path p = path(it->first);
    std::string content;
    if (!read_file(p, &content) || first_line(content) != it->second) {
      lost.push_back(it->first);
      held_.erase(it->first);
      it = tokens_.erase(it);
      continue;
    }
    ::utimensat(AT_FDCWD, p.c_str(), nullptr, 0);
    ++it;
  }
  return lost;
}

void Leases::release(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = tokens_.begin(); it != tokens_.end(); ++it) {
    if (it->first != name) continue;
    const fs::path p = path(name);
    // Removing a generation takes its break file, as a takeover would: never two removers.
    const fs::path brk = dir_ / fmt::format("{}.break.{:016x}", name, hash64(it->second));
    if (create_exclusive(brk, it->second + "\n", unique())) {
      std::string content;
      if (read_file(p, &content) && first_line(content) == it->second) ::unlink(p.c_str());
    }
    held_.erase(name);
    tokens_.erase(it);
    return;
  }
}

void Leases::remove_all(const std::string& name) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    held_.erase(name);
    for (auto it = tokens_.begin(); it != tokens_.end();)
      it = it->first == name ? tokens_.erase(it) : it + 1;
  }
  std::error_code ec;
  fs::remove(path(name), ec);
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    const std::string f = e.path().filename().string();
    if (f.rfind(name + ".break.", 0) == 0) fs::remove(e.path(), ec);
  }
}

int Leases::clean(const std::set<std::string>& done) {
  const double now = fs_now();
  int n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    const std::string f = e.path().filename().string();
    struct stat st {};
    if (::stat(e.path().c_str(), &st) != 0) continue;
    const double age = now - mtime_of(st);
    bool stale = false;
    if (f.rfind(".clock.", 0) == 0) {
      const std::string owner = f.substr(7);
      stale = owner != owner_ && (holder_dead(owner + ":0") || age > 2 * ttl_s_);
    } else if (f.find(".tmp.") != std::string::npos) {
      stale = age > ttl_s_;
    } else if (const size_t brk = f.find(".break."); brk != std::string::npos) {
      stale = done.count(f.substr(0, brk)) > 0;
    } else if (f.size() > 6 && f.compare(f.size() - 6, 6, ".lease") == 0) {
      stale = done.count(f.substr(0, f.size() - 6)) > 0;
    }
    std::error_code rm;
    if (stale && fs::remove(e.path(), rm)) ++n;
  }
  return n;
}

bool Leases::holds(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_.count(name) > 0;
}

std::vector<LeaseInfo> Leases::list(bool live_only) const {
  std::vector<LeaseInfo> out;
  const double now = fs_now();
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    const std::string f = e.path().filename().string();
    if (f.size() < 7 || f.compare(f.size() - 6, 6, ".lease") != 0) continue;
    std::string content;
    struct stat st {};
    if (!read_file(e.path(), &content) || ::stat(e.path().c_str(), &st) != 0) continue;
    LeaseInfo li;
    li.name = f.substr(0, f.size() - 6);
    const std::string token = first_line(content);
    li.owner = token.substr(0, token.rfind(':'));
    li.age_s = now - mtime_of(st);
    li.dead = holder_dead(token);
    if (live_only && (li.age_s > ttl_s_ || li.dead)) continue;
    out.push_back(std::move(li));
  }
  return out;
}

bool Leases::held_by_other(const std::string& name) const {
  if (holds(name)) return false;
  struct stat st {};
  std::string content;
  if (!read_file(path(name), &content) || ::stat(path(name).c_str(), &st) != 0) return false;
  return fs_now() - mtime_of(st) <= ttl_s_ && !holder_dead(first_line(content));
}

}  // namespace moe::results
