// Routing corpora (sweeps/routing/corpus.h) and prompts (sweeps/routing/prompt.h): each format's
// texts, Belebele passage deduplication, path placeholders, errors; content spans of raw and
// chat prompts on made tokenizers.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "runtime/core/error.h"
#include "runtime/io/tokenizer.h"
#include "runtime/io/tokenizer_maker.h"
#include "sweeps/routing/corpus.h"
#include "sweeps/routing/prompt.h"

namespace moe::corpus {
namespace {

namespace fs = std::filesystem;

class CorpusFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("moe_corpus_test_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p;
  }
  fs::path dir_;
};

TEST_F(CorpusFiles, FloresReadsTheLanguagesFileThroughTheLanguageTable) {
  write("eng_Latn.dev", "One.\nTwo.\n");
  write("deu_Latn.dev", "Eins.\nZwei.\n");
  const CorpusSource s{"flores", dir_, "dev", "", "corpora.flores"};
  EXPECT_EQ(load_texts(s, "de"), (std::vector<std::string>{"Eins.", "Zwei."}));
  EXPECT_EQ(load_texts(s, "eng_Latn"), (std::vector<std::string>{"One.", "Two."}));
  EXPECT_THROW(load_texts(s, "fr"), InputError);  // no file
  EXPECT_THROW(load_texts(s, "xx"), InputError);  // unknown language
  const CorpusSource bad{"flores", dir_, "test", "", "corpora.flores"};
  try {
    load_texts(bad, "de");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("corpora.flores.split"), std::string::npos);
  }
  EXPECT_TRUE(is_parallel("flores"));
  EXPECT_FALSE(is_parallel("gsm8k"));
}

std::string belebele_row(const std::string& link, int q, const std::string& passage) {
  return "{\"link\": \"" + link + "\", \"question_number\": " + std::to_string(q) +
         ", \"flores_passage\": \"" + passage +
         "\", \"question\": \"Q?\", \"mc_answer1\": \"a\", \"mc_answer2\": \"b\", "
         "\"mc_answer3\": \"c\", \"mc_answer4\": \"d\", \"correct_answer_num\": \"2\"}\n";
}

TEST_F(CorpusFiles, BelebeleKeepsEachPassageOnceInFileOrder) {
  write("deu_Latn.jsonl", belebele_row("l1", 1, "P one") + belebele_row("l2", 1, "P two") +
                              belebele_row("l1", 2, "P one") + belebele_row("l3", 1, "P three"));
  const CorpusSource s{"belebele", dir_, "", "", "corpora.belebele"};
  EXPECT_EQ(load_texts(s, "de"), (std::vector<std::string>{"P one", "P two", "P three"}));
}

TEST_F(CorpusFiles, Gsm8kFieldsAndPlaceholders) {
  write("math_en.jsonl",
        "{\"question\": \"2+2?\", \"answer\": \"2+2=4\\n#### 4\"}\n"
        "{\"question\": \"3+3?\", \"answer\": \"#### 6\"}\n");
  CorpusSource s{"gsm8k", dir_ / "math_{language}.jsonl", "", "", "corpora.gsm8k"};
  EXPECT_EQ(load_texts(s, "en"), (std::vector<std::string>{"2+2?", "3+3?"}));
  s.field = "question_answer";
  EXPECT_EQ(load_texts(s, "en")[0], "2+2?\n2+2=4\n#### 4");
  s.field = "solution";
  EXPECT_THROW(load_texts(s, "en"), InputError);
}

TEST_F(CorpusFiles, JsonlFieldAndTextLines) {
  write("med.eng_Latn.jsonl", "{\"text\": \"a b\", \"x\": 1}\n\n{\"text\": \"c\"}\n");
  CorpusSource j{"jsonl", dir_ / "med.{flores}.jsonl", "", "", "corpora.med"};
  EXPECT_EQ(load_texts(j, "en"), (std::vector<std::string>{"a b", "c"}));
  j.field = "body";
  try {
    load_texts(j, "en");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("line 1"), std::string::npos) << e.what();
  }
  write("plain.txt", "first line\n\n   \nsecond line\n");
  const CorpusSource t{"text", dir_ / "plain.txt", "", "", "corpora.plain"};
  EXPECT_EQ(load_texts(t, "any"), (std::vector<std::string>{"first line", "second line"}));
  const CorpusSource u{"csv", dir_ / "plain.txt", "", "", "corpora.plain"};
  EXPECT_THROW(load_texts(u, "en"), InputError);
  write("empty.txt", "\n\n");
  const CorpusSource e{"text", dir_ / "empty.txt", "", "", "corpora.empty"};
  EXPECT_THROW(load_texts(e, "en"), InputError);
}

io::Tokenizer made(io::Family f) {
  return io::Tokenizer::from_json(io::make_tokenizer(f, 4096).tokenizer_json, "made");
}

TEST(RoutingPrompt, RawContentIsTheTextsOwnTokens) {
  for (io::Family f : {io::Family::kQwen3Moe, io::Family::kOlmoe, io::Family::kPhimoe}) {
    const io::Tokenizer tok = made(f);
    const PromptBuilder b(tok, f, PromptBuilder::Style::kRaw);
    const std::string text = "The cat sat on the mat.";
    const Prompt p = b.build(text);
    EXPECT_EQ(p.tokens, tok.encode(text, true));
    const std::vector<int32_t> content(p.tokens.begin() + p.content_begin,
                                       p.tokens.begin() + p.content_end);
    EXPECT_EQ(content, tok.encode(text, false));
    EXPECT_EQ(b.describe(), "raw");
  }
}

TEST(RoutingPrompt, ChatContentSpanDecodesToTheText) {
  for (io::Family f : {io::Family::kQwen3Moe, io::Family::kOlmoe, io::Family::kPhimoe,
                       io::Family::kGptOss}) {
    const io::Tokenizer tok = made(f);
    io::ChatOptions o;
    o.current_date = "2025-01-01";
    const PromptBuilder b(tok, f, PromptBuilder::Style::kChat, o);
    const std::string text = "Wie viele Äpfel hat Anna?";
    const Prompt p = b.build(text);
    const io::ChatMessage m{"user", text};
    EXPECT_EQ(p.tokens, tok.encode(io::apply_chat_template(f, std::span(&m, 1), o), false));
    EXPECT_GT(p.content_begin, 0) << io::family_name(f);
    EXPECT_LT(p.content_end, int64_t(p.tokens.size())) << io::family_name(f);
    const std::vector<int32_t> content(p.tokens.begin() + p.content_begin,
                                       p.tokens.begin() + p.content_end);
    EXPECT_EQ(tok.decode(content), text) << io::family_name(f);
    EXPECT_EQ(b.describe(), "chat:" + std::string(io::family_name(f)));
  }
  EXPECT_THROW(PromptBuilder::parse_style("jinja", "corpora.x.prompt"), InputError);
}

}  // namespace
}  // namespace moe::corpus
