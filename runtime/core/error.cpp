#include "runtime/core/error.h"

namespace moe {

InputError::InputError(std::string where, std::string problem)
    : Error(where.empty() ? problem : where + ": " + problem),
      where_(std::move(where)),
      problem_(std::move(problem)) {}

std::string expected_found(const std::string& expected, const std::string& found) {
  return "expected " + expected + ", found " + found;
}

std::string excerpt(const std::string& s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t n = max_bytes;
  // Back up over UTF-8 continuation bytes (10xxxxxx) so the cut lands before a lead byte.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n) + "...";
}

void assert_fail(const char* expr, const char* file, int line, const std::string& msg) {
  throw InternalError(fmt::format("internal error at {}:{}: assertion '{}' failed{}{}", file, line,
                                  expr, msg.empty() ? "" : ": ", msg));
}

}  // namespace moe
