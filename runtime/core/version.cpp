#include "runtime/core/version.h"
namespace moe {
const char* code_version() { return MOE_CODE_VERSION; }
}
