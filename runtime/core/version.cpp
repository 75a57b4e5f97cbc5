#include "runtime/core/version.h"

#include "numerics_version.h"

namespace moe {
const char* code_version() { return MOE_CODE_VERSION; }
const char* numerics_version() {
  return MOE_NUMERICS_VERSION;
}
}  // namespace moe
