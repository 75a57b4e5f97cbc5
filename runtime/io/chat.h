// Chat templates of the four families, in C++ (MODELS.md sections 1-4), producing the exact text
// the published Jinja templates produce; the text is then tokenised with the family's tokenizer
// (special tokens inside it are matched as added tokens).
// Thread-safety: pure functions.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "runtime/io/model_config.h"

namespace moe::io {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

struct ChatOptions {
  bool add_generation_prompt = true;
  // qwen3_moe: false appends "<think>\n\n</think>\n\n" to the generation prompt (the studies
  // evaluate with thinking off).
  bool enable_thinking = false;
  // gpt_oss harmony: "low" | "medium" | "high".
  std::string reasoning_effort = "low";
  // Prepend the BOS text where the family's template does (read from tokenizer_config.json).
  std::string bos_text;
};

std::string apply_chat_template(Family family, std::span<const ChatMessage> messages,
                                const ChatOptions& options = {});

// GPT-OSS harmony output: the text of the last "final" channel message in `generated` (the text
// after the generation prompt); if there is no final channel, the text after the last
// <|message|>; stops at <|end|>, <|return|> or <|call|>.
std::string harmony_final_answer(std::string_view generated);

}  // namespace moe::io
