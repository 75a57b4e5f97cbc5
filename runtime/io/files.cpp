#include "runtime/io/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "runtime/core/error.h"

namespace moe::io {

std::string read_text_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw input_error(path.string(), "expected a file, found nothing (no such file)");
  if (std::filesystem::is_directory(path, ec))
    throw input_error(path.string(), "expected a file, found a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw input_error(path.string(), "cannot open the file for reading");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw input_error(path.string(), "read error");
  return ss.str();
}

void write_text_file(const std::filesystem::path& path, const std::string& text) {
  OutputFile f(path);
  f.pwrite_all(text.data(), text.size(), 0);
  f.commit();
}

OutputFile::OutputFile(std::filesystem::path path) : path_(std::move(path)), tmp_(path_) {
  tmp_ += ".tmp";
  fd_ = ::open(tmp_.c_str(), O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("cannot create");
}

OutputFile::~OutputFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
}

void OutputFile::fail(const char* what) const {
  throw input_error(path_.string(), "{} the file: {}", what, std::strerror(errno));
}

void OutputFile::pwrite_all(const void* data, size_t n, uint64_t at) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::pwrite(fd_, p, n, off_t(at));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail("cannot write");
    p += w;
    n -= size_t(w);
    at += uint64_t(w);
  }
}

void OutputFile::reserve(uint64_t size) {
  if (int rc = ::posix_fallocate(fd_, 0, off_t(size)); rc != 0) {
    errno = rc;
    if (rc != EOPNOTSUPP && rc != EINVAL) fail("cannot reserve space for");
    if (::ftruncate(fd_, off_t(size)) != 0) fail("cannot size");
  }
}

void OutputFile::commit() {
  if (::fsync(fd_) != 0) fail("cannot sync");
  const int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) fail("cannot close");
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) fail("cannot rename into place");
  committed_ = true;
}

}  // namespace moe::io
