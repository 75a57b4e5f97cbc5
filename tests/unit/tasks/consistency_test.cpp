// Language consistency with CLD2 (sweeps/tasks/language_consistency.h).
#include <gtest/gtest.h>

#include <cmath>

#include "sweeps/tasks/language_consistency.h"
#include "sweeps/tasks/text.h"

namespace moe::tasks {
namespace {

TEST(StripMath, RemovesMathSpansAndBoxesButKeepsText) {
  EXPECT_EQ(split_whitespace(strip_math("Sei $x^2$ und \\(y\\), dann $$z$$ und \\[w\\] fertig")),
            (std::vector<std::string>{"Sei", "und", ",", "dann", "und", "fertig"}));
  EXPECT_EQ(split_whitespace(strip_math("\\begin{align} a &= b \\end{align} done \\boxed{42}")),
            (std::vector<std::string>{"done"}));
  EXPECT_EQ(split_whitespace(strip_math("\\text{Antwort}: \\textbf{zwölf}")),
            (std::vector<std::string>{"Antwort:", "zwölf"}));
  // Currency, not math (pandoc's rule): the text between the dollars stays.
  EXPECT_EQ(strip_math("costs $5 and $3 each"), "costs $5 and $3 each");
  EXPECT_EQ(split_whitespace(strip_math("```\ncode here\n``` after")),
            (std::vector<std::string>{"after"}));
}

TEST(Consistency, ChineseOutputIsConsistentForAChinesePrompt) {
  const auto& zh = language("zh");
  auto r = check_language("首先计算每天的鸡蛋数量，然后减去吃掉的和烤松饼用的，最后乘以价格。", zh);
  EXPECT_EQ(r.result, Consistency::consistent);
  EXPECT_EQ(r.detected, "zh");
  // CLD2 labels this Simplified text "zh-Hant" (its characters are shared with Traditional);
  // a check against one fixed code would call it inconsistent.
  r = check_language("所以答案是十八美元，她每天赚十八美元。所以答案是十八美元。", zh);
  EXPECT_EQ(r.detected, "zh-Hant");
  EXPECT_EQ(r.result, Consistency::consistent);
  // With math and a box around the Chinese text.
  r = check_language(
      "因为她每天剩下 $16-3-4=9$ 个鸡蛋，$9 \\times 2 = 18$，所以珍妮每天卖鸡蛋可以赚十八美元。"
      "\\boxed{18}",
      zh);
  EXPECT_EQ(r.result, Consistency::consistent) << r.detected << " " << r.letters;
}

TEST(Consistency, OtherLanguagesAndSwitchedOutput) {
  auto r = check_language(
      "Zuerst berechnen wir die Anzahl der Eier pro Tag und ziehen dann die "
      "gegessenen ab.",
      language("de"));
  EXPECT_EQ(r.result, Consistency::consistent);
  r = check_language(
      "First we compute the number of eggs per day, then subtract the ones "
      "eaten, so she makes 18 dollars.",
      language("zh"));
  EXPECT_EQ(r.result, Consistency::inconsistent);
  EXPECT_EQ(r.detected, "en");
  EXPECT_TRUE(r.reliable);
}

TEST(Consistency, ShortOrMathOnlyOutputIsUndetermined) {
  const auto& zh = language("zh");
  auto r = check_language("答案是 42", zh);
  EXPECT_EQ(r.result, Consistency::undetermined);
  EXPECT_EQ(r.letters, 3);
  EXPECT_EQ(r.detected, "");
  EXPECT_EQ(check_language("$$x^2 + y^2 = z^2$$ \\boxed{5}", zh).result, Consistency::undetermined);
  EXPECT_EQ(check_language("", zh).result, Consistency::undetermined);
  EXPECT_EQ(check_language("42", language("en")).result, Consistency::undetermined);
}

TEST(Consistency, TallyRateIsOverDeterminedOutputs) {
  ConsistencyTally t;
  t.add(Consistency::consistent);
  t.add(Consistency::consistent);
  t.add(Consistency::inconsistent);
  t.add(Consistency::undetermined);
  EXPECT_DOUBLE_EQ(t.rate(), 2.0 / 3);
  EXPECT_EQ(t.undetermined, 1);
  EXPECT_TRUE(std::isnan(ConsistencyTally{}.rate()));
}

}  // namespace
}  // namespace moe::tasks
