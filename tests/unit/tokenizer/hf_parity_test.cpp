// Parity with the Hugging Face tokenizers library: tests/data/tokenizers/*.expected.json hold the
// library's ids and decode() output for a multilingual test text and each of its lines
// (tools/make_tokenizer_fixtures.py). Every id and every decoded string must match exactly.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/io/tokenizer.h"
#include "runtime/io/tokenizer_maker.h"

namespace moe::io {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path data_dir() {
  return fs::path(MOE_SOURCE_DIR) / "tests/data/tokenizers";
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json read_json(const fs::path& p) {
  return json::parse(read_file(p));
}

// Compares every case of an expected file; returns how many cases round-trip.
int check_cases(const Tokenizer& tok, const json& expected) {
  int lossless = 0;
  for (const json& c : expected.at("cases")) {
    const std::string text = c.at("text");
    SCOPED_TRACE("text: " + text.substr(0, 60));
    const auto ids = tok.encode(text);
    EXPECT_EQ(ids, c.at("ids").get<std::vector<int32_t>>());
    const auto ids_special = c.contains("ids_with_special_tokens")
                                 ? c.at("ids_with_special_tokens").get<std::vector<int32_t>>()
                                 : c.at("ids").get<std::vector<int32_t>>();
    EXPECT_EQ(tok.encode(text, /*add_special_tokens=*/true), ids_special);
    const std::string decoded = c.value("decoded", text);  // absent: decode gives the text back
    EXPECT_EQ(tok.decode(ids), decoded);
    EXPECT_EQ(tok.decode(ids, /*skip_special_tokens=*/true),
              c.value("decoded_skip_special", decoded));
    // Where the library's round trip is lossless, ours is too.
    if (decoded == text) {
      EXPECT_EQ(tok.decode(tok.encode(text)), text);
      ++lossless;
    }
  }
  return lossless;
}

class HfParity : public ::testing::TestWithParam<std::string> {};

TEST_P(HfParity, IdsAndDecodeMatchTheLibrary) {
  const json expected = read_json(data_dir() / (GetParam() + ".expected.json"));
  const Tokenizer tok = Tokenizer::load(data_dir() / expected.at("tokenizer").get<std::string>());
  const int lossless = check_cases(tok, expected);
  // The byte-level kinds without a normalizer are lossless on (almost) every case.
  if (GetParam() == "o200k_regex") {
    EXPECT_EQ(lossless, static_cast<int>(expected.at("cases").size()));
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, HfParity,
                         ::testing::Values("qwen2_regex", "gpt2_bytelevel", "o200k_regex",
                                           "sentencepiece_bytefallback", "metaspace_first",
                                           "suffix_wordlike", "split_behaviours",
                                           "whitespace_bytefallback"));

uint64_t fnv1a64(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

// The tokenizer.json files make_tokenizer() makes: the library loads them (the fixture script
// did) and encodes the test text to the ids recorded here. Also writes them to
// <build>/made_tokenizers/ so that tools/make_tokenizer_fixtures.py --made-dir can regenerate.
class MadeParity : public ::testing::TestWithParam<std::pair<Family, std::string>> {};

TEST_P(MadeParity, MatchesTheLibrary) {
  const auto& [family, name] = GetParam();
  constexpr int64_t kMaxVocab = 2048;  // the fixture script records the same value
  const MadeTokenizer made = make_tokenizer(family, kMaxVocab);
  const char* bin = std::getenv("MOE_BINARY_DIR");
  const fs::path out_dir = fs::path(bin ? bin : ".") / "made_tokenizers";
  fs::create_directories(out_dir);
  std::ofstream(out_dir / (name + ".json"), std::ios::binary) << made.tokenizer_json;

  const json expected = read_json(data_dir() / ("made_" + name + ".expected.json"));
  ASSERT_EQ(expected.at("max_vocab").get<int64_t>(), kMaxVocab);

  char hash[17];
  std::snprintf(hash, sizeof(hash), "%016llx",
                static_cast<unsigned long long>(fnv1a64(made.tokenizer_json)));
  ASSERT_EQ(std::string(hash), expected.at("fnv1a64").get<std::string>())
      << "make_tokenizer's output changed; regenerate the fixture with "
         "tools/make_tokenizer_fixtures.py --made-dir "
      << out_dir.string();
  check_cases(Tokenizer::from_json(made.tokenizer_json, name), expected);
}

INSTANTIATE_TEST_SUITE_P(Families, MadeParity,
                         ::testing::Values(std::make_pair(Family::kQwen3Moe, "qwen3_moe"),
                                           std::make_pair(Family::kOlmoe, "olmoe"),
                                           std::make_pair(Family::kGptOss, "gpt_oss"),
                                           std::make_pair(Family::kPhimoe, "phimoe")),
                         [](const auto& info) { return info.param.second; });

}  // namespace
}  // namespace moe::io
