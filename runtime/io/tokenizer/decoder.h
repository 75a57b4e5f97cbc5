// Decoders of tokenizer.json ("decoder" key): token strings -> text, undoing the pre-tokenizer
// and normalizer. Supported types: ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace,
// BPEDecoder, Sequence. Each step maps the list of token strings to a new list; the text is
// their concatenation. Immutable. Thread-safety: decode_chain() is const and safe concurrently.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/io/tokenizer/json_util.h"

namespace moe::io::tok {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

std::unique_ptr<Decoder> make_decoder(const Json& j, const JsonWhere& where);

}  // namespace moe::io::tok
