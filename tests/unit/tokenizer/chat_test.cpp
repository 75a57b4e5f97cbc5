// Chat templates: the C++ templates reproduce the published Jinja templates' text exactly
// (tests/data/chat/*.json, rendered by transformers from the templates' source with
// tools/make_chat_fixtures.py); the chat text tokenises with the family's specials as single
// tokens; harmony_final_answer extracts the final channel (hand-written cases).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "runtime/core/error.h"
#include "runtime/io/chat.h"
#include "runtime/io/tokenizer.h"
#include "runtime/io/tokenizer_maker.h"

namespace moe::io {
namespace {

using nlohmann::json;

json read_fixture(const std::string& family) {
  std::ifstream in(std::filesystem::path(MOE_SOURCE_DIR) / "tests/data/chat" / (family + ".json"));
  return json::parse(in);
}

class ChatTemplate : public ::testing::TestWithParam<std::pair<Family, std::string>> {};

TEST_P(ChatTemplate, ReproducesThePublishedTemplateExactly) {
  const auto& [family, name] = GetParam();
  const json fixture = read_fixture(name);
  ASSERT_GE(fixture.at("cases").size(), 20u);
  for (const json& c : fixture.at("cases")) {
    std::vector<ChatMessage> messages;
    for (const json& m : c.at("messages")) messages.push_back({m.at("role"), m.at("content")});
    const json& o = c.at("options");
    ChatOptions opt;
    opt.add_generation_prompt = o.at("add_generation_prompt");
    opt.enable_thinking = o.value("enable_thinking", false);
    opt.reasoning_effort = o.value("reasoning_effort", "low");
    opt.bos_text = o.value("bos_text", "");
    opt.current_date = o.value("current_date", "");
    SCOPED_TRACE(c.dump().substr(0, 300));
    EXPECT_EQ(apply_chat_template(family, messages, opt), c.at("expected").get<std::string>());
  }
}

INSTANTIATE_TEST_SUITE_P(Families, ChatTemplate,
                         ::testing::Values(std::make_pair(Family::kQwen3Moe, "qwen3_moe"),
                                           std::make_pair(Family::kOlmoe, "olmoe"),
                                           std::make_pair(Family::kGptOss, "gpt_oss"),
                                           std::make_pair(Family::kPhimoe, "phimoe")),
                         [](const auto& info) { return info.param.second; });

TEST(ChatTemplate, GptOssDefaultsToTodaysDate) {
  const std::vector<ChatMessage> msgs{{"user", "hi"}};
  const std::string text = apply_chat_template(Family::kGptOss, msgs);
  char today[16];
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  std::strftime(today, sizeof(today), "%Y-%m-%d", &local);
  EXPECT_NE(text.find(std::string("Current date: ") + today + "\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Reasoning: low\n"), std::string::npos);
}

TEST(ChatTemplate, CustomEosAndModelIdentity) {
  const std::vector<ChatMessage> msgs{{"user", "q"}, {"assistant", "a"}};
  ChatOptions opt;
  opt.add_generation_prompt = false;
  opt.eos_text = "</s>";
  EXPECT_EQ(apply_chat_template(Family::kPhimoe, msgs, opt),
            "<|user|>\nq<|end|>\n<|assistant|>\na<|end|>\n</s>");
  EXPECT_EQ(apply_chat_template(Family::kOlmoe, msgs, opt), "<|user|>\nq\n<|assistant|>\na</s>");
  opt.model_identity = "You are a test model.";
  opt.current_date = "2000-01-01";
  const std::string prefix =
      "<|start|>system<|message|>You are a test model.\nKnowledge cutoff: 2024-06\nCurrent date: "
      "2000-01-01\n";
  EXPECT_EQ(apply_chat_template(Family::kGptOss, msgs, opt).substr(0, prefix.size()), prefix);
}

TEST(ChatTemplate, UnsupportedRoleIsAnInputErrorNamingTheMessage) {
  const std::vector<ChatMessage> msgs{{"user", "q"}, {"tool", "{}"}};
  try {
    apply_chat_template(Family::kQwen3Moe, msgs);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.where(), "chat message 1: role");
    EXPECT_NE(std::string(e.what()).find("found 'tool'"), std::string::npos);
  }
  // developer is accepted first for gpt_oss only.
  const std::vector<ChatMessage> dev{{"developer", "Be brief."}, {"user", "q"}};
  EXPECT_NO_THROW(apply_chat_template(Family::kGptOss, dev));
  EXPECT_THROW(apply_chat_template(Family::kPhimoe, dev), InputError);
}

TEST(ChatTemplate, GptOssRejectsBadEffortAndChannelTags) {
  const std::vector<ChatMessage> msgs{{"user", "q"}};
  ChatOptions opt;
  opt.reasoning_effort = "extreme";
  EXPECT_THROW(apply_chat_template(Family::kGptOss, msgs, opt), InputError);
  const std::vector<ChatMessage> tagged{{"user", "q"},
                                        {"assistant", "<|channel|>final<|message|>x"}};
  EXPECT_THROW(apply_chat_template(Family::kGptOss, tagged), InputError);
}

TEST(ChatTemplate, ChatTextTokenisesWithSpecialsAsSingleTokens) {
  const std::vector<ChatMessage> msgs{{"system", "Be brief."}, {"user", "Hallo, wie geht's? 🙂"}};
  struct Case {
    Family family;
    std::vector<std::string> specials;
  };
  const std::vector<Case> cases = {
      {Family::kQwen3Moe, {"<|im_start|>", "<|im_end|>", "<think>", "</think>"}},
      {Family::kGptOss, {"<|start|>", "<|message|>", "<|end|>"}},
      {Family::kPhimoe, {"<|system|>", "<|user|>", "<|end|>", "<|assistant|>"}},
      {Family::kOlmoe, {"<|endoftext|>"}},
  };
  for (const Case& c : cases) {
    const MadeTokenizer made = make_tokenizer(c.family, 2048);
    const Tokenizer tok = Tokenizer::from_json(made.tokenizer_json, "made");
    ChatOptions opt;
    opt.bos_text = c.family == Family::kOlmoe ? "<|endoftext|>" : "";
    opt.current_date = "2025-06-28";
    const std::string text = apply_chat_template(c.family, msgs, opt);
    const auto ids = tok.encode(text);
    for (const std::string& s : c.specials) {
      SCOPED_TRACE(s);
      const int32_t id = made.special_ids.at(s);
      EXPECT_NE(std::find(ids.begin(), ids.end(), id), ids.end());
    }
    // Phi-3.5's chat markers strip the newline after them (rstrip), so decode drops it; the
    // byte-level families decode the chat text back exactly.
    if (c.family != Family::kPhimoe) {
      EXPECT_EQ(tok.decode(ids), text);
    }
  }
}

TEST(HarmonyFinalAnswer, TakesTheLastFinalChannelMessage) {
  EXPECT_EQ(harmony_final_answer("<|channel|>analysis<|message|>Think about 2+2.<|end|>"
                                 "<|start|>assistant<|channel|>final<|message|>4<|return|>"),
            "4");
  EXPECT_EQ(harmony_final_answer("<|channel|>final<|message|>first<|end|><|start|>assistant"
                                 "<|channel|>final<|message|>second"),
            "second");
  EXPECT_EQ(harmony_final_answer("<|channel|>final <|constrain|>json<|message|>{\"a\":1}<|call|>"),
            "{\"a\":1}");
}

TEST(HarmonyFinalAnswer, FallsBackToTheLastMessageOrTheWholeText) {
  EXPECT_EQ(harmony_final_answer("<|channel|>analysis<|message|>still thinking"), "still thinking");
  EXPECT_EQ(harmony_final_answer("plain text<|end|>ignored"), "plain text");
  EXPECT_EQ(harmony_final_answer(""), "");
}

}  // namespace
}  // namespace moe::io
