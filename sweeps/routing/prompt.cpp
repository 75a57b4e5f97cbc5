#include "sweeps/routing/prompt.h"

#include <fmt/format.h>

#include <algorithm>

#include "runtime/core/error.h"
#include "runtime/io/tokenizer.h"

namespace moe::corpus {

namespace {

// Length of the common prefix of a and b.
size_t common_prefix(const std::vector<int32_t>& a, size_t a_begin, const std::vector<int32_t>& b) {
  size_t n = 0;
  while (a_begin + n < a.size() && n < b.size() && a[a_begin + n] == b[n]) ++n;
  return n;
}

// Length of the common suffix of a[begin..] and b.
size_t common_suffix(const std::vector<int32_t>& a, size_t a_begin, const std::vector<int32_t>& b) {
  size_t n = 0;
  while (n < a.size() - a_begin && n < b.size() && a[a.size() - 1 - n] == b[b.size() - 1 - n]) ++n;
  return n;
}

}  // namespace

PromptBuilder::Style PromptBuilder::parse_style(const std::string& name, const std::string& where) {
  if (name == "raw") return Style::kRaw;
  if (name == "chat") return Style::kChat;
  throw input_error(where, "expected raw or chat, found '{}'", name);
}

PromptBuilder::PromptBuilder(const io::Tokenizer& tokenizer, io::Family family, Style style,
                             io::ChatOptions chat)
    : tok_(&tokenizer), family_(family), style_(style), chat_(std::move(chat)) {}

std::string PromptBuilder::describe() const {
  return style_ == Style::kRaw ? "raw" : fmt::format("chat:{}", io::family_name(family_));
}

Prompt PromptBuilder::build(const std::string& text) const {
  Prompt p;
  if (style_ == Style::kRaw) {
    p.tokens = tok_->encode(text, /*add_special_tokens=*/true);
    // The post-processor only wraps the text's tokens: find them inside.
    const std::vector<int32_t> own = tok_->encode(text, false);
    const auto it = std::search(p.tokens.begin(), p.tokens.end(), own.begin(), own.end());
    MOE_ASSERT(it != p.tokens.end() || own.empty(), "the post-processor changed the text's tokens");
    p.content_begin = it - p.tokens.begin();
    p.content_end = p.content_begin + int64_t(own.size());
    return p;
  }
  const io::ChatMessage message{"user", text};
  const std::string full = io::apply_chat_template(family_, std::span(&message, 1), chat_);
  const size_t at = full.find(text);
  MOE_ASSERT(at != std::string::npos, "the chat template does not contain the user text");
  p.tokens = tok_->encode(full, false);
  const std::vector<int32_t> before = tok_->encode(full.substr(0, at), false);
  const std::vector<int32_t> after = tok_->encode(full.substr(at + text.size()), false);
  const size_t b = common_prefix(p.tokens, 0, before);
  const size_t a = common_suffix(p.tokens, b, after);
  p.content_begin = int64_t(b);
  p.content_end = int64_t(p.tokens.size() - a);
  if (p.content_end <= p.content_begin)
    throw Error(fmt::format("{}: no token of the text '{}' is apart from the template's tokens",
                            describe(), text.substr(0, 60)));
  return p;
}

}  // namespace moe::corpus
