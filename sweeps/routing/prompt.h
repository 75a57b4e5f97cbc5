// Routing prompts: how a corpus text becomes the token ids that are prefilled, and which of them
// are the content (sweeps/METHODS.md A.5: statistics count all prompt tokens by default, or only
// the content span).
//   raw   the text tokenised as Hugging Face's encode() does (the post-processor's special tokens,
//         e.g. a BOS, added); content = the text's own tokens.
//   chat  the family's chat template (runtime/io/chat.h) around one user message holding the
//         text, with the generation prompt (Qwen3: thinking off), tokenised without added special
//         tokens (the template writes them); content = the tokens of the text inside it.
// The content span is found by tokenising the template's text before and after the message:
// tokens that match those pieces' tokenisation at the start and the end are not content. Where a
// BPE merge crosses a boundary the merged token counts as content.
// Thread-safety: const methods are safe to call concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/io/chat.h"
#include "runtime/io/model_config.h"

namespace moe::io {
class Tokenizer;
}

namespace moe::corpus {

struct Prompt {
  std::vector<int32_t> tokens;  // [T]
  int64_t content_begin = 0;    // content token positions [content_begin, content_end)
  int64_t content_end = 0;
};

class PromptBuilder {
 public:
  enum class Style { kRaw, kChat };
  // Throws InputError at `where` for a style other than "raw" / "chat".
  static Style parse_style(const std::string& name, const std::string& where);

  // `tokenizer` must outlive the builder.
  PromptBuilder(const io::Tokenizer& tokenizer, io::Family family, Style style,
                io::ChatOptions chat = {});
  Prompt build(const std::string& text) const;
  // "raw" or "chat:{family}" (recorded with the statistics).
  std::string describe() const;

 private:
  const io::Tokenizer* tok_;
  io::Family family_;
  Style style_;
  io::ChatOptions chat_;
};

}  // namespace moe::corpus
