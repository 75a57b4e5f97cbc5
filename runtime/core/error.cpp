#include "runtime/core/error.h"

namespace moe {

InputError::InputError(std::string where, std::string problem)
    : Error(where.empty() ? problem : where + ": " + problem),
      where_(std::move(where)),
      problem_(std::move(problem)) {}

std::string expected_found(const std::string& expected, const std::string& found) {
  return "expected " + expected + ", found " + found;
}

void assert_fail(const char* expr, const char* file, int line, const std::string& msg) {
  throw InternalError(fmt::format("internal error at {}:{}: assertion '{}' failed{}{}", file, line,
                                  expr, msg.empty() ? "" : ": ", msg));
}

}  // namespace moe
