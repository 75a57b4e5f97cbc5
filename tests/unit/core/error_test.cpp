// excerpt(): quoting user text in error messages without producing invalid UTF-8.
#include <gtest/gtest.h>

#include "runtime/core/error.h"

namespace {

TEST(Excerpt, ShortTextIsUnchanged) { EXPECT_EQ(moe::excerpt("abc", 3), "abc"); }

TEST(Excerpt, AsciiIsCutAtTheLimit) { EXPECT_EQ(moe::excerpt("abcdef", 4), "abcd..."); }

TEST(Excerpt, CutNeverSplitsAMultiByteSequence) {
  const std::string s = "ab\xe2\x82\xac\xe2\x82\xac";  // "ab€€", 8 bytes
  EXPECT_EQ(moe::excerpt(s, 2), "ab...");
  EXPECT_EQ(moe::excerpt(s, 3), "ab...");  // inside the first euro sign
  EXPECT_EQ(moe::excerpt(s, 4), "ab...");
  EXPECT_EQ(moe::excerpt(s, 5), "ab\xe2\x82\xac...");
  EXPECT_EQ(moe::excerpt(s, 8), s);
}

}  // namespace
