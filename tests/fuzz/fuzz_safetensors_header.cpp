// libFuzzer target: SafetensorsFile::parse_header on arbitrary bytes taken as a whole file.
// Any input must either parse or throw moe::InputError; anything else (a crash, a sanitizer
// report, another exception type) is a bug.
#include <cstddef>
#include <cstdint>

#include "runtime/core/error.h"
#include "runtime/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto h = moe::io::SafetensorsFile::parse_header(data, size, "fuzz.safetensors");
    // A header that parses must describe ranges inside the input.
    for (const auto& t : h.tensors)
      if (t.end > size - h.data_start || t.begin > t.end) __builtin_trap();
  } catch (const moe::InputError&) {
  }
  return 0;
}
