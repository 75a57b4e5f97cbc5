// Chat templates of the four families, in C++ (runtime/models/README.md sections 1-5), producing
// the exact text the published Jinja templates produce for system/user/assistant conversations;
// the text is then tokenised with the family's tokenizer (special tokens inside it are matched as
// added tokens).
//   qwen3_moe  Qwen3 release template (thinking on/off, <think> stripped from past turns)
//   olmoe      OLMoE-0125-Instruct: bos_token + the Tulu template
//   gpt_oss    harmony (system message with reasoning effort and date, developer instructions)
//   phimoe     Phi-3.5 template
// tests/data/chat/ holds the published templates' output (tools/make_chat_fixtures.py).
// Tool calls and tool messages are not supported (an InputError names the message).
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
  // The bos_token / eos_token texts of tokenizer_config.json where the template uses them:
  // olmoe starts with bos_token ("" when the config has none) and ends assistant turns with
  // eos_token; phimoe ends a conversation without generation prompt with eos_token. An empty
  // eos_text means the published one ("<|endoftext|>" for both).
  std::string bos_text;
  std::string eos_text;
  // gpt_oss system message: "Current date: YYYY-MM-DD" (the template calls strftime_now; empty
  // means today's local date, as the template does; set it to reproduce a run) and the model
  // identity line (empty: the template's default "You are ChatGPT, ...").
  std::string current_date;
  std::string model_identity;
};

std::string apply_chat_template(Family family, std::span<const ChatMessage> messages,
                                const ChatOptions& options = {});

// GPT-OSS harmony output: the text of the last "final" channel message in `generated` (the text
// after the generation prompt); if there is no final channel, the text after the last
// <|message|> (or all of it when there is none); the text stops at <|end|>, <|return|>,
// <|call|> or the next <|start|>.
std::string harmony_final_answer(std::string_view generated);

}  // namespace moe::io
