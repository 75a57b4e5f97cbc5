#include "sweeps/eval/prompt.h"

#include <algorithm>

#include "runtime/io/tokenizer.h"

namespace moe::eval {

PromptEncoder::PromptEncoder(io::Family family, const io::Tokenizer& tokenizer,
                             const io::SpecialTokens& special, io::ChatOptions chat)
    : family_(family), tok_(tokenizer), special_(special), chat_(std::move(chat)) {
  if (chat_.bos_text.empty()) chat_.bos_text = special.bos_token;
  if (chat_.eos_text.empty()) chat_.eos_text = special.eos_token;
}

std::vector<int32_t> PromptEncoder::plain(std::string_view text) const {
  return tok_.encode(text, /*add_special_tokens=*/true);
}

std::string PromptEncoder::chat_text(std::string_view user_message) const {
  const io::ChatMessage m{"user", std::string(user_message)};
  return io::apply_chat_template(family_, std::span(&m, 1), chat_);
}

std::vector<int32_t> PromptEncoder::chat(std::string_view user_message) const {
  return tok_.encode(chat_text(user_message), /*add_special_tokens=*/false);
}

std::pair<std::vector<int32_t>, std::vector<int32_t>> PromptEncoder::choice(
    std::string_view context, std::string_view continuation) const {
  std::vector<int32_t> ctx = plain(context);
  const std::vector<int32_t> whole = plain(std::string(context) + std::string(continuation));
  if (whole.size() > ctx.size() && std::equal(ctx.begin(), ctx.end(), whole.begin()))
    return {std::move(ctx),
            std::vector<int32_t>(whole.begin() + std::ptrdiff_t(ctx.size()), whole.end())};
  return {std::move(ctx), tok_.encode(continuation, /*add_special_tokens=*/false)};
}

std::string PromptEncoder::answer_text(std::string_view generated, bool chat) const {
  if (chat && family_ == io::Family::kGptOss) return io::harmony_final_answer(generated);
  const size_t think = generated.rfind("</think>");
  if (think != std::string_view::npos) return std::string(generated.substr(think + 8));
  return std::string(generated);
}

std::vector<int32_t> PromptEncoder::stop_tokens() const {
  std::vector<int32_t> out;
  for (int64_t id : special_.eos) out.push_back(int32_t(id));
  return out;
}

}  // namespace moe::eval
