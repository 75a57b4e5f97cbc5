// Answers of generated text: \boxed{} extraction and the equivalence of an extracted answer with
// the gold answer, shared by MGSM `boxed` and PolyMath (sweeps/METHODS.md D).
//
// extract_boxed(): all ASCII spaces are removed from the text first (as the published PolyMath
// evaluation does), then the content of the FIRST "\boxed{" whose braces balance is returned
// (nested braces allowed; an unterminated \boxed{ is skipped). No balanced \boxed{} -> nullopt.
//
// judge_answer(predicted, gold) -> correct / incorrect / unscorable:
//  1. Both parse as numbers (parse_numeric_answer): correct iff |p - g| <= 1e-4 max(|p|, |g|),
//     trying each side's percent forms ("25%" also means 0.25).
//  2. Otherwise the normalised strings (normalize_answer) are compared: equal -> correct.
//  3. Unequal strings: if the gold is a number and the prediction does not look like an
//     expression that could evaluate to one (no LaTeX command, ^, braces, parentheses, /, *, +),
//     incorrect; if the gold is not a number and both sides are plain words, incorrect.
//     Anything else needs symbolic equivalence (2^3 vs 8, \frac{\sqrt2}{2} vs \frac{1}{\sqrt2},
//     sets, intervals): UNSCORABLE, reported separately and never counted as right or wrong.
// Numbers: optional sign, digits with an optional decimal part; commas only as thousands
// separators (1,234,567.5); "$", "\$" before; "%", "\%", "^\circ", "^{\circ}", "°" after; a/b,
// \frac{a}{b}, \dfrac, \tfrac of such numbers; surrounding "$...$" and \text{}/\mathrm{} wrappers.
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace moe::tasks {

enum class Verdict { incorrect = 0, correct = 1, unscorable = 2 };
const char* verdict_name(Verdict v);  // "incorrect", "correct", "unscorable"

std::optional<std::string> extract_boxed(std::string_view text);

struct NumericAnswer {
  double value = 0;
  bool percent = false;  // written with a percent sign: also stands for value / 100
};
std::optional<NumericAnswer> parse_numeric_answer(std::string_view answer);

// Spaces removed, $...$ and \text{}-like wrappers unwrapped, \left \right \! \, \; \: and
// \displaystyle dropped, \dfrac/\tfrac -> \frac, one trailing '.' dropped; plain words (letters
// and spaces only) lower-cased.
std::string normalize_answer(std::string_view answer);

Verdict judge_answer(std::string_view predicted, std::string_view gold);

// extract_boxed + judge_answer; no balanced \boxed{} is incorrect (extracted = nullopt).
struct BoxedScore {
  std::optional<std::string> extracted;
  Verdict verdict = Verdict::incorrect;
};
BoxedScore score_boxed(std::string_view generated, std::string_view gold);

// Counts of verdicts over a language's samples. Accuracy is reported as bounds when some answers
// are unscorable: lower = correct / n (unscorable as wrong), upper = (correct + unscorable) / n,
// and over the scorable ones = correct / (correct + incorrect).
struct VerdictTally {
  int correct = 0;
  int incorrect = 0;
  int unscorable = 0;
  void add(Verdict v);
  int n() const { return correct + incorrect + unscorable; }
  double accuracy_lower() const;     // NaN when n = 0
  double accuracy_upper() const;     // NaN when n = 0
  double accuracy_scorable() const;  // NaN when nothing is scorable
};

}  // namespace moe::tasks
