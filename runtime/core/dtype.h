// Element types of checkpoints and tensors, with the safetensors names, bit widths and the scalar
// conversions every backend shares (bf16, f16, the fp8/fp4 formats are decoded here only).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace moe {

enum class DType : uint8_t {
  BOOL, U8, I8, I16, U16, I32, U32, I64, U64,
  F16, BF16, F32, F64, C64,
  F8_E5M2, F8_E4M3, F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ,
  F4, F6_E2M3, F6_E3M2,
};

// Bits per element (F4 = 4, F6_* = 6, C64 = 64).
int dtype_bits(DType t);
// The safetensors spelling ("BF16", "F8_E4M3", ...).
std::string_view dtype_name(DType t);
// Parses the safetensors spelling; std::nullopt if unknown.
std::optional<DType> parse_dtype(std::string_view name);
// Bytes for n elements, rounding sub-byte types up to whole bytes; nullopt when n*bits is not a
// whole number of bytes for sub-byte types (safetensors requires exact sizes).
std::optional<uint64_t> dtype_bytes(DType t, uint64_t n);
bool is_float(DType t);

// ---- scalar conversions ---------------------------------------------------------------------
inline float bf16_to_f32(uint16_t b) {
  uint32_t u = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
// Round-to-nearest-even, NaN preserved (quiet).
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}
// Rounds an f32 to the nearest bf16 value, kept as f32 (emulates a bf16 activation).
inline float round_bf16(float f) { return bf16_to_f32(f32_to_bf16(f)); }
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
// FP8 / FP4 decoding (value of one element).
float f8_e4m3_to_f32(uint8_t v);
float f8_e5m2_to_f32(uint8_t v);
// E8M0 scale: 2^(v - 127); v == 255 is NaN.
float e8m0_to_f32(uint8_t v);
// FP4 E2M1 nibble (low 4 bits) -> value, per the MXFP4 table.
float fp4_e2m1_to_f32(uint8_t nibble);

// ---- MXFP4 (OCP Microscaling: 32 FP4 E2M1 values share one E8M0 scale) ----------------------
inline constexpr int kMxfp4Block = 32;  // values per scale (16 bytes of blocks)
// Decodes n values (n a multiple of 32) of one MXFP4 row as published (runtime/models/README.md
// section 3): value c = fp4(nibble) * 2^(scales[c / 32] - 127), where the nibble of c is the LOW
// nibble of byte blocks[c / 2] for even c and the HIGH nibble for odd c.
// blocks: [n / 2] bytes; scales: [n / 32] E8M0 bytes; out: [n]
void decode_mxfp4(const uint8_t* blocks, const uint8_t* scales, int64_t n, float* out);

}  // namespace moe
