// \boxed{} extraction and answer equivalence (sweeps/tasks/answers.h) on hand-made outputs.
#include <gtest/gtest.h>

#include <cmath>

#include "sweeps/tasks/answers.h"

namespace moe::tasks {
namespace {

TEST(Boxed, ExtractsTheFirstBalancedBoxWithSpacesRemoved) {
  EXPECT_EQ(extract_boxed("So the answer is \\boxed{42}."), "42");
  EXPECT_EQ(extract_boxed("\\boxed{ 1 000 }"), "1000");
  EXPECT_EQ(extract_boxed("\\boxed{3} and later \\boxed{4}"), "3");
  EXPECT_EQ(extract_boxed("答案是 \\boxed{18} 元。"), "18");
  EXPECT_EQ(extract_boxed("\\boxed{}"), "");
}

TEST(Boxed, NestedBracesAreKept) {
  EXPECT_EQ(extract_boxed("$\\boxed{\\frac{1}{2}}$"), "\\frac{1}{2}");
  EXPECT_EQ(extract_boxed("\\boxed{\\left\\{1, 2\\right\\}}"), "\\left\\{1,2\\right\\}");
  EXPECT_EQ(extract_boxed("\\boxed{{a}{b}}x}"), "{a}{b}");
}

TEST(Boxed, UnterminatedOrMissingBoxes) {
  // The first \boxed{ never closes: the next balanced one is taken.
  EXPECT_EQ(extract_boxed("\\boxed{3 and later \\boxed{4}"), "4");
  EXPECT_EQ(extract_boxed("\\boxed{3 and later} \\boxed{4}"), "3andlater");
  EXPECT_EQ(extract_boxed("no box here"), std::nullopt);
  EXPECT_EQ(extract_boxed(""), std::nullopt);
  EXPECT_EQ(extract_boxed("boxed{5}"), std::nullopt);  // the backslash is part of the marker
}

TEST(Numeric, ParsesTheFormsAnswersTake) {
  auto v = [](std::string_view s) { return parse_numeric_answer(s)->value; };
  EXPECT_EQ(v("1,234,567.5"), 1234567.5);
  EXPECT_EQ(v("-42"), -42);
  EXPECT_EQ(v(".5"), 0.5);
  EXPECT_EQ(v("\\$18"), 18);
  EXPECT_EQ(v("$18"), 18);
  EXPECT_EQ(v("$18$"), 18);
  EXPECT_EQ(v("\\frac{3}{4}"), 0.75);
  EXPECT_EQ(v("\\dfrac{3}{4}"), 0.75);
  EXPECT_EQ(v("-\\frac{1}{2}"), -0.5);
  EXPECT_EQ(v("3/4"), 0.75);
  EXPECT_EQ(v("30^\\circ"), 30);
  EXPECT_EQ(v("\\text{12}"), 12);
  EXPECT_TRUE(parse_numeric_answer("12\\%")->percent);
  EXPECT_TRUE(parse_numeric_answer("12%")->percent);
  EXPECT_FALSE(parse_numeric_answer("12")->percent);
}

TEST(Numeric, RejectsWhatIsNotAPlainNumber) {
  EXPECT_EQ(parse_numeric_answer("2,5"), std::nullopt);  // not a thousands separator
  EXPECT_EQ(parse_numeric_answer("1,23,456"), std::nullopt);
  EXPECT_EQ(parse_numeric_answer("\\sqrt{2}"), std::nullopt);
  EXPECT_EQ(parse_numeric_answer("x+1"), std::nullopt);
  EXPECT_EQ(parse_numeric_answer(""), std::nullopt);
  EXPECT_EQ(parse_numeric_answer("1/0"), std::nullopt);
  EXPECT_EQ(parse_numeric_answer("5cm"), std::nullopt);
}

TEST(Judge, NumbersWithCommasPercentsAndTolerance) {
  EXPECT_EQ(judge_answer("1,000", "1000"), Verdict::correct);
  EXPECT_EQ(judge_answer("1000.00", "1,000"), Verdict::correct);
  EXPECT_EQ(judge_answer("12%", "0.12"), Verdict::correct);
  EXPECT_EQ(judge_answer("12\\%", "12"), Verdict::correct);
  EXPECT_EQ(judge_answer("0.12", "12%"), Verdict::correct);
  EXPECT_EQ(judge_answer("13%", "12%"), Verdict::incorrect);
  // Relative tolerance 1e-4: |3.14159 - 3.1416| = 1e-5 passes, |3.14 - 3.1416| does not.
  EXPECT_EQ(judge_answer("3.14159", "3.1416"), Verdict::correct);
  EXPECT_EQ(judge_answer("3.14", "3.1416"), Verdict::incorrect);
  EXPECT_EQ(judge_answer("0", "0"), Verdict::correct);
  EXPECT_EQ(judge_answer("\\frac{1}{2}", "0.5"), Verdict::correct);
  EXPECT_EQ(judge_answer("\\$18", "18"), Verdict::correct);
  EXPECT_EQ(judge_answer("-5", "5"), Verdict::incorrect);
}

TEST(Judge, NonNumbersAgainstANumericGold) {
  EXPECT_EQ(judge_answer("2,5", "25"), Verdict::incorrect);  // a decimal comma is not 25
  EXPECT_EQ(judge_answer("", "5"), Verdict::incorrect);
  EXPECT_EQ(judge_answer("five", "5"), Verdict::incorrect);
  EXPECT_EQ(judge_answer("\\text{5 cm}", "5"), Verdict::incorrect);
  // Could evaluate to the gold: symbolic equivalence needed.
  EXPECT_EQ(judge_answer("\\sqrt{2}", "1.41421"), Verdict::unscorable);
  EXPECT_EQ(judge_answer("2^3", "8"), Verdict::unscorable);
}

TEST(Judge, StringsAndSymbolicGolds) {
  EXPECT_EQ(judge_answer("Tuesday", "tuesday"), Verdict::correct);
  EXPECT_EQ(judge_answer("Monday", "Tuesday"), Verdict::incorrect);
  EXPECT_EQ(judge_answer("\\dfrac{\\sqrt{3}}{2}", "$\\frac{\\sqrt{3}}{2}$"), Verdict::correct);
  EXPECT_EQ(judge_answer("\\left(1,2\\right)", "(1, 2)"), Verdict::correct);
  EXPECT_EQ(judge_answer("\\frac{1}{2}\\sqrt{3}", "\\frac{\\sqrt{3}}{2}"), Verdict::unscorable);
  EXPECT_EQ(judge_answer("1+x^2", "x^2+1"), Verdict::unscorable);
  EXPECT_EQ(judge_answer("5", "(1,2)"), Verdict::unscorable);
  EXPECT_EQ(judge_answer("", "x^2+1"), Verdict::incorrect);
}

TEST(Judge, ScoreBoxedEndToEnd) {
  auto s = score_boxed("Janet earns 9 * 2 = 18 dollars. \\boxed{18}", "18");
  EXPECT_EQ(s.extracted, "18");
  EXPECT_EQ(s.verdict, Verdict::correct);
  s = score_boxed("所以答案是 $\\boxed{1,000}$ 元。", "1000");
  EXPECT_EQ(s.verdict, Verdict::correct);
  s = score_boxed("The answer is 18.", "18");
  EXPECT_EQ(s.extracted, std::nullopt);
  EXPECT_EQ(s.verdict, Verdict::incorrect);
  s = score_boxed("", "18");
  EXPECT_EQ(s.verdict, Verdict::incorrect);
}

TEST(Judge, TallyReportsBoundsWithUnscorable) {
  VerdictTally t;
  t.add(Verdict::correct);
  t.add(Verdict::incorrect);
  t.add(Verdict::unscorable);
  EXPECT_EQ(t.n(), 3);
  EXPECT_DOUBLE_EQ(t.accuracy_lower(), 1.0 / 3);
  EXPECT_DOUBLE_EQ(t.accuracy_upper(), 2.0 / 3);
  EXPECT_DOUBLE_EQ(t.accuracy_scorable(), 0.5);
  EXPECT_TRUE(std::isnan(VerdictTally{}.accuracy_lower()));
  EXPECT_STREQ(verdict_name(Verdict::unscorable), "unscorable");
}

}  // namespace
}  // namespace moe::tasks
