// Normalizers of tokenizer.json ("normalizer" key): text -> normalized text, applied to every
// piece of input between added tokens. Supported types: NFC, NFD, NFKC, NFKD (utf8proc),
// Lowercase, Strip, StripAccents, Prepend, Replace (string or regex), ByteLevel, Sequence.
// Immutable after construction. Thread-safety: normalize() is const and safe concurrently.
#pragma once

#include <memory>
#include <string>

#include "runtime/io/tokenizer/json_util.h"

namespace moe::io::tok {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // `text` is valid UTF-8 and stays so.
  virtual void normalize(std::string& text) const = 0;
};

// Builds the normalizer described by `j` (an object with "type"); `where` names it in errors.
std::unique_ptr<Normalizer> make_normalizer(const Json& j, const JsonWhere& where);

// Unicode normalization forms, shared with anything else that needs them.
enum class UnicodeForm { kNFC, kNFD, kNFKC, kNFKD };
std::string unicode_normalize(const std::string& text, UnicodeForm form);

}  // namespace moe::io::tok
