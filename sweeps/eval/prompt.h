// PromptEncoder: turns the evaluator's prompt texts into token ids for one model, and the model's
// generated text back into the text that is scored.
//
//   plain(text)     the text encoded with the tokenizer's special tokens (its post-processor
//                   adds BOS where the checkpoint does), as evaluation harnesses encode prompts.
//   chat(message)   one user message in the family's chat template (runtime/io/chat.h) with the
//                   generation prompt, encoded without adding special tokens (the template holds
//                   them). bos_token/eos_token texts come from tokenizer_config.json.
//   choice(context, continuation)  the evaluation-harness split for loglikelihood: whole =
//                   plain(context + continuation), context ids = plain(context), continuation
//                   ids = the rest of whole; when whole does not start with the context ids (a
//                   merge across the boundary), the continuation is encoded on its own.
//   answer_text(generated)  what is scored: gpt_oss chat output -> the final channel
//                   (harmony_final_answer); output with a "</think>" -> the text after the last
//                   one (Qwen3 with thinking on); otherwise the text as generated.
// Thread-safety: const methods are safe to call concurrently (the tokenizer is).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/io/chat.h"
#include "runtime/io/model_config.h"

namespace moe::io {
class Tokenizer;
}

namespace moe::eval {

class PromptEncoder {
 public:
  // The tokenizer and special tokens must outlive the encoder.
  PromptEncoder(io::Family family, const io::Tokenizer& tokenizer, const io::SpecialTokens& special,
                io::ChatOptions chat);

  std::vector<int32_t> plain(std::string_view text) const;
  std::vector<int32_t> chat(std::string_view user_message) const;
  std::string chat_text(std::string_view user_message) const;  // before tokenisation
  std::pair<std::vector<int32_t>, std::vector<int32_t>> choice(std::string_view context,
                                                               std::string_view continuation) const;
  std::string answer_text(std::string_view generated, bool chat) const;
  // Generation stops at these ids (the checkpoint's end-of-sequence ids).
  std::vector<int32_t> stop_tokens() const;
  const io::ChatOptions& chat_options() const { return chat_; }

 private:
  io::Family family_;
  const io::Tokenizer& tok_;
  const io::SpecialTokens& special_;
  io::ChatOptions chat_;
};

}  // namespace moe::eval
