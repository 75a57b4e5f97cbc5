// `moe-sweep tokenize MODEL_DIR (--text TEXT | --file F) [--chat] [--system S] ...`: tokenises a
// text with the checkpoint's tokenizer.json, optionally formatted with the family's chat
// template first, and prints the text, the ids and the pieces (one line each, or --json).
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "runtime/core/error.h"
#include "runtime/io/chat.h"
#include "runtime/io/model_config.h"
#include "runtime/io/tokenizer.h"
#include "runtime/io/tokenizer/utf8.h"
#include "sweeps/cli/command.h"

namespace {

namespace fs = std::filesystem;

struct TokenizeArgs {
  std::string model_dir;
  std::string text;
  std::string file;
  bool chat = false;
  std::string system;
  std::string family;
  bool thinking = false;
  std::string reasoning = "low";
  std::string date;
  bool no_generation_prompt = false;
  bool no_special_tokens = false;
  bool json = false;
};

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw moe::input_error(path, "expected a readable text file, found none");
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (const size_t bad = moe::io::tok::find_invalid_utf8(text); bad != std::string::npos)
    throw moe::input_error(path, "expected UTF-8 text, found an invalid byte at offset {}", bad);
  return text;
}

// JSON string escaping (keeps UTF-8 as is): how texts and pieces are shown.
std::string json_quoted(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int run_tokenize(const TokenizeArgs& a) {
  const fs::path dir(a.model_dir);
  if (a.text.empty() == a.file.empty())
    throw moe::input_error("tokenize", "expected exactly one of --text or --file, found {}",
                           a.text.empty() ? "neither" : "both");
  const std::string input = a.file.empty() ? a.text : read_text_file(a.file);

  moe::io::Family family;
  if (!a.family.empty()) {
    const auto f = moe::io::parse_family(a.family);
    if (!f)
      throw moe::input_error("tokenize: --family",
                             "expected qwen3_moe, olmoe, gpt_oss or phimoe, found '{}'", a.family);
    family = *f;
  } else {
    family = moe::io::load_model_config(dir).family;
  }
  const moe::io::Tokenizer tok = moe::io::Tokenizer::load(dir / "tokenizer.json");

  std::string text = input;
  const bool chat = a.chat || !a.system.empty();
  if (chat) {
    std::vector<moe::io::ChatMessage> messages;
    if (!a.system.empty()) messages.push_back({"system", a.system});
    messages.push_back({"user", input});
    moe::io::ChatOptions opt;
    opt.add_generation_prompt = !a.no_generation_prompt;
    opt.enable_thinking = a.thinking;
    opt.reasoning_effort = a.reasoning;
    opt.current_date = a.date;
    if (fs::exists(dir / "config.json")) {
      const moe::io::SpecialTokens st = moe::io::load_special_tokens(dir);
      opt.bos_text = st.bos_token;
      opt.eos_text = st.eos_token;
    }
    text = moe::io::apply_chat_template(family, messages, opt);
  }
  // Chat text carries its special tokens itself (as apply_chat_template(tokenize=True) does);
  // plain text gets the post-processor's, as tokenizer(text) does, unless --no-special-tokens.
  const bool add_special = !chat && !a.no_special_tokens;
  const std::vector<int32_t> ids = tok.encode(text, add_special);

  if (a.json) {
    nlohmann::json out{{"family", std::string(moe::io::family_name(family))},
                       {"text", text},
                       {"ids", ids},
                       {"pieces", nlohmann::json::array()}};
    for (int32_t id : ids)
      out["pieces"].push_back({{"id", id},
                               {"token", tok.id_to_token(id)},
                               {"text", tok.decode(std::span<const int32_t>(&id, 1))},
                               {"special", tok.is_special(id)}});
    std::cout << out.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
  }
  std::cout << "family: " << moe::io::family_name(family) << "\n";
  std::cout << "text: " << json_quoted(text) << "\n";
  std::cout << "ids (" << ids.size() << "):";
  for (int32_t id : ids) std::cout << ' ' << id;
  std::cout << "\npieces:\n";
  for (size_t i = 0; i < ids.size(); ++i) {
    const int32_t id = ids[i];
    std::printf("%6zu %8d  %-24s %s%s\n", i, id, json_quoted(tok.id_to_token(id)).c_str(),
                json_quoted(tok.decode(std::span<const int32_t>(&id, 1))).c_str(),
                tok.is_special(id) ? "  special" : "");
  }
  std::cout << "decoded: " << json_quoted(tok.decode(ids)) << "\n";
  return 0;
}

}  // namespace

MOE_COMMAND(tokenize, 60,
            "Tokenise a text (optionally chat-formatted) with a checkpoint's tokenizer",
            [](CLI::App& app) {
              auto a = std::make_shared<TokenizeArgs>();
              app.add_option("MODEL_DIR", a->model_dir,
                             "checkpoint directory (tokenizer.json, config.json, "
                             "tokenizer_config.json)")
                  ->required();
              app.add_option("--text", a->text, "the text to tokenise");
              app.add_option("--file", a->file, "read the text from this file");
              app.add_flag("--chat", a->chat,
                           "format the text as a user turn of the chat template");
              app.add_option("--system", a->system, "system message (implies --chat)");
              app.add_option("--family", a->family,
                             "qwen3_moe|olmoe|gpt_oss|phimoe (default: config.json model_type)");
              app.add_flag("--thinking", a->thinking, "qwen3_moe: leave thinking on");
              app.add_option("--reasoning", a->reasoning, "gpt_oss: low|medium|high")
                  ->capture_default_str();
              app.add_option("--date", a->date, "gpt_oss: the system message's date (YYYY-MM-DD)");
              app.add_flag("--no-generation-prompt", a->no_generation_prompt,
                           "chat: do not end with the assistant prompt");
              app.add_flag("--no-special-tokens", a->no_special_tokens,
                           "plain text: do not add the post-processor's special tokens");
              app.add_flag("--json", a->json, "print one JSON object");
              return [a] { return run_tokenize(*a); };
            });
