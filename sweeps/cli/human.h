// Human-readable numbers for CLI output: counts ("30.53 B", "1.20 M") and byte sizes
// ("61.07 GB", decimal units as Hugging Face reports them). Thread-safety: pure functions.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>

namespace moe::cli {

inline std::string human_count(double n) {
  if (n >= 1e9) return fmt::format("{:.2f} B", n / 1e9);
  if (n >= 1e6) return fmt::format("{:.2f} M", n / 1e6);
  if (n >= 1e3) return fmt::format("{:.2f} K", n / 1e3);
  return fmt::format("{:.0f}", n);
}

inline std::string human_bytes(uint64_t b) {
  const double d = double(b);
  if (d >= 1e9) return fmt::format("{:.2f} GB", d / 1e9);
  if (d >= 1e6) return fmt::format("{:.2f} MB", d / 1e6);
  if (d >= 1e3) return fmt::format("{:.2f} KB", d / 1e3);
  return fmt::format("{} B", b);
}

}  // namespace moe::cli
