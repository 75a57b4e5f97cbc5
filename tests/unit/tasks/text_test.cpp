// Unicode helpers (sweeps/tasks/text.h) against Python's str definitions.
#include <gtest/gtest.h>

#include "sweeps/tasks/regex.h"
#include "sweeps/tasks/text.h"

namespace moe::tasks {
namespace {

using Words = std::vector<std::string>;

TEST(Text, SplitWhitespaceMatchesPythonStrSplit) {
  // Python: "a\tb\u00a0c\u3000d\u2009e\x1cf\u200bg".split() == ['a','b','c','d','e','f\u200bg']
  // (U+001C is bidi class B; U+200B zero width space is not whitespace for Python).
  EXPECT_EQ(split_whitespace("a\tb\u00a0c\u3000d\u2009e\x1c"
                             "f\u200bg"),
            (Words{"a", "b", "c", "d", "e", "f\u200bg"}));
  EXPECT_EQ(split_whitespace("  "), Words{});
  EXPECT_EQ(split_whitespace("\n x \r\n"), Words{"x"});
}

TEST(Text, LowerCaseIsUnicode) {
  EXPECT_EQ(to_lower("ÄÖÜ ΣΑΣ Привет ABC"), "äöü σασ привет abc");
  EXPECT_EQ(to_lower("中文"), "中文");
}

TEST(Text, InvalidUtf8IsFoundAndReplaced) {
  EXPECT_EQ(first_invalid_utf8("ok \xC3\xA9"), std::nullopt);
  EXPECT_EQ(first_invalid_utf8("ab\xFF"
                               "cd"),
            2u);
  EXPECT_EQ(first_invalid_utf8("\xE4\xB8"), 0u);  // truncated 3-byte sequence
  EXPECT_EQ(sanitize_utf8("a\xFF"
                          "b"),
            "a\uFFFD"
            "b");
  EXPECT_EQ(trim(" \u3000 x y \n"), "x y");
}

TEST(Regex, FindsAllMatchesWithGroupsAndUnicodeWordBoundaries) {
  const Regex r(R"((-?[$0-9.,]{2,})|(-?[0-9]+))");
  const std::string s = "pay $1,000 then 7";
  const auto m = r.find_all(s);
  ASSERT_EQ(m.size(), 2u);
  ASSERT_TRUE(m[0].groups[0].has_value());
  EXPECT_EQ(s.substr(m[0].groups[0]->begin, m[0].groups[0]->end - m[0].groups[0]->begin), "$1,000");
  EXPECT_FALSE(m[1].groups[0].has_value());
  EXPECT_TRUE(m[1].groups[1].has_value());
  // \b is Unicode-aware: "thé" is one word, so "th" inside it is not an article "the".
  const Regex articles(R"(\b(a|an|the)\b)");
  EXPECT_EQ(articles.replace_all("the thé a", "_"), "_ thé _");
}

}  // namespace
}  // namespace moe::tasks
