// Bounded integer fields of config.json, shared by the config parser and the family files.
// The upper bounds are far above any published model and keep a corrupt or hostile config from
// making the parser allocate per-layer tables of absurd size.
// Internal to runtime/io (includes nlohmann/json through json_util.h): include from .cpp only.
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string_view>

#include "runtime/core/error.h"
#include "runtime/io/json_util.h"

namespace moe::io {

inline constexpr int64_t kMaxLayers = 4096;
inline constexpr int64_t kMaxHidden = 1 << 20;
inline constexpr int64_t kMaxHeads = 4096;
inline constexpr int64_t kMaxHeadDim = 4096;
inline constexpr int64_t kMaxExperts = 1 << 16;
inline constexpr int64_t kMaxVocab = 1 << 24;
inline constexpr int64_t kMaxIntermediate = 1 << 22;
inline constexpr int64_t kMaxPositions = int64_t(1) << 40;

// An integer in [1, max] if present (null counts as absent); InputError otherwise.
inline std::optional<int64_t> opt_dim(const JsonObject& j, std::string_view key, int64_t max) {
  const auto v = j.opt_int(key);
  if (!v) return std::nullopt;
  if (*v < 1 || *v > max) {
    throw input_error(j.where(key), "expected an integer in [1, {}], found {}", max, *v);
  }
  return *v;
}

inline int64_t req_dim(const JsonObject& j, std::string_view key, int64_t max) {
  if (!j.has(key)) {
    throw input_error(j.where(key), "expected an integer in [1, {}], found nothing (the key is "
                      "missing)", max);
  }
  return *opt_dim(j, key, max);
}

}  // namespace moe::io
