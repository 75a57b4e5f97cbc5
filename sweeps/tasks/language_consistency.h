// Language consistency (sweeps/METHODS.md D): is generated text in the prompt's language?
//
// check_language(text, prompt language):
//   1. strip_math(): fenced code blocks, display math ($$..$$, \[..\], \begin{..}..\end{..}),
//      inline math \(..\) and $..$ (pandoc's rule: the opening $ is followed and the closing $
//      preceded by a non-space, and the closing $ is not followed by a digit, so "$5 and $3"
//      stays text), and \boxed{...} are removed; other LaTeX commands lose their name but keep
//      their braced text (\text{Antwort} -> Antwort).
//   2. Fewer than kMinLetters (16) letters (Unicode category L*; a CJK character counts as one)
//      left: UNDETERMINED. Short answers such as "42" or "答案是 42" carry no usable signal.
//   3. CLD2 (libcld2, plain-text mode, invalid UTF-8 replaced) detects the language of the rest.
//      CLD2 "un" (unknown): UNDETERMINED.
//   4. CONSISTENT iff the detected CLD2 code is one the prompt language's table row lists
//      (languages.h): Chinese prompts accept both "zh" and "zh-Hant", because CLD2 labels
//      Simplified Chinese text "zh-Hant" when its characters are shared with Traditional ones.
//      (A check that compares against one fixed code, as the second study's does with langdetect's
//      "zh-cn", never counts Chinese output as consistent.)
// Undetermined outputs are counted apart; the consistency rate is over determined outputs.
// Thread-safety: CLD2 detection is thread-safe; these are pure functions.
#pragma once

#include <string>
#include <string_view>

#include "sweeps/tasks/languages.h"

namespace moe::tasks {

inline constexpr int kMinLetters = 16;

enum class Consistency { consistent, inconsistent, undetermined };
const char* consistency_name(Consistency c);

struct LanguageCheck {
  Consistency result = Consistency::undetermined;
  std::string detected;   // CLD2 code ("en", "zh-Hant", "un"); "" when too short to detect
  bool reliable = false;  // CLD2's own reliability flag
  int letters = 0;        // letters left after strip_math
};

std::string strip_math(std::string_view text);
LanguageCheck check_language(std::string_view generated, const Language& prompt_language);

struct ConsistencyTally {
  int consistent = 0;
  int inconsistent = 0;
  int undetermined = 0;
  void add(Consistency c);
  double rate() const;  // consistent / (consistent + inconsistent); NaN if none determined
};

}  // namespace moe::tasks
