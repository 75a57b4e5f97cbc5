// libFuzzer target: Tokenizer::from_json on arbitrary bytes; when a tokenizer loads, encode and
// decode a fixed multilingual text with and without special tokens. Bad input must end in
// moe::InputError; anything else (a crash, a sanitizer report, another exception) is a bug.
// Seeds: tests/fuzz/corpus/tokenizer_json/.
#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/core/error.h"
#include "runtime/io/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string kText =
      "Hello wörld, it's 2025!  <|im_start|>user\nDer Fuchs 中文 हिंदी العربية 🙂\t<s>x</s> "
      "▁y\r\n";
  const std::string json(reinterpret_cast<const char*>(data), size);
  try {
    const moe::io::Tokenizer tok = moe::io::Tokenizer::from_json(json, "fuzz.json");
    const auto ids = tok.encode(kText);
    tok.decode(ids);
    tok.decode(ids, /*skip_special_tokens=*/true);
    const auto with_special = tok.encode(kText, /*add_special_tokens=*/true);
    tok.decode(with_special);
    for (int32_t id : ids) tok.id_to_token(id);
    tok.vocab_size();
  } catch (const moe::InputError&) {
    // Rejected with a message: the expected outcome for bad files.
  }
  return 0;
}
