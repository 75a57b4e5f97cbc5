#include "runtime/io/tokenizer/byte_level.h"

#include <array>

#include "runtime/io/tokenizer/utf8.h"

namespace moe::io::tok {

namespace {

// Bytes GPT-2 keeps as themselves: '!'..'~', U+00A1..U+00AC, U+00AE..U+00FF.
bool printable(char32_t b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

constexpr char32_t kShifted = 0x100;  // the other 68 bytes map to U+0100 + n
constexpr int kNumShifted = 68;

struct Tables {
  std::array<char32_t, 256> to_char{};
  std::array<std::string, 256> utf8{};
  std::array<unsigned char, kNumShifted> shifted_to_byte{};
  Tables() {
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      if (printable(static_cast<char32_t>(b))) {
        to_char[b] = static_cast<char32_t>(b);
      } else {
        shifted_to_byte[n] = static_cast<unsigned char>(b);
        to_char[b] = kShifted + static_cast<char32_t>(n++);
      }
      utf8[b] = to_utf8(to_char[b]);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

char32_t byte_to_char(unsigned char b) {
  return tables().to_char[b];
}

std::optional<unsigned char> char_to_byte(char32_t cp) {
  if (printable(cp)) return static_cast<unsigned char>(cp);
  if (cp >= kShifted && cp < kShifted + kNumShifted) return tables().shifted_to_byte[cp - kShifted];
  return std::nullopt;
}

std::string bytes_to_alphabet(std::string_view bytes) {
  const Tables& t = tables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += t.utf8[static_cast<unsigned char>(c)];
  return out;
}

std::optional<std::string> alphabet_to_bytes(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (size_t i = 0; i < token.size();) {
    size_t len = 0;
    const char32_t cp = decode_utf8(token, i, len);
    const auto b = char_to_byte(cp);
    if (!b) return std::nullopt;
    out.push_back(static_cast<char>(*b));
    i += len;
  }
  return out;
}

}  // namespace moe::io::tok
