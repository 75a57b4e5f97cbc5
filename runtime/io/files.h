// Whole-file reads and atomic writes for the input/output code in runtime/io.
//
// OutputFile writes "<path>.tmp" and renames it into place on commit(), so a reader never sees a
// half-written file; destroyed without commit (an error part-way), it removes the temporary.
// Errors are moe::InputError naming the file. Thread-safety: an OutputFile belongs to one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace moe::io {

// Reads a whole file; InputError naming it if it is missing, a directory or unreadable.
std::string read_text_file(const std::filesystem::path& path);
// Writes a whole file atomically (temporary + fsync + rename).
void write_text_file(const std::filesystem::path& path, const std::string& text);

class OutputFile {
 public:
  explicit OutputFile(std::filesystem::path path);  // creates "<path>.tmp"
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  int fd() const { return fd_; }
  const std::filesystem::path& path() const { return path_; }
  // Writes all of [data, data+n) at byte `at`.
  void pwrite_all(const void* data, size_t n, uint64_t at);
  // Sizes the file to `size` bytes, reserving the disk space when the file system can.
  void reserve(uint64_t size);
  // fsync, close, rename into place.
  void commit();
  // Throws InputError "<path>: <what> the file: <strerror(errno)>".
  [[noreturn]] void fail(const char* what) const;

 private:
  std::filesystem::path path_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace moe::io
