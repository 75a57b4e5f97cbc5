#include "runtime/core/dtype.h"

#include <array>
#include <cmath>
#include <limits>

namespace moe {
namespace {
struct Info {
  DType t;
  std::string_view name;
  int bits;
  bool is_float;
};
constexpr std::array<Info, 22> kInfo{{
    {DType::BOOL, "BOOL", 8, false},       {DType::U8, "U8", 8, false},
    {DType::I8, "I8", 8, false},           {DType::I16, "I16", 16, false},
    {DType::U16, "U16", 16, false},        {DType::I32, "I32", 32, false},
    {DType::U32, "U32", 32, false},        {DType::I64, "I64", 64, false},
    {DType::U64, "U64", 64, false},        {DType::F16, "F16", 16, true},
    {DType::BF16, "BF16", 16, true},       {DType::F32, "F32", 32, true},
    {DType::F64, "F64", 64, true},         {DType::C64, "C64", 64, true},
    {DType::F8_E5M2, "F8_E5M2", 8, true},  {DType::F8_E4M3, "F8_E4M3", 8, true},
    {DType::F8_E8M0, "F8_E8M0", 8, true},  {DType::F8_E4M3FNUZ, "F8_E4M3FNUZ", 8, true},
    {DType::F8_E5M2FNUZ, "F8_E5M2FNUZ", 8, true}, {DType::F4, "F4", 4, true},
    {DType::F6_E2M3, "F6_E2M3", 6, true},  {DType::F6_E3M2, "F6_E3M2", 6, true},
}};
const Info& info(DType t) { return kInfo[static_cast<size_t>(t)]; }
}  // namespace

int dtype_bits(DType t) { return info(t).bits; }
std::string_view dtype_name(DType t) { return info(t).name; }
bool is_float(DType t) { return info(t).is_float; }

std::optional<DType> parse_dtype(std::string_view name) {
  for (const auto& i : kInfo)
    if (i.name == name) return i.t;
  return std::nullopt;
}

std::optional<uint64_t> dtype_bytes(DType t, uint64_t n) {
  const uint64_t bits = uint64_t(dtype_bits(t));
  if (n != 0 && bits > std::numeric_limits<uint64_t>::max() / n) return std::nullopt;
  const uint64_t total = n * bits;
  if (total % 8 != 0) return std::nullopt;
  return total / 8;
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h >> 15) << 31;
  const uint32_t exp = (h >> 10) & 0x1f;
  const uint32_t man = h & 0x3ff;
  float f;
  if (exp == 0) {
    f = std::ldexp(float(man), -24);
    uint32_t u;
    std::memcpy(&u, &f, 4);
    u |= sign;
    std::memcpy(&f, &u, 4);
    return f;
  }
  uint32_t u = exp == 31 ? (sign | 0x7f800000u | (man << 13))
                         : (sign | ((exp + 112) << 23) | (man << 13));
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t f32_to_f16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7e00;                // NaN
  if (a >= 0x477ff000u) return sign | 0x7c00;               // overflow -> inf
  if (a < 0x38800000u) {                                    // subnormal or zero
    const float v = std::fabs(f) * 16777216.0f;             // scale by 2^24
    return sign | uint16_t(std::nearbyint(v));
  }
  uint32_t r = a + 0xfffu + ((a >> 13) & 1u) - (112u << 23);
  return sign | uint16_t(r >> 13);
}

float f8_e4m3_to_f32(uint8_t v) {
  const int sign = v >> 7, exp = (v >> 3) & 0xf, man = v & 7;
  if (exp == 15 && man == 7) return std::numeric_limits<float>::quiet_NaN();
  const float mag = exp == 0 ? std::ldexp(float(man), -9) : std::ldexp(1.0f + man / 8.0f, exp - 7);
  return sign ? -mag : mag;
}

float f8_e5m2_to_f32(uint8_t v) { return f16_to_f32(uint16_t(v) << 8); }

float e8m0_to_f32(uint8_t v) {
  if (v == 255) return std::numeric_limits<float>::quiet_NaN();
  return std::ldexp(1.0f, int(v) - 127);
}

float fp4_e2m1_to_f32(uint8_t nibble) {
  static constexpr float kLut[16] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f,
                                     -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};
  return kLut[nibble & 0xf];
}

void decode_mxfp4(const uint8_t* blocks, const uint8_t* scales, int64_t n, float* out) {
  // Both nibbles of every byte value at once: pair[b] = {fp4(b & 15), fp4(b >> 4)}.
  static const std::array<std::array<float, 2>, 256> kPair = [] {
    std::array<std::array<float, 2>, 256> t{};
    for (int b = 0; b < 256; ++b) t[size_t(b)] = {fp4_e2m1_to_f32(uint8_t(b & 15)), fp4_e2m1_to_f32(uint8_t(b >> 4))};
    return t;
  }();
  for (int64_t blk = 0; blk < n / kMxfp4Block; ++blk) {
    const float scale = e8m0_to_f32(scales[blk]);
    const uint8_t* b = blocks + blk * (kMxfp4Block / 2);
    float* o = out + blk * kMxfp4Block;
    for (int i = 0; i < kMxfp4Block / 2; ++i) {
      o[2 * i] = kPair[b[i]][0] * scale;
      o[2 * i + 1] = kPair[b[i]][1] * scale;
    }
  }
}

}  // namespace moe
