// libFuzzer target: parse_model_config on arbitrary text. Any input must either give a config
// whose per-layer tables match its layer count, or throw moe::InputError.
#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/core/error.h"
#include "runtime/io/layout.h"
#include "runtime/io/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const moe::io::ModelConfig c = moe::io::parse_model_config(text, "fuzz/config.json");
    if (c.moe_layer.size() != size_t(c.num_layers) ||
        c.sliding_window.size() != size_t(c.num_layers) || c.top_k > c.num_experts ||
        c.num_heads % c.num_kv_heads != 0)
      __builtin_trap();
    // The layout must be computable for any accepted config when it is small enough to list.
    if (int64_t(c.num_layers) * c.num_experts <= 4096) (void)moe::io::checkpoint_layout(c);
  } catch (const moe::InputError&) {
  }
  return 0;
}
