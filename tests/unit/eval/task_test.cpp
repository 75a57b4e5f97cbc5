// Task preparation for evaluation: files found by their native names or templates, samples
// prepared from every native format (exemplars left out, seeded selections), option checking.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <set>

#include "runtime/core/error.h"
#include "sweeps/eval/task.h"
#include "sweeps/tasks/gmmlu.h"
#include "tests/unit/tasks/test_files.h"

namespace moe::eval {
namespace {

using tasks::testing::input_error_message;
using tasks::testing::TempDir;

TaskConfig task(TaskKind kind, const std::filesystem::path& path, const std::string& opts = "{}") {
  TaskConfig t;
  t.name = "t";
  t.kind = kind;
  t.path = path;
  t.options = parse_task_options(kind, opts, "t");
  return t;
}

const char* kMgsm =
    "What is 2+2?\t4\nWhat is 3+3?\t6\nWhat is 10*100?\t1,000\nHalf of 8?\t4\n"
    "Double 7?\t14\n";

TEST(EvalTask, MgsmDirectLeavesTheExemplarRowsOutAndPutsThemInEveryPrompt) {
  TempDir d;
  d.write("mgsm_de.tsv", kMgsm);
  const LanguageData data = load_language(task(TaskKind::kMgsm, d.path(), R"({"shots": 2})"), "de");
  ASSERT_EQ(data.items.size(), 3u);
  EXPECT_EQ(data.file, d.path() / "mgsm_de.tsv");
  ASSERT_EQ(data.notes.size(), 1u);
  EXPECT_NE(data.notes[0].find("left out"), std::string::npos);
  for (size_t i = 0; i < data.items.size(); ++i) {
    EXPECT_EQ(data.items[i].index, int64_t(i));
    EXPECT_EQ(data.items[i].prompt.find("Frage: "), 0u) << data.items[i].prompt;
    EXPECT_TRUE(data.items[i].prompt.ends_with("\nAntwort:"));
  }
  // The three evaluated rows are the rows not drawn as exemplars, in file order.
  std::set<std::string> golds;
  for (const auto& it : data.items) golds.insert(it.id);
  EXPECT_EQ(golds.size(), 3u);
}

TEST(EvalTask, MgsmBoxedIsOneChatUserMessagePerRow) {
  TempDir d;
  d.write("mgsm/en.tsv", kMgsm);
  const TaskConfig t = task(TaskKind::kMgsm, d.path() / "mgsm", R"({"variant": "boxed"})");
  EXPECT_TRUE(t.uses_chat());
  EXPECT_EQ(t.max_new_tokens(), 4096);
  const LanguageData data = load_language(t, "en");
  ASSERT_EQ(data.items.size(), 5u);
  EXPECT_EQ(data.items[2].gold, "1,000");
  EXPECT_NE(data.items[2].prompt.find("\\boxed"), std::string::npos);
  EXPECT_EQ(data.items[2].prompt.find("What is 10*100?\n"), 0u);
}

TEST(EvalTask, TemplatesTryEveryCodeOfTheLanguageAndMissingFilesListWhatWasTried) {
  TempDir d;
  d.write("bele/zho_Hans.jsonl",
          R"({"link": "x", "question_number": 1, "flores_passage": "P", "question": "Q", )"
          R"("mc_answer1": "a", "mc_answer2": "b", "mc_answer3": "c", "mc_answer4": "d", )"
          R"("correct_answer_num": "3"})"
          "\n");
  const LanguageData zh = load_language(task(TaskKind::kBelebele, d.path() / "bele"), "zh");
  ASSERT_EQ(zh.items.size(), 1u);
  EXPECT_EQ(zh.items[0].gold_choice, 2);
  EXPECT_EQ(zh.items[0].gold, "C");
  EXPECT_EQ(zh.items[0].id, "x#1");
  const std::string msg = input_error_message(
      [&] { load_language(task(TaskKind::kBelebele, d.path() / "bele" / "{lang}.json"), "de"); });
  EXPECT_NE(msg.find("de.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("deu_Latn.json"), std::string::npos) << msg;
}

TEST(EvalTask, GmmluSelectsPerSubjectWithItsSeedAndFiltersSubjects) {
  TempDir d;
  std::string rows;
  for (const char* subject :
       {"clinical_knowledge", "college_medicine", "human_aging", "medical_genetics", "nutrition",
        "professional_medicine", "virology", "astronomy"})
    for (int i = 0; i < 3; ++i)
      rows += nlohmann::json{{"question", fmt::format("{} q{}", subject, i)},
                             {"option_a", "a"},
                             {"option_b", "b"},
                             {"option_c", "c"},
                             {"option_d", "d"},
                             {"answer", "B"},
                             {"subject", subject}}
                  .dump() +
              "\n";
  d.write("gm/fr.jsonl", rows);
  const LanguageData all =
      load_language(task(TaskKind::kGmmlu, d.path() / "gm", R"({"per_subject": 2})"), "fr");
  EXPECT_EQ(all.items.size(), 14u);  // 7 medical subjects x 2, astronomy never
  for (const auto& it : all.items) {
    EXPECT_NE(it.subject, "astronomy");
    EXPECT_EQ(it.gold_choice, 1);
    EXPECT_TRUE(it.prompt.ends_with("\nAnswer:"));
  }
  const LanguageData two =
      load_language(task(TaskKind::kGmmlu, d.path() / "gm",
                         R"({"per_subject": 2, "subjects": ["virology", "nutrition"]})"),
                    "fr");
  ASSERT_EQ(two.items.size(), 4u);
  // The same rows as in the full selection (the draw does not depend on the filter).
  for (const auto& it : two.items) {
    bool found = false;
    for (const auto& a : all.items) found = found || (a.id == it.id && a.prompt == it.prompt);
    EXPECT_TRUE(found) << it.id;
  }
}

TEST(EvalTask, GmmluLanguagesMustSelectTheSameQuestions) {
  TempDir d;
  auto rows = [](const std::vector<std::string>& subjects) {
    std::string out;
    for (size_t i = 0; i < subjects.size(); ++i)
      out += nlohmann::json{{"question", fmt::format("q{}", i)}, {"option_a", "a"},
                            {"option_b", "b"},  {"option_c", "c"}, {"option_d", "d"},
                            {"answer", "A"},   {"subject", subjects[i]}}
                 .dump() +
             "\n";
    return out;
  };
  std::vector<std::string> subjects;
  for (std::string_view s : tasks::kMedicalSubjects)
    for (int i = 0; i < 3; ++i) subjects.emplace_back(s);
  d.write("gm/en.jsonl", rows(subjects));
  d.write("gm/de.jsonl", rows(subjects));
  std::swap(subjects[0], subjects.back());  // one clinical_knowledge row moves to the end
  d.write("gm/fr.jsonl", rows(subjects));
  const TaskConfig t = task(TaskKind::kGmmlu, d.path() / "gm", R"({"per_subject": 2})");
  const std::vector<LanguageData> ok{load_language(t, "en"), load_language(t, "de")};
  check_parallel(t, ok);
  const std::vector<LanguageData> bad{load_language(t, "en"), load_language(t, "fr")};
  const std::string msg = input_error_message([&] { check_parallel(t, bad); });
  EXPECT_NE(msg.find("en.jsonl vs "), std::string::npos) << msg;
  EXPECT_NE(msg.find("fr.jsonl"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected parallel Global-MMLU files"), std::string::npos) << msg;
}

TEST(EvalTask, PolymathLevelsAndXquadAnswers) {
  TempDir d;
  d.write("pm/ja/medium.jsonl", R"({"id": "m-1", "question": "1+1?", "answer": 2})"
                                "\n");
  const LanguageData pm =
      load_language(task(TaskKind::kPolymath, d.path() / "pm", R"({"level": "medium"})"), "ja");
  ASSERT_EQ(pm.items.size(), 1u);
  EXPECT_EQ(pm.items[0].id, "m-1");
  EXPECT_EQ(pm.items[0].gold, "2");
  d.write("xq/xquad.es.json",
          R"({"data": [{"title": "T", "paragraphs": [{"context": "C", "qas": [{"id": "q1", )"
          R"("question": "Q?", "answers": [{"answer_start": 0, "text": "uno"}, )"
          R"({"answer_start": 0, "text": "1"}]}]}]}]})");
  const LanguageData xq = load_language(task(TaskKind::kXquad, d.path() / "xq"), "es");
  ASSERT_EQ(xq.items.size(), 1u);
  EXPECT_EQ(xq.items[0].golds, (std::vector<std::string>{"uno", "1"}));
}

TEST(EvalTask, FloresTranslationPairsSourceAndTargetLines) {
  TempDir d;
  d.write("fl/devtest/eng_Latn.devtest", "Hello.\nGood morning.\n");
  d.write("fl/devtest/deu_Latn.devtest", "Hallo.\nGuten Morgen.\n");
  const TaskConfig t = task(TaskKind::kFlores, d.path() / "fl", R"({"standard_size": false})");
  const LanguageData de = load_language(t, "de");
  ASSERT_EQ(de.items.size(), 2u);
  EXPECT_EQ(de.items[1].gold, "Guten Morgen.");
  EXPECT_EQ(de.items[1].prompt,
            "Translate the following English text into German.\nEnglish: Good morning.\n\nGerman:");
  d.write("fl/devtest/fra_Latn.devtest", "Bonjour.\n");
  EXPECT_NE(input_error_message([&] { load_language(t, "fr"); }).find("parallel"),
            std::string::npos);
  // Without standard_size: false, a 2-line file is not a FLORES split.
  EXPECT_NE(input_error_message([&] {
              load_language(task(TaskKind::kFlores, d.path() / "fl"), "de");
            }).find("1012"),
            std::string::npos);
}

TEST(EvalTask, OptionErrorsNameTheKey) {
  EXPECT_NE(input_error_message([] {
              parse_task_options(TaskKind::kBelebele, R"({"shots": 2})", "tasks.b");
            }).find("tasks.b: shots"),
            std::string::npos);
  EXPECT_NE(input_error_message([] {
              parse_task_options(TaskKind::kMgsm, R"({"variant": "cot"})", "tasks.m");
            }).find("direct, boxed"),
            std::string::npos);
  EXPECT_NE(input_error_message([] {
              parse_task_options(TaskKind::kPolymath, R"({"sampling": {"top_p": 0}})", "tasks.p");
            }).find("top_p"),
            std::string::npos);
  EXPECT_NE(input_error_message([] {
              parse_task_options(TaskKind::kGmmlu, R"({"subjects": ["astronomy"]})", "tasks.g");
            }).find("astronomy"),
            std::string::npos);
  const TaskOptions o = parse_task_options(
      TaskKind::kPolymath,
      R"({"sampling": {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "seed": 3}, "thinking": false})",
      "p");
  EXPECT_FALSE(o.sampling.greedy);
  EXPECT_EQ(o.sampling.top_k, 20);
}

}  // namespace
}  // namespace moe::eval
