// MGSM: TSV loader, direct prompt and stop sequences, exemplar choice, direct and boxed scoring.
#include <gtest/gtest.h>

#include <set>

#include "sweeps/tasks/answers.h"
#include "sweeps/tasks/mgsm.h"
#include "test_files.h"

namespace moe::tasks {
namespace {

using testing::input_error_message;
using testing::TempDir;

TEST(MgsmTsv, LoadsQuestionAndAnswerWithCommas) {
  TempDir dir;
  const auto p = dir.write("mgsm_en.tsv",
                           "Janet has 3 apples, then 2 more. How many?\t5\r\n"
                           "A farm sells 1,000 eggs a week, how many a day?\t1,000\n"
                           "\n");
  const auto rows = load_mgsm_tsv(p);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].question, "Janet has 3 apples, then 2 more. How many?");
  EXPECT_EQ(rows[0].answer, "5");
  EXPECT_EQ(rows[1].answer, "1,000");
}

TEST(MgsmTsv, WrongFieldCountNamesFileLineAndByte) {
  TempDir dir;
  const auto p = dir.write("mgsm_de.tsv", "Frage eins?\t3\nFrage\tzwei?\t4\n");
  const std::string m = input_error_message([&] { load_mgsm_tsv(p); });
  EXPECT_NE(m.find("mgsm_de.tsv: line 2 (byte 14)"), std::string::npos) << m;
  EXPECT_NE(m.find("expected 2 tab-separated fields (question, answer_number), found 3"),
            std::string::npos)
      << m;
  const auto q = dir.write("mgsm_fr.tsv", "Pas de tabulation ici\n");
  EXPECT_NE(input_error_message([&] { load_mgsm_tsv(q); }).find("found 1"), std::string::npos);
  const auto r = dir.write("mgsm_ja.tsv", "question?\t\n");
  EXPECT_NE(input_error_message([&] { load_mgsm_tsv(r); }).find("answer_number"),
            std::string::npos);
}

TEST(MgsmTsv, MissingFileAndInvalidUtf8AreInputErrors) {
  TempDir dir;
  EXPECT_NE(
      input_error_message([&] { load_mgsm_tsv(dir.path() / "absent.tsv"); }).find("absent.tsv"),
      std::string::npos);
  const auto p = dir.write("mgsm_zh.tsv", "ok?\t1\nbad \xFF byte\t2\n");
  const std::string m = input_error_message([&] { load_mgsm_tsv(p); });
  EXPECT_NE(m.find("line 2 (byte 10)"), std::string::npos) << m;
  EXPECT_NE(m.find("expected UTF-8 text, found byte 0xFF"), std::string::npos) << m;
}

TEST(MgsmDirect, PromptUsesTheHarnessLabelsPerLanguage) {
  const std::vector<MgsmSample> shots = {{"Q1?", "3"}, {"Q2?", "1,000"}};
  EXPECT_EQ(mgsm_direct_prompt(language("en"), shots, "Q?"),
            "Question: Q1?\nAnswer: 3\n\nQuestion: Q2?\nAnswer: 1,000\n\nQuestion: Q?\nAnswer:");
  EXPECT_EQ(mgsm_direct_prompt(language("de"), {}, "Wie viele?"), "Frage: Wie viele?\nAntwort:");
  EXPECT_EQ(mgsm_direct_prompt(language("zho_Hans"), {}, "多少？"), "问题： 多少？\nAnswer:");
  EXPECT_EQ(mgsm_direct_prompt(language("fr"), {}, "Combien ?"), "Question : Combien ?\nRéponse :");
  EXPECT_EQ(mgsm_direct_stop_sequences(language("zh")),
            (std::vector<std::string>{"\n\n", "\n", "问题："}));
}

TEST(MgsmDirect, LanguagesWithoutMgsmAreInputErrors) {
  EXPECT_NE(input_error_message([] {
              mgsm_direct_prompt(language("ko"), {}, "?");
            }).find("language 'ko'"),
            std::string::npos);
}

TEST(MgsmDirect, ExemplarsAreSeededDistinctAndSharedByAllLanguages) {
  const auto a = mgsm_exemplar_indices(250, {});
  EXPECT_EQ(a, mgsm_exemplar_indices(250, {}));  // same seed, same pool: same problems
  ASSERT_EQ(a.size(), 2u);
  EXPECT_NE(a[0], a[1]);
  EXPECT_LT(a[0], 250u);
  EXPECT_LT(a[1], 250u);
  EXPECT_NE(mgsm_exemplar_indices(250, {2, 99}), a);
  const auto eight = mgsm_exemplar_indices(8, {8, 5});
  EXPECT_EQ(std::set<size_t>(eight.begin(), eight.end()).size(), 8u);
  EXPECT_THROW(mgsm_exemplar_indices(1, {2, 5}), InputError);
  const std::vector<size_t> ex = {1, 3};
  EXPECT_EQ(mgsm_evaluation_indices(5, ex), (std::vector<size_t>{0, 2, 4}));
}

TEST(MgsmDirect, ScoresTheLastNumberIgnoringCommasDollarsAndATrailingPeriod) {
  auto s = score_mgsm_direct("The answer is 42. Then 43", "43");
  EXPECT_EQ(s.extracted, "43");
  EXPECT_TRUE(s.correct);
  s = score_mgsm_direct(" $1,000.", "1000");
  EXPECT_EQ(s.extracted, "1000");
  EXPECT_TRUE(s.correct);
  EXPECT_TRUE(score_mgsm_direct("1000", "1,000").correct);
  EXPECT_TRUE(score_mgsm_direct("-5", "-5").correct);
  EXPECT_FALSE(score_mgsm_direct("5", "-5").correct);
  EXPECT_TRUE(score_mgsm_direct("1.5", "1.5").correct);
  EXPECT_FALSE(score_mgsm_direct("15", "1.5").correct);
  EXPECT_TRUE(score_mgsm_direct("答案是 18 元", "18").correct);
  EXPECT_EQ(score_mgsm_direct("Answer 7", "7").extracted, "7");  // single digit: 2nd group
}

TEST(MgsmDirect, NoNumberOrEmptyOutputIsInvalid) {
  EXPECT_EQ(score_mgsm_direct("I do not know", "5").extracted, "[invalid]");
  EXPECT_FALSE(score_mgsm_direct("", "5").correct);
  EXPECT_FALSE(score_mgsm_direct("\xFF\xFE", "5").correct);
}

TEST(MgsmBoxed, UserMessageIsQuestionThenTheLocalisedInstruction) {
  EXPECT_EQ(boxed_user_message(language("en"), "How many?"),
            "How many?\nNote: Please put the final answer in the $\\boxed\\{\\}$.");
  EXPECT_EQ(boxed_user_message(language("zh"), "多少？"),
            "多少？\n注意：请将最终答案放在 $\\boxed\\{\\}$ 中。");
  EXPECT_THROW(boxed_user_message(language("yo"), "?"), InputError);
}

}  // namespace
}  // namespace moe::tasks
