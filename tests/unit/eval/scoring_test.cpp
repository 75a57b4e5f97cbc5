// Scoring of generated outputs and choices per task kind, the text each family's output is
// scored on (harmony final channel, text after </think>), and the per-language summaries
// (mean over subjects, unscorable bounds, corpus chrF, consistency), against hand-computed values.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "runtime/io/tokenizer.h"
#include "runtime/io/tokenizer_maker.h"
#include "sweeps/eval/evaluate.h"
#include "sweeps/tasks/chrf.h"

namespace moe::eval {
namespace {

struct Encoder {
  io::Tokenizer tok;
  io::SpecialTokens special;
  PromptEncoder enc;
  explicit Encoder(io::Family f)
      : tok(io::Tokenizer::from_json(io::make_tokenizer(f, 600).tokenizer_json, "made")),
        enc(f, tok, special, io::ChatOptions{}) {}
};

TaskConfig task(TaskKind kind, const std::string& opts = "{}") {
  TaskConfig t;
  t.kind = kind;
  t.options = parse_task_options(kind, opts, "t");
  return t;
}

LanguageData language(const std::string& code) {
  LanguageData d;
  d.language = code;
  d.output_language = code;
  return d;
}

EvalItem item(const std::string& gold, std::vector<std::string> golds = {}) {
  EvalItem it;
  it.index = 7;
  it.id = "s7";
  it.gold = gold;
  it.golds = std::move(golds);
  return it;
}

TEST(Scoring, MgsmDirectTakesTheLastNumber) {
  Encoder e(io::Family::kQwen3Moe);
  const TaskConfig t = task(TaskKind::kMgsm);
  const SampleResult r =
      score_generation(t, language("en"), item("1,000"), e.enc, " 10 then 1000.");
  EXPECT_EQ(r.extracted, "1000");
  EXPECT_EQ(r.score, 1.0);
  EXPECT_EQ(r.verdict, "correct");
  EXPECT_EQ(r.index, 7);
  EXPECT_EQ(r.consistency, "undetermined");  // too short to detect
  const SampleResult w = score_generation(t, language("en"), item("4"), e.enc, " no number");
  EXPECT_EQ(w.extracted, "[invalid]");
  EXPECT_EQ(w.score, 0.0);
}

TEST(Scoring, BoxedAnswersAreCorrectIncorrectOrUnscorable) {
  Encoder e(io::Family::kQwen3Moe);
  const TaskConfig t = task(TaskKind::kPolymath);
  EXPECT_EQ(score_generation(t, language("en"), item("1000"), e.enc, "so \\boxed{1,000}").score,
            1.0);
  EXPECT_EQ(score_generation(t, language("en"), item("7"), e.enc, "\\boxed{8}").score, 0.0);
  const SampleResult u = score_generation(t, language("en"), item("8"), e.enc, "\\boxed{2^3}");
  EXPECT_TRUE(std::isnan(u.score));
  EXPECT_EQ(u.verdict, "unscorable");
  EXPECT_EQ(u.extracted, "2^3");
  // mgsm boxed scores the same way.
  EXPECT_EQ(score_generation(task(TaskKind::kMgsm, R"({"variant": "boxed"})"), language("en"),
                             item("12"), e.enc, "The answer is \\boxed{12}.")
                .score,
            1.0);
}

TEST(Scoring, QwenThinkingAndHarmonyChannelsAreStrippedBeforeScoring) {
  Encoder q(io::Family::kQwen3Moe);
  const TaskConfig t = task(TaskKind::kPolymath);
  const SampleResult r = score_generation(t, language("en"), item("5"), q.enc,
                                          "<think>maybe \\boxed{4}</think>\n\\boxed{5}");
  EXPECT_EQ(r.answer_text, "\n\\boxed{5}");
  EXPECT_EQ(r.score, 1.0);
  Encoder g(io::Family::kGptOss);
  const std::string out =
      "<|channel|>analysis<|message|>\\boxed{4}<|end|><|start|>assistant<|channel|>final"
      "<|message|>It is \\boxed{5}.<|return|>";
  const SampleResult h = score_generation(t, language("en"), item("5"), g.enc, out);
  EXPECT_EQ(h.answer_text, "It is \\boxed{5}.");
  EXPECT_EQ(h.score, 1.0);
  EXPECT_EQ(h.output, out);
}

TEST(Scoring, XquadKeepsExactMatchF1AndContainment) {
  Encoder e(io::Family::kOlmoe);
  const SampleResult r = score_generation(task(TaskKind::kXquad), language("en"),
                                          item("Denver Broncos", {"Denver Broncos", "Broncos"}),
                                          e.enc, "  the Denver Broncos team\n");
  EXPECT_EQ(r.extracted, "the Denver Broncos team");
  EXPECT_EQ(r.exact_match, 0.0);
  // Against "Denver Broncos": pred tokens {denver, broncos, team} (article dropped): P 2/3, R 1.
  EXPECT_NEAR(r.f1, 2 * (2.0 / 3) / (2.0 / 3 + 1), 1e-12);
  EXPECT_EQ(r.containment, 1.0);
  EXPECT_EQ(r.score, r.exact_match);
}

TEST(Scoring, FloresScoresTheFirstLineWithChrf) {
  Encoder e(io::Family::kPhimoe);
  const SampleResult r =
      score_generation(task(TaskKind::kFlores), language("de"), item("Guten Morgen."), e.enc,
                       " Guten Morgen!\nEnglish: next");
  EXPECT_EQ(r.extracted, "Guten Morgen!");
  EXPECT_DOUBLE_EQ(r.chrf, tasks::sentence_chrf("Guten Morgen!", "Guten Morgen."));
  EXPECT_DOUBLE_EQ(r.score, r.chrf);
}

TEST(Scoring, ChoicesTakeTheLargestLoglikelihoodEarliestOnTies) {
  EvalItem it = item("C");
  it.gold_choice = 2;
  SampleResult r = score_choice(it, {-3.0, -1.0, -1.0, -2.0});
  EXPECT_EQ(r.extracted, "B");
  EXPECT_EQ(r.score, 0.0);
  r = score_choice(it, {-3.0, -1.0, -0.5, -2.0});
  EXPECT_EQ(r.extracted, "C");
  EXPECT_EQ(r.score, 1.0);
}

SampleResult scored(double score, const std::string& subject = "",
                    const std::string& consistency = "") {
  SampleResult r;
  r.score = score;
  r.subject = subject;
  r.consistency = consistency;
  return r;
}

TEST(Summary, GmmluIsTheMeanOverSubjects) {
  // nutrition 1/1, virology 1/3: micro 2/4 = 0.5, macro (1 + 1/3) / 2 = 2/3.
  const std::vector<SampleResult> s = {scored(1, "nutrition"), scored(1, "virology"),
                                       scored(0, "virology"), scored(0, "virology")};
  const LanguageSummary m = summarize(task(TaskKind::kGmmlu), "fr", s);
  EXPECT_EQ(m.metric, "accuracy");
  EXPECT_EQ(m.n, 4);
  EXPECT_NEAR(m.score, 2.0 / 3.0, 1e-12);
  ASSERT_EQ(m.subjects.size(), 2u);
  EXPECT_EQ(m.subjects[1].first, "virology");
  EXPECT_NEAR(m.subjects[1].second, 1.0 / 3.0, 1e-12);
}

TEST(Summary, UnscorableAnswersGiveBoundsAndAreLeftOutOfTheScore) {
  const double nan = std::nan("");
  const std::vector<SampleResult> s = {scored(1, "", "consistent"), scored(0, "", "inconsistent"),
                                       scored(nan, "", "consistent"),
                                       scored(1, "", "undetermined")};
  const LanguageSummary m = summarize(task(TaskKind::kPolymath), "de", s);
  EXPECT_EQ(m.scored, 3);
  EXPECT_EQ(m.unscorable, 1);
  EXPECT_NEAR(m.score, 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(m.accuracy_lower, 0.5, 1e-12);
  EXPECT_NEAR(m.accuracy_upper, 0.75, 1e-12);
  EXPECT_EQ(m.consistent, 2);
  EXPECT_EQ(m.inconsistent, 1);
  EXPECT_EQ(m.undetermined, 1);
  EXPECT_NEAR(m.consistency_rate, 2.0 / 3.0, 1e-12);
}

TEST(Summary, FloresLanguageScoreIsCorpusChrf) {
  std::vector<SampleResult> s(2);
  s[0].extracted = "Hallo Welt";
  s[0].gold = "Hallo, Welt!";
  s[1].extracted = "Guten Tag";
  s[1].gold = "Guten Morgen";
  for (auto& r : s) r.chrf = r.score = tasks::sentence_chrf(r.extracted, r.gold);
  const LanguageSummary m = summarize(task(TaskKind::kFlores), "de", s);
  EXPECT_EQ(m.metric, "chrf");
  const std::vector<std::string> h{"Hallo Welt", "Guten Tag"}, g{"Hallo, Welt!", "Guten Morgen"};
  EXPECT_DOUBLE_EQ(m.score, tasks::corpus_chrf(h, g));
  EXPECT_DOUBLE_EQ(m.sentence_chrf, (s[0].chrf + s[1].chrf) / 2);
}

}  // namespace
}  // namespace moe::eval
