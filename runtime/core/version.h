// The code version recorded in every result file ("0.1.0+<git describe>"), and the digest of the
// sources that compute results (cmake/numerics_version.cmake), part of every sweep unit's id.
#pragma once
namespace moe {
const char* code_version();
const char* numerics_version();  // 16 hex digits
}
