// make_tokenizer: the made tokenizer.json files load, are deterministic, stay within max_vocab,
// carry the family's special tokens, and round-trip multilingual text. (Parity of their
// encodings with the Hugging Face library is checked in hf_parity_test.cpp.)
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "runtime/core/error.h"
#include "runtime/io/tokenizer.h"
#include "runtime/io/tokenizer_maker.h"

namespace moe::io {
namespace {

constexpr Family kFamilies[] = {Family::kQwen3Moe, Family::kOlmoe, Family::kGptOss,
                                Family::kPhimoe};

const char* kText =
    "Hello, world! It's 2025 and we're testing   spaces.\n"
    "Der Fuchs springt. 中文测试，日本語のテキスト。한국어 문장. हिंदी वाक्य। বাংলা লেখা।\n"
    "ภาษาไทย العربية עברית Ελληνικά Русский "
    "🙂🚀👨‍👩‍👧 "
    "tabs\tand\r\nnewlines\n\n";

// One made tokenizer per family (making one takes about 0.1 s).
const MadeTokenizer& made(Family f) {
  static std::map<Family, MadeTokenizer> cache;
  auto it = cache.find(f);
  if (it == cache.end()) it = cache.emplace(f, make_tokenizer(f, 2048)).first;
  return it->second;
}

TEST(MadeTokenizer, IsDeterministicAndWithinMaxVocab) {
  for (Family f : kFamilies) {
    const MadeTokenizer& a = made(f);
    const MadeTokenizer b = make_tokenizer(f, 2048);
    EXPECT_EQ(a.tokenizer_json, b.tokenizer_json);
    EXPECT_LE(a.size, 2048);
    const Tokenizer t = Tokenizer::from_json(a.tokenizer_json, "made");
    EXPECT_EQ(t.vocab_size(), a.size);
  }
}

TEST(MadeTokenizer, SmallVocabStillFitsAndLearnsFewerMerges) {
  for (Family f : kFamilies) {
    const MadeTokenizer small = make_tokenizer(f, 400);
    EXPECT_LE(small.size, 400);
    const Tokenizer t = Tokenizer::from_json(small.tokenizer_json, "made-small");
    EXPECT_EQ(t.decode(t.encode(kText)), kText);
  }
}

TEST(MadeTokenizer, TooSmallVocabIsAnInputError) {
  EXPECT_THROW(make_tokenizer(Family::kQwen3Moe, 100), InputError);
  EXPECT_THROW(make_tokenizer(Family::kPhimoe, 270), InputError);
}

TEST(MadeTokenizer, SpecialTokensHaveTheMadeIdsAndEncodeAsOneToken) {
  const std::vector<std::pair<Family, std::vector<std::string>>> expected = {
      {Family::kQwen3Moe, {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"}},
      {Family::kOlmoe, {"<|endoftext|>", "<|padding|>"}},
      {Family::kGptOss,
       {"<|startoftext|>", "<|endoftext|>", "<|return|>", "<|constrain|>", "<|channel|>",
        "<|start|>", "<|end|>", "<|message|>", "<|call|>"}},
      {Family::kPhimoe,
       {"<unk>", "<s>", "</s>", "<|endoftext|>", "<|assistant|>", "<|system|>", "<|end|>",
        "<|user|>"}},
  };
  for (const auto& [family, names] : expected) {
    const MadeTokenizer& m = made(family);
    const Tokenizer t = Tokenizer::from_json(m.tokenizer_json, "made");
    for (const std::string& name : names) {
      SCOPED_TRACE(name);
      ASSERT_TRUE(m.special_ids.count(name));
      const int32_t id = m.special_ids.at(name);
      EXPECT_EQ(t.token_to_id(name), id);
      EXPECT_EQ(t.id_to_token(id), name);
      EXPECT_EQ(t.encode(name), std::vector<int32_t>{id});
    }
  }
}

TEST(MadeTokenizer, GptOssReservedIdsSitWhereThePublishedFileHasThem) {
  const auto& ids = made(Family::kGptOss).special_ids;
  const int32_t start = ids.at("<|startoftext|>");
  // Published: 199998 startoftext, 199999 endoftext, 200002 return, ... 200012 call.
  EXPECT_EQ(ids.at("<|endoftext|>"), start + 1);
  EXPECT_EQ(ids.at("<|return|>"), start + 4);
  EXPECT_EQ(ids.at("<|channel|>"), start + 7);
  EXPECT_EQ(ids.at("<|message|>"), start + 10);
  EXPECT_EQ(ids.at("<|call|>"), start + 14);
}

TEST(MadeTokenizer, RoundTripsMultilingualText) {
  for (Family f : kFamilies) {
    const Tokenizer t = Tokenizer::from_json(made(f).tokenizer_json, "made");
    const auto ids = t.encode(kText);
    EXPECT_EQ(t.decode(ids), kText);
    // Merges were learned: clearly fewer tokens than bytes.
    EXPECT_LT(ids.size(), std::string(kText).size() * 2 / 3);
  }
}

TEST(MadeTokenizer, ConcurrentEncodesGiveTheSameIdsAsOneThread) {
  // encode() is const and shares the piece cache and the regexes between threads.
  const Tokenizer t = Tokenizer::from_json(made(Family::kQwen3Moe).tokenizer_json, "made");
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i) texts.push_back(std::to_string(i) + " " + kText);
  std::vector<std::vector<int32_t>> expected;
  for (const auto& text : texts) expected.push_back(t.encode(text));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&, k] {
      for (size_t i = 0; i < texts.size(); ++i)
        if (t.encode(texts[(i + 50 * k) % texts.size()]) != expected[(i + 50 * k) % texts.size()])
          ++mismatches[k];
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

TEST(MadeTokenizer, PhimoeAddsBosOnlyWithSpecialTokens) {
  const Tokenizer t = Tokenizer::from_json(made(Family::kPhimoe).tokenizer_json, "made");
  const auto plain = t.encode("Hello");
  const auto with_bos = t.encode("Hello", true);
  ASSERT_EQ(with_bos.size(), plain.size() + 1);
  EXPECT_EQ(with_bos[0], 1);
}

}  // namespace
}  // namespace moe::io
