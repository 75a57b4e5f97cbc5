// Dataset loaders on small files in the native formats, and each loader's errors.
#include <gtest/gtest.h>

#include "sweeps/tasks/belebele.h"
#include "sweeps/tasks/flores.h"
#include "sweeps/tasks/gmmlu.h"
#include "sweeps/tasks/gsm8k.h"
#include "sweeps/tasks/polymath.h"
#include "sweeps/tasks/xquad.h"
#include "test_files.h"

namespace moe::tasks {
namespace {

using testing::input_error_message;
using testing::TempDir;

bool has(const std::string& message, const std::string& part) {
  return message.find(part) != std::string::npos;
}

// ---- GSM8K ---------------------------------------------------------------------------------

TEST(Gsm8k, ReadsTheNumberAfterTheLastMarker) {
  TempDir dir;
  const auto p =
      dir.write("train.jsonl", R"({"question": "How many?", "answer": "2 + 3 = 5\n#### 5"})"
                               "\n"
                               R"({"question": "Total?", "answer": "a #### b\n#### 1,234"})"
                               "\n");
  const auto rows = load_gsm8k_jsonl(p);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].answer, "5");
  EXPECT_EQ(rows[0].solution, "2 + 3 = 5\n#### 5");
  EXPECT_EQ(rows[1].answer, "1234");
}

TEST(Gsm8k, Errors) {
  TempDir dir;
  auto p = dir.write("a.jsonl", R"({"question": "q", "answer": "no marker"})");
  auto m = input_error_message([&] { load_gsm8k_jsonl(p); });
  EXPECT_TRUE(has(m, "a.jsonl: line 1 (byte 0): key 'answer'")) << m;
  EXPECT_TRUE(has(m, "found no '####'")) << m;
  p = dir.write("b.jsonl", "{\"question\": \"q\", \"answer\": \"#### 1\"}\n{\"question\": 5}\n");
  m = input_error_message([&] { load_gsm8k_jsonl(p); });
  EXPECT_TRUE(has(m, "b.jsonl: line 2 (byte 38): key 'question'")) << m;
  EXPECT_TRUE(has(m, "expected a string, found number 5")) << m;
  p = dir.write("c.jsonl", "{\"question\": \"q\", \"answer\": \"#### 1\"}\n{\"question\": \n");
  m = input_error_message([&] { load_gsm8k_jsonl(p); });
  EXPECT_TRUE(has(m, "c.jsonl: line 2 (byte")) << m;
  EXPECT_TRUE(has(m, "invalid JSON")) << m;
  p = dir.write("d.jsonl", R"({"question": "q", "answer": "#### twelve"})");
  EXPECT_TRUE(has(input_error_message([&] { load_gsm8k_jsonl(p); }), "found 'twelve'"));
  p = dir.write("e.jsonl", "[1, 2]\n");
  EXPECT_TRUE(has(input_error_message([&] { load_gsm8k_jsonl(p); }), "found array [1,2]"));
  p = dir.write("f.jsonl", R"({"answer": "#### 1"})");
  EXPECT_TRUE(has(input_error_message([&] { load_gsm8k_jsonl(p); }),
                  "expected a field 'question', found none"));
}

// ---- XQuAD ---------------------------------------------------------------------------------

constexpr const char* kXquad = R"({"version": "1.1", "data": [
 {"title": "Berlin", "paragraphs": [
   {"context": "Berlin ist die Hauptstadt Deutschlands.",
    "qas": [{"id": "q1", "question": "Was ist Berlin?",
             "answers": [{"answer_start": 13, "text": "die Hauptstadt Deutschlands"}]},
            {"id": "q2", "question": "Wessen Hauptstadt?",
             "answers": [{"answer_start": 26, "text": "Deutschlands"},
                         {"answer_start": 26, "text": "Deutschland"}]}]},
   {"context": "Die Spree fließt durch Berlin.",
    "qas": [{"id": "q3", "question": "Welcher Fluss?",
             "answers": [{"answer_start": 4, "text": "Spree"}]}]}]}]})";

TEST(Xquad, FlattensArticlesParagraphsAndQuestions) {
  TempDir dir;
  const auto rows = load_xquad_json(dir.write("xquad.de.json", kXquad));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].id, "q2");
  EXPECT_EQ(rows[1].title, "Berlin");
  EXPECT_EQ(rows[1].answers, (std::vector<std::string>{"Deutschlands", "Deutschland"}));
  EXPECT_EQ(rows[2].context, "Die Spree fließt durch Berlin.");
  EXPECT_EQ(xquad_prompt(language("de"), rows[2]),
            "Die Spree fließt durch Berlin.\n\nWelcher Fluss?\n\nAntworte direkt ohne "
            "Erklärung.");
}

TEST(Xquad, ErrorsNameTheKeyPath) {
  TempDir dir;
  std::string doc = kXquad;
  doc.replace(doc.find(R"([{"answer_start": 4, "text": "Spree"}])"),
              std::string(R"([{"answer_start": 4, "text": "Spree"}])").size(), "[]");
  auto m = input_error_message([&] { load_xquad_json(dir.write("x.json", doc)); });
  EXPECT_TRUE(has(m, "x.json: data[0].paragraphs[1].qas[0].answers")) << m;
  EXPECT_TRUE(has(m, "expected at least one gold answer, found 0")) << m;
  m = input_error_message([&] { load_xquad_json(dir.write("y.json", "{\"data\": [1]}")); });
  EXPECT_TRUE(has(m, "y.json: data[0]: expected an object, found number 1")) << m;
  m = input_error_message([&] { load_xquad_json(dir.write("z.json", "{\"data\": [}")); });
  EXPECT_TRUE(has(m, "z.json: line 1 (byte 10)")) << m;
  doc = kXquad;
  doc.replace(doc.find("\"answer_start\": 13"), 18, "\"answer_start\": \"13\"");
  m = input_error_message([&] { load_xquad_json(dir.write("w.json", doc)); });
  EXPECT_TRUE(has(m, "data[0].paragraphs[0].qas[0].answers[0].answer_start")) << m;
}

TEST(Xquad, SquadExactMatchF1AndContainment) {
  EXPECT_EQ(squad_normalize("The  Cat, sat!"), "cat sat");
  EXPECT_EQ(squad_normalize("Théâtre an der Wien"), "théâtre der wien");
  const std::vector<std::string> gold = {"the cat sat"};
  auto s = score_qa("Cat sat", gold);
  EXPECT_EQ(s.exact_match, 1.0);
  EXPECT_EQ(s.f1, 1.0);
  // tokens (cat, sat, on, mat) vs (cat, sat): P = 1/2, R = 1, F1 = 2/3.
  s = score_qa("cat sat on mat", gold);
  EXPECT_EQ(s.exact_match, 0.0);
  EXPECT_DOUBLE_EQ(s.f1, 2.0 / 3);
  EXPECT_EQ(s.containment, 1.0);
  const std::vector<std::string> golds = {"Paris", "in Paris"};
  s = score_qa("in Paris, France", golds);
  EXPECT_EQ(s.exact_match, 0.0);
  EXPECT_DOUBLE_EQ(s.f1, 0.8);  // vs "in paris": P = 2/3, R = 1
  EXPECT_EQ(s.containment, 1.0);
  s = score_qa("", golds);
  EXPECT_EQ(s.exact_match + s.f1 + s.containment, 0.0);
  const std::vector<std::string> zh = {"北京"};
  EXPECT_EQ(score_qa("北京", zh).exact_match, 1.0);
  s = score_qa("在北京", zh);  // one whitespace token each: no shared token
  EXPECT_EQ(s.f1, 0.0);
  EXPECT_EQ(s.containment, 1.0);
}

// ---- PolyMath ------------------------------------------------------------------------------

TEST(Polymath, LoadsIdsAndAnswersAsStringsOrNumbers) {
  TempDir dir;
  const auto p = dir.write("low.jsonl",
                           R"({"id": 0, "question": "1+1?", "answer": 2})"
                           "\n"
                           R"({"id": "low-zh-1", "question": "紧集？", "answer": "$\\frac{5}{4}$"})"
                           "\n");
  const auto rows = load_polymath_jsonl(p);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].id, "0");
  EXPECT_EQ(rows[0].answer, "2");
  EXPECT_EQ(rows[1].answer, "$\\frac{5}{4}$");
  EXPECT_EQ(parse_polymath_level("top", "cfg"), PolymathLevel::top);
  EXPECT_TRUE(has(input_error_message([] { parse_polymath_level("middle", "cfg: level"); }),
                  "found 'middle'"));
}

TEST(Polymath, Errors) {
  TempDir dir;
  auto p = dir.write("a.jsonl", R"({"id": 1, "question": "q"})");
  EXPECT_TRUE(has(input_error_message([&] { load_polymath_jsonl(p); }), "key 'answer'"));
  p = dir.write("b.jsonl", R"({"id": 1, "question": "q", "answer": ""})");
  EXPECT_TRUE(has(input_error_message([&] { load_polymath_jsonl(p); }), "empty string"));
  p = dir.write("c.jsonl", R"({"id": [1], "question": "q", "answer": "1"})");
  EXPECT_TRUE(has(input_error_message([&] { load_polymath_jsonl(p); }),
                  "expected a string or a number, found array"));
  p = dir.write("d.jsonl", "\n\n");
  EXPECT_TRUE(has(input_error_message([&] { load_polymath_jsonl(p); }), "found none"));
}

// ---- Belebele ------------------------------------------------------------------------------

constexpr const char* kBelebeleRow =
    R"({"link": "https://example.org/a", "question_number": 1, "flores_passage": "P text.",
"question": "Q?", "mc_answer1": "one", "mc_answer2": "two", "mc_answer3": "three",
"mc_answer4": "four", "correct_answer_num": "2", "dialect": "eng_Latn", "ds": "2023"})";

std::string one_line(std::string s) {
  std::erase(s, '\n');
  return s;
}

TEST(Belebele, CorrectAnswerNumIsOneBased) {
  TempDir dir;
  const auto rows = load_belebele_jsonl(dir.write("eng_Latn.jsonl", one_line(kBelebeleRow)));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].correct, 1);
  EXPECT_EQ(rows[0].answers[3], "four");
  EXPECT_EQ(belebele_prompt(rows[0]),
            "P: P text.\nQ: Q?\nA: one\nB: two\nC: three\nD: four\nAnswer:");
}

TEST(Belebele, AnswerNumberOutOfRangeOrMissingFieldIsAnError) {
  TempDir dir;
  std::string row = one_line(kBelebeleRow);
  row.replace(row.find("\"2\""), 3, "0");
  auto m = input_error_message([&] { load_belebele_jsonl(dir.write("a.jsonl", row)); });
  EXPECT_TRUE(has(m, "key 'correct_answer_num'")) << m;
  EXPECT_TRUE(has(m, "expected 1, 2, 3 or 4 (1-based), found 0")) << m;
  row = one_line(kBelebeleRow);
  row.replace(row.find("\"2\""), 3, "\"B\"");
  m = input_error_message([&] { load_belebele_jsonl(dir.write("b.jsonl", row)); });
  EXPECT_TRUE(has(m, "expected an integer or a string of digits, found string \"B\"")) << m;
  row = one_line(kBelebeleRow);
  row.replace(row.find("\"mc_answer4\""), 12, "\"mc_answerX\"");
  m = input_error_message([&] { load_belebele_jsonl(dir.write("c.jsonl", row)); });
  EXPECT_TRUE(has(m, "expected a field 'mc_answer4'")) << m;
}

// ---- FLORES --------------------------------------------------------------------------------

TEST(Flores, FindsFilesInEitherLayoutAndByAlias) {
  TempDir dir;
  dir.write("eng_Latn.dev", "One.\nTwo.\nThree.\n");
  dir.write("devtest/cmn_Hans.devtest", "一。\r\n二。\r\n三。");
  const FloresOptions small{.require_standard_size = false};
  EXPECT_EQ(load_flores(dir.path(), language("en"), FloresSplit::dev, small),
            (std::vector<std::string>{"One.", "Two.", "Three."}));
  EXPECT_EQ(load_flores(dir.path(), language("zh"), FloresSplit::devtest, small),
            (std::vector<std::string>{"一。", "二。", "三。"}));
}

TEST(Flores, Errors) {
  TempDir dir;
  dir.write("eng_Latn.dev", "One.\n\nThree.\n");
  dir.write("deu_Latn.dev", "Eins.\nZwei.\n");
  const FloresOptions small{.require_standard_size = false};
  auto m = input_error_message(
      [&] { load_flores(dir.path(), language("en"), FloresSplit::dev, small); });
  EXPECT_TRUE(has(m, "eng_Latn.dev: line 2 (byte 5)")) << m;
  m = input_error_message([&] { load_flores(dir.path(), language("de"), FloresSplit::dev); });
  EXPECT_TRUE(has(m, "expected 997 FLORES dev sentences, found 2")) << m;
  m = input_error_message([&] { load_flores(dir.path(), language("fr"), FloresSplit::dev); });
  EXPECT_TRUE(has(m, "fra_Latn.dev")) << m;
  EXPECT_TRUE(has(m, "dev/fra_Latn.dev")) << m;
}

TEST(Flores, TranslationPrompt) {
  EXPECT_EQ(flores_translation_prompt(language("de"), "Hello."),
            "Translate the following English text into German.\nEnglish: Hello.\n\nGerman:");
  EXPECT_EQ(flores_translation_prompt(language("zho_Hans"), "Hi."),
            "Translate the following English text into Simplified Chinese.\nEnglish: "
            "Hi.\n\nSimplified Chinese:");
}

// ---- Global-MMLU ---------------------------------------------------------------------------

std::string gmmlu_jsonl(const std::string& lang, int per_subject) {
  std::string s;
  for (std::string_view subject : kMedicalSubjects)
    for (int i = 0; i < per_subject; ++i)
      s += fmt::format(
          R"({{"sample_id": "{0}/test/{1}", "subject": "{0}", "question": "{2} {0} {1}?", )"
          R"("option_a": "a", "option_b": "b", "option_c": "c", "option_d": "d", "answer": "C"}})"
          "\n",
          subject, i, lang);
  s += R"({"subject": "astronomy", "question": "q", "option_a": "a", "option_b": "b", )"
       R"("option_c": "c", "option_d": "d", "answer": "A"})"
       "\n";
  return s;
}

TEST(Gmmlu, JsonlRowsAndTheSeededMedicalSelection) {
  TempDir dir;
  const auto en = load_gmmlu(dir.write("en.jsonl", gmmlu_jsonl("en", 5)));
  const auto de = load_gmmlu(dir.write("de.jsonl", gmmlu_jsonl("de", 5)));
  ASSERT_EQ(en.size(), 36u);
  EXPECT_EQ(en[0].answer, 2);
  EXPECT_EQ(en[0].sample_id, "clinical_knowledge/test/0");
  const GmmluSelection opt{.seed = 7, .per_subject = 3};
  const auto sel = select_gmmlu_medical(en, opt, "en");
  ASSERT_EQ(sel.size(), 21u);
  EXPECT_EQ(sel, select_gmmlu_medical(de, opt, "de"));  // identical indices across languages
  for (size_t k = 0; k < sel.size(); ++k) EXPECT_EQ(en[sel[k]].subject, kMedicalSubjects[k / 3]);
  check_gmmlu_parallel(en, de, sel, "en vs de");
  EXPECT_NE(sel, select_gmmlu_medical(en, {.seed = 8, .per_subject = 3}, "en"));
  EXPECT_EQ(gmmlu_prompt(en[0]), "en clinical_knowledge 0?\nA. a\nB. b\nC. c\nD. d\nAnswer:");
}

TEST(Gmmlu, SelectionAndParallelismErrors) {
  TempDir dir;
  const auto en = load_gmmlu(dir.write("en.jsonl", gmmlu_jsonl("en", 2)));
  auto m = input_error_message([&] { select_gmmlu_medical(en, {.per_subject = 3}, "en.jsonl"); });
  EXPECT_TRUE(has(m, "expected at least 3 rows of subject 'clinical_knowledge', found 2")) << m;
  auto shuffled = en;
  std::swap(shuffled[0].sample_id, shuffled[1].sample_id);
  const std::vector<size_t> sel = {0};
  m = input_error_message([&] { check_gmmlu_parallel(en, shuffled, sel, "en vs xx"); });
  EXPECT_TRUE(has(m, "en vs xx")) << m;
}

TEST(Gmmlu, CsvWithHeaderQuotesAndEmbeddedNewlines) {
  TempDir dir;
  const auto rows = load_gmmlu(dir.write(
      "de.csv",
      "sample_id,subject,question,option_a,option_b,option_c,option_d,answer,extra\r\n"
      "virology/test/0,virology,\"Was ist ein Virus, genau?\",a,\"b \"\"zitiert\"\"\",c,d,B,x\r\n"
      "nutrition/test/1,nutrition,\"Zwei\nZeilen\",a,b,c,d,D,\r\n"));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].question, "Was ist ein Virus, genau?");
  EXPECT_EQ(rows[0].options[1], "b \"zitiert\"");
  EXPECT_EQ(rows[0].answer, 1);
  EXPECT_EQ(rows[1].question, "Zwei\nZeilen");
  EXPECT_EQ(rows[1].answer, 3);
  EXPECT_EQ(rows[1].sample_id, "nutrition/test/1");
}

TEST(Gmmlu, CsvErrors) {
  TempDir dir;
  const std::string header = "subject,question,option_a,option_b,option_c,option_d,answer\n";
  auto m = input_error_message([&] {
    load_gmmlu(dir.write("a.csv", "subject,question,option_a,option_b,option_c,answer\n"));
  });
  EXPECT_TRUE(has(m, "a.csv: line 1 (byte 0)")) << m;
  EXPECT_TRUE(has(m, "expected a header column 'option_d'")) << m;
  m = input_error_message(
      [&] { load_gmmlu(dir.write("b.csv", header + "virology,q,a,b,c,d,E\n")); });
  EXPECT_TRUE(has(m, "b.csv: line 2 (byte 60): column 'answer'")) << m;
  EXPECT_TRUE(has(m, "expected an answer letter A, B, C or D, found 'E'")) << m;
  m = input_error_message(
      [&] { load_gmmlu(dir.write("c.csv", header + "virology,\"open,a,b,c,d,A\n")); });
  EXPECT_TRUE(has(m, "c.csv: line 2 (byte 69)")) << m;
  EXPECT_TRUE(has(m, "closing '\"'")) << m;
  m = input_error_message(
      [&] { load_gmmlu(dir.write("d.csv", header + "virology,q,a,b,c,d,A\nvirology,q,a\n")); });
  EXPECT_TRUE(has(m, "d.csv: line 3 (byte 81)")) << m;
  EXPECT_TRUE(has(m, "expected 7 fields as in the header, found 3")) << m;
}

TEST(Gmmlu, JsonlAnswerForms) {
  TempDir dir;
  const std::string base =
      R"({"subject": "virology", "question": "q", "option_a": "a", "option_b": "b", )"
      R"("option_c": "c", "option_d": "d", "answer": )";
  EXPECT_EQ(load_gmmlu(dir.write("a.jsonl", base + "3}"))[0].answer, 3);
  EXPECT_EQ(load_gmmlu(dir.write("b.jsonl", base + "\"D\"}"))[0].answer, 3);
  EXPECT_TRUE(has(input_error_message([&] { load_gmmlu(dir.write("c.jsonl", base + "\"d\"}")); }),
                  "found 'd'"));
}

}  // namespace
}  // namespace moe::tasks
