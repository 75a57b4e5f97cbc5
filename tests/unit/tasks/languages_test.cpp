// The language table (sweeps/tasks/languages.h) and multiple-choice helpers.
#include <gtest/gtest.h>

#include <set>

#include "sweeps/tasks/languages.h"
#include "sweeps/tasks/multiple_choice.h"
#include "test_files.h"

namespace moe::tasks {
namespace {

TEST(Languages, AllCodesOfARowFindTheSameRow) {
  EXPECT_EQ(&language("zh"), &language("zho_Hans"));
  EXPECT_EQ(&language("zh"), &language("cmn_Hans"));
  EXPECT_EQ(&language("zh-Hant"), &language("zho_Hant"));
  EXPECT_EQ(language("sw").flores, "swh_Latn");
  EXPECT_EQ(language("he").cld2, "iw");
  EXPECT_EQ(cld2_codes(language("zh")), (std::vector<std::string_view>{"zh", "zh-Hant"}));
  EXPECT_EQ(find_language("xx"), nullptr);
  const std::string m = testing::input_error_message([] { language("xx_Latn"); });
  EXPECT_NE(m.find("language 'xx_Latn'"), std::string::npos) << m;
}

TEST(Languages, CodesAreUniqueAcrossTheTable) {
  std::set<std::string_view> seen;
  for (const auto& l : all_languages())
    for (std::string_view c : {l.code, l.flores, l.flores_alias})
      if (!c.empty()) {
        EXPECT_TRUE(seen.insert(c).second) << c;
      }
}

TEST(Languages, EveryTaskLanguageHasItsStrings) {
  for (const char* c : {"bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh"}) {
    EXPECT_FALSE(mgsm_question_label(language(c)).empty()) << c;
    EXPECT_FALSE(mgsm_answer_label(language(c)).empty()) << c;
  }
  for (const char* c : {"en", "zh", "ar", "bn", "de", "es", "fr", "id", "it", "ja", "ko", "ms",
                        "pt", "ru", "sw", "te", "th", "vi"})
    EXPECT_NE(boxed_instruction(language(c)).find("$\\boxed\\{\\}$"), std::string_view::npos) << c;
  for (const char* c : {"ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh"})
    EXPECT_FALSE(answer_directly_instruction(language(c)).empty()) << c;
  EXPECT_THROW(mgsm_question_label(language("ko")), InputError);
  EXPECT_THROW(answer_directly_instruction(language("bn")), InputError);
}

TEST(MultipleChoice, ArgmaxWithTiesToTheEarliestAndNaNNeverWinning) {
  EXPECT_EQ(argmax_choice(std::vector<double>{-3, -1, -2, -5}), 1);
  EXPECT_EQ(argmax_choice(std::vector<double>{-1, -2, -1, -1}), 0);
  EXPECT_EQ(argmax_choice(std::vector<double>{NAN, -7, -2, NAN}), 2);
  EXPECT_EQ(choice_index("C"), 2);
  EXPECT_EQ(choice_index("c"), -1);
  EXPECT_EQ(choice_index("AB"), -1);
  EXPECT_EQ(kChoiceContinuations[3], " D");
}

}  // namespace
}  // namespace moe::tasks
