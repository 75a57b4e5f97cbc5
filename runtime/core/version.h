// The code version recorded in every result file ("0.1.0+<git describe>").
#pragma once
namespace moe {
const char* code_version();
}
