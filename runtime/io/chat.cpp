// Chat templates of the four families: C++ renderings of the published Jinja templates (see the
// header). Each function follows its template statement by statement; the comments quote the
// template where the logic is not obvious.
#include "runtime/io/chat.h"

#include <ctime>
#include <optional>

#include "runtime/core/error.h"

namespace moe::io {

namespace {

constexpr std::string_view kPublishedEos = "<|endoftext|>";

// Python's str.lstrip('\n') / rstrip('\n') / strip('\n').
std::string_view lstrip_nl(std::string_view s) {
  while (!s.empty() && s.front() == '\n') s.remove_prefix(1);
  return s;
}
std::string_view rstrip_nl(std::string_view s) {
  while (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  return s;
}
std::string_view strip_nl(std::string_view s) {
  return rstrip_nl(lstrip_nl(s));
}

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}
bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

void check_roles(std::span<const ChatMessage> messages, bool developer_first) {
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string& r = messages[i].role;
    if (r == "system" || r == "user" || r == "assistant") continue;
    if (developer_first && i == 0 && r == "developer") continue;
    throw input_error(fmt::format("chat message {}: role", i),
                      "expected system, user or assistant, found '{}'", r);
  }
}

// Qwen3: "<|im_start|>{role}\n{content}<|im_end|>\n"; assistant turns after the last user query
// keep their reasoning as <think>...</think>, earlier ones lose it.
std::string qwen3(std::span<const ChatMessage> msgs, const ChatOptions& opt) {
  std::string out;
  const size_t n = msgs.size();
  if (n > 0 && msgs[0].role == "system")
    out += "<|im_start|>system\n" + msgs[0].content + "<|im_end|>\n";
  // ns.last_query_index: the last user message that is not a wrapped tool response.
  size_t last_query = n - 1;
  for (size_t k = n; k-- > 0;) {
    const std::string& c = msgs[k].content;
    if (msgs[k].role == "user" &&
        !(starts_with(c, "<tool_response>") && ends_with(c, "</tool_response>"))) {
      last_query = k;
      break;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    const ChatMessage& m = msgs[i];
    std::string_view content = m.content;
    if (m.role == "user" || (m.role == "system" && i != 0)) {
      out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
    } else if (m.role == "assistant") {
      // reasoning = content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n')
      // content = content.split('</think>')[-1].lstrip('\n')
      std::string_view reasoning;
      if (const size_t first_end = content.find("</think>"); first_end != std::string_view::npos) {
        std::string_view before = rstrip_nl(content.substr(0, first_end));
        if (const size_t open = before.rfind("<think>"); open != std::string_view::npos)
          before = before.substr(open + 7);
        reasoning = lstrip_nl(before);
        content = lstrip_nl(content.substr(content.rfind("</think>") + 8));
      }
      out += "<|im_start|>assistant\n";
      if (n > 0 && i > last_query && (i + 1 == n || !reasoning.empty())) {
        out += "<think>\n";
        out += strip_nl(reasoning);
        out += "\n</think>\n\n";
        out += lstrip_nl(content);
      } else {
        out += content;
      }
      out += "<|im_end|>\n";
    }
  }
  if (opt.add_generation_prompt) {
    out += "<|im_start|>assistant\n";
    if (!opt.enable_thinking) out += "<think>\n\n</think>\n\n";
  }
  return out;
}

// OLMoE-0125-Instruct: "{{ bos_token }}" + Tulu: "<|user|>\n{msg}\n", assistant turns end with
// eos_token (plus "\n" unless last); the generation prompt is emitted inside the loop, after the
// last message.
std::string olmoe(std::span<const ChatMessage> msgs, const ChatOptions& opt) {
  const std::string eos = opt.eos_text.empty() ? std::string(kPublishedEos) : opt.eos_text;
  std::string out = opt.bos_text;
  for (size_t i = 0; i < msgs.size(); ++i) {
    const ChatMessage& m = msgs[i];
    const bool last = i + 1 == msgs.size();
    if (m.role == "system")
      out += "<|system|>\n" + m.content + "\n";
    else if (m.role == "user")
      out += "<|user|>\n" + m.content + "\n";
    else if (m.role == "assistant")
      out += "<|assistant|>\n" + m.content + eos + (last ? "" : "\n");
    if (last && opt.add_generation_prompt) out += "<|assistant|>\n";
  }
  return out;
}

std::string today() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char buf[16];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d", &local);
  return buf;
}

// GPT-OSS harmony (openai/gpt-oss-20b chat template, without tools). Followed verbatim:
//   system message = model_identity + "\n" + "Knowledge cutoff: 2024-06\n"
//     + "Current date: " + strftime_now("%Y-%m-%d") + "\n\n" + "Reasoning: " + effort + "\n\n"
//     + "# Valid channels: analysis, commentary, final. Channel must be included for every
//     message."
//   a first system/developer message becomes "<|start|>developer<|message|># Instructions\n\n"
//     + content + "\n\n<|end|>" (nothing when empty);
//   assistant turns are final-channel messages ending in <|end|>, or <|return|> for a last turn
//   without generation prompt; later system messages are dropped, as the template drops them.
// Parameters instead of template globals: the date (strftime_now) and the model identity.
std::string gpt_oss(std::span<const ChatMessage> msgs, const ChatOptions& opt) {
  const std::string& effort = opt.reasoning_effort;
  if (effort != "low" && effort != "medium" && effort != "high")
    throw input_error("chat options: reasoning_effort", "expected low, medium or high, found '{}'",
                      effort);
  std::string out = "<|start|>system<|message|>";
  out += opt.model_identity.empty() ? "You are ChatGPT, a large language model trained by OpenAI."
                                    : opt.model_identity;
  out += "\nKnowledge cutoff: 2024-06\nCurrent date: ";
  out += opt.current_date.empty() ? today() : opt.current_date;
  out += "\n\nReasoning: " + effort + "\n\n";
  out +=
      "# Valid channels: analysis, commentary, final. Channel must be included for every message.";
  out += "<|end|>";

  size_t first = 0;
  if (!msgs.empty() && (msgs[0].role == "system" || msgs[0].role == "developer")) {
    first = 1;
    if (!msgs[0].content.empty())
      out += "<|start|>developer<|message|># Instructions\n\n" + msgs[0].content + "\n\n<|end|>";
  }
  for (size_t i = first; i < msgs.size(); ++i) {
    const ChatMessage& m = msgs[i];
    if (m.role == "assistant") {
      if (m.content.find("<|channel|>analysis<|message|>") != std::string::npos ||
          m.content.find("<|channel|>final<|message|>") != std::string::npos)
        throw input_error(fmt::format("chat message {}: content", i),
                          "expected the final answer text, found <|channel|> tags (the template "
                          "rejects them)");
      const bool last = i + 1 == msgs.size();
      out += "<|start|>assistant<|channel|>final<|message|>" + m.content +
             (last && !opt.add_generation_prompt ? "<|return|>" : "<|end|>");
    } else if (m.role == "user") {
      out += "<|start|>user<|message|>" + m.content + "<|end|>";
    }
  }
  if (opt.add_generation_prompt) out += "<|start|>assistant";
  return out;
}

// Phi-3.5: "<|{role}|>\n{content}<|end|>\n" (empty system messages skipped); then the
// generation prompt, or eos_token when there is none.
std::string phimoe(std::span<const ChatMessage> msgs, const ChatOptions& opt) {
  std::string out;
  for (const ChatMessage& m : msgs) {
    if (m.role == "system" && !m.content.empty())
      out += "<|system|>\n" + m.content + "<|end|>\n";
    else if (m.role == "user")
      out += "<|user|>\n" + m.content + "<|end|>\n";
    else if (m.role == "assistant")
      out += "<|assistant|>\n" + m.content + "<|end|>\n";
  }
  if (opt.add_generation_prompt)
    out += "<|assistant|>\n";
  else
    out += opt.eos_text.empty() ? std::string(kPublishedEos) : opt.eos_text;
  return out;
}

}  // namespace

std::string apply_chat_template(Family family, std::span<const ChatMessage> messages,
                                const ChatOptions& options) {
  check_roles(messages, family == Family::kGptOss);
  switch (family) {
    case Family::kQwen3Moe:
      return qwen3(messages, options);
    case Family::kOlmoe:
      return olmoe(messages, options);
    case Family::kGptOss:
      return gpt_oss(messages, options);
    case Family::kPhimoe:
      return phimoe(messages, options);
  }
  MOE_ASSERT(false, "unknown family {}", static_cast<int>(family));
  return {};
}

std::string harmony_final_answer(std::string_view g) {
  // The body of a message: from after <|message|> to the first stop marker (or the end).
  auto body = [&](size_t start) {
    size_t end = g.size();
    for (std::string_view stop : {"<|end|>", "<|return|>", "<|call|>", "<|start|>"})
      end = std::min(end, g.find(stop, start));
    return std::string(g.substr(start, end - start));
  };
  constexpr std::string_view kChannel = "<|channel|>", kMessage = "<|message|>";
  std::optional<std::string> final_answer;
  for (size_t pos = g.find(kChannel); pos != std::string_view::npos;
       pos = g.find(kChannel, pos + kChannel.size())) {
    const size_t name_start = pos + kChannel.size();
    const size_t msg = g.find(kMessage, name_start);
    if (msg == std::string_view::npos) break;
    // The channel name ends at a space (e.g. "final <|constrain|>json") or at <|message|>.
    const std::string_view header = g.substr(name_start, msg - name_start);
    const std::string_view name = header.substr(0, header.find_first_of(" <"));
    if (name == "final") final_answer = body(msg + kMessage.size());
  }
  if (final_answer) return *final_answer;
  const size_t last_msg = g.rfind(kMessage);
  return body(last_msg == std::string_view::npos ? 0 : last_msg + kMessage.size());
}

}  // namespace moe::io
