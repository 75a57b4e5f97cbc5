// Errors: what moe-sweep throws when an operation cannot go on.
//
// Two kinds:
//  - InputError: bad user input (a file, a YAML key, a CLI flag, a dataset row). Its message
//    always names where (file, key path, byte offset or line), what was expected and what was
//    found, so the CLI can print it as one line and exit non-zero. Build them with input_error().
//  - InternalError: a broken invariant inside moe-sweep (a bug). Raised by MOE_ASSERT.
// Never use MOE_ASSERT on user input. Thread-safety: plain value types.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace moe {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class InputError : public Error {
 public:
  // where: "model.safetensors: tensor 'x' at byte 1234", "configs/a.yaml: grid.tau[2]", ...
  InputError(std::string where, std::string problem);
  const std::string& where() const { return where_; }
  const std::string& problem() const { return problem_; }

 private:
  std::string where_;
  std::string problem_;
};

class InternalError : public Error {
 public:
  using Error::Error;
};

// Builds "expected X, found Y" problems uniformly.
std::string expected_found(const std::string& expected, const std::string& found);

// At most max_bytes of s for quoting in a message, cut at a UTF-8 code point boundary (never
// inside a multi-byte sequence), with "..." appended when anything was cut.
std::string excerpt(const std::string& s, size_t max_bytes);

// input_error(where, "expected {}, found {}", a, b) -> InputError
template <typename... Args>
InputError input_error(std::string where, fmt::format_string<Args...> f, Args&&... args) {
  return InputError(std::move(where), fmt::format(f, std::forward<Args>(args)...));
}

[[noreturn]] void assert_fail(const char* expr, const char* file, int line, const std::string& msg);

}  // namespace moe

// Internal invariant check, active in every build type.
#define MOE_ASSERT(cond, ...)                                                   \
  do {                                                                          \
    if (!(cond)) ::moe::assert_fail(#cond, __FILE__, __LINE__, fmt::format("" __VA_ARGS__)); \
  } while (0)
