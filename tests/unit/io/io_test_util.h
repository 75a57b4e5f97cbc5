// Helpers shared by the runtime/io tests: a temporary directory (removed at the end of the test),
// raw safetensors files built byte by byte, and checks on InputError messages.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "runtime/core/error.h"

namespace moe::io::testing {

// A fresh directory under the test's temporary directory, unique per process and instance;
// removed on destruction.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string("moe_io_") + info->test_suite_name() + "_" + info->name() +
                       "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    for (char& c : name)
      if (c == '/') c = '_';  // parameterised test names
    path_ = std::filesystem::path(::testing::TempDir()) / name;
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

inline std::string read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A safetensors file: 8-byte little-endian length `n` (the real header length unless given),
// the header text, then `data`.
inline std::string safetensors_bytes(const std::string& header, const std::string& data,
                                     int64_t claimed_len = -1) {
  const uint64_t n = claimed_len < 0 ? header.size() : uint64_t(claimed_len);
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[size_t(i)] = char((n >> (8 * i)) & 0xff);
  return out + header + data;
}

// Runs `f`, expects an InputError whose message contains every piece in `parts`; returns it.
template <typename F>
std::string expect_input_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
  } catch (const moe::InputError& e) {
    const std::string msg = e.what();
    for (const auto& p : parts) EXPECT_THAT(msg, ::testing::HasSubstr(p)) << "message: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "message spans lines: " << msg;
    return msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected moe::InputError, got another exception: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected moe::InputError, nothing was thrown";
  return {};
}

}  // namespace moe::io::testing
