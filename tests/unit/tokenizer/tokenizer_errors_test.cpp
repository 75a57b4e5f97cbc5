// Bad tokenizer.json files and bad input text: an InputError whose message names the file, the
// key path (or byte offset), what was expected and what was found.
#include <gtest/gtest.h>

#include <string>

#include "runtime/core/error.h"
#include "runtime/io/tokenizer.h"

namespace moe::io {
namespace {

// A valid minimal byte-level BPE file with `patch` spliced in as extra top-level keys.
std::string minimal(const std::string& model, const std::string& extra = "") {
  return R"({"version": "1.0", "added_tokens": [], )" + extra + R"("model": )" + model + "}";
}
const std::string kModel =
    R"({"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]})";

std::string error_of(const std::string& json) {
  try {
    Tokenizer::from_json(json, "tok.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST(TokenizerErrors, UnknownModelTypeNamesKeyAndType) {
  EXPECT_EQ(error_of(minimal(R"({"type": "WordPiece", "vocab": {}})")),
            "tok.json: model.type: expected BPE, found WordPiece");
}

TEST(TokenizerErrors, InvalidJsonNamesTheByteOffset) {
  const std::string msg = error_of(R"({"version": "1.0", "model": {"type": "BPE",})");
  EXPECT_EQ(msg,
            "tok.json: byte 43 (line 1, column 44): expected valid JSON, found syntax error while "
            "parsing object key - unexpected '}'; expected string literal");
}

TEST(TokenizerErrors, UnsupportedComponentsNameTheirKey) {
  EXPECT_EQ(error_of(minimal(kModel, R"("normalizer": {"type": "Precompiled"}, )")),
            "tok.json: normalizer.type: expected one of NFC, NFD, NFKC, NFKD, Lowercase, Strip, "
            "StripAccents, Prepend, Replace, ByteLevel, Sequence, found Precompiled");
  const std::string pre = error_of(minimal(
      kModel,
      R"("pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "UnicodeScripts"}]}, )"));
  EXPECT_EQ(pre.rfind("tok.json: pre_tokenizer.pretokenizers[0].type: expected one of Split", 0),
            0u)
      << pre;
  EXPECT_NE(pre.find("found UnicodeScripts"), std::string::npos);
  const std::string dec = error_of(minimal(kModel, R"("decoder": {"type": "CTC"}, )"));
  EXPECT_EQ(dec.rfind("tok.json: decoder.type: expected one of ByteLevel", 0), 0u) << dec;
}

TEST(TokenizerErrors, MergeOfUnknownTokenNamesTheMerge) {
  EXPECT_EQ(
      error_of(minimal(R"({"type": "BPE", "vocab": {"a": 0}, "merges": [["a", "z"]]})")),
      "tok.json: model.merges[0]: expected tokens of the vocab, found 'z' which is not in it");
  EXPECT_EQ(error_of(minimal(R"({"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]})")),
            "tok.json: model.merges[0]: expected the merged token 'ab' in the vocab, found no such "
            "token");
  EXPECT_EQ(error_of(minimal(R"({"type": "BPE", "vocab": {"a": 0}, "merges": ["a b c"]})")),
            "tok.json: model.merges[0]: expected two tokens separated by one space, found 'a b c'");
}

TEST(TokenizerErrors, BadValuesNameTheirKey) {
  EXPECT_EQ(error_of(minimal(R"({"type": "BPE", "vocab": {"a": -1}, "merges": []})")),
            "tok.json: model.vocab.a: expected a token id in [0, 2^31), found the number -1");
  EXPECT_EQ(
      error_of(
          minimal(
              kModel,
              R"("pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(a"}, "behavior": "Isolated", "invert": false}, )"))
          .rfind("tok.json: pre_tokenizer.pattern: expected a regular expression, found '(a'", 0),
      0u);
  EXPECT_EQ(
      error_of(minimal(
          kModel,
          R"("pre_tokenizer": {"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Sideways", "invert": false}, )")),
      "tok.json: pre_tokenizer.behavior: expected Removed, Isolated, MergedWithPrevious, "
      "MergedWithNext or Contiguous, found 'Sideways'");
  EXPECT_EQ(
      error_of(minimal(
          kModel, R"("decoder": {"type": "Strip", "content": "ab", "start": 1, "stop": 0}, )")),
      "tok.json: decoder.content: expected a single character, found 'ab'");
  EXPECT_EQ(error_of(R"({"version": "2.0", "model": {}})"),
            "tok.json: version: expected \"1.0\", found '2.0'");
  EXPECT_EQ(error_of(R"({"version": "1.0"})"), "tok.json: expected key 'model', found no such key");
  EXPECT_EQ(
      error_of(minimal(
          kModel,
          R"("post_processor": {"type": "TemplateProcessing", "single": ["<s>", "$A"], "special_tokens": {}}, )")),
      "tok.json: post_processor.single[0]: expected a token listed in special_tokens, found "
      "'<s>'");
}

TEST(TokenizerErrors, MissingFileNamesIt) {
  try {
    Tokenizer::load("/nonexistent/dir/tokenizer.json");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              "/nonexistent/dir/tokenizer.json: expected a readable tokenizer.json, found none");
  }
}

TEST(TokenizerErrors, InvalidUtf8TextNamesTheOffset) {
  const Tokenizer tok = Tokenizer::from_json(minimal(kModel), "tok.json");
  try {
    tok.encode(std::string("ab\xC3(", 4));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              "tok.json: input text: expected UTF-8, found an invalid byte at offset 2");
  }
}

TEST(TokenizerErrors, UnknownCharacterWithoutUnkTokenIsDroppedAsInTheLibrary) {
  // The library drops characters it cannot represent when there is no unk_token/byte_fallback.
  const Tokenizer tok = Tokenizer::from_json(minimal(kModel), "tok.json");
  EXPECT_EQ(tok.encode("abzab"), (std::vector<int32_t>{2, 2}));
}

}  // namespace
}  // namespace moe::io
