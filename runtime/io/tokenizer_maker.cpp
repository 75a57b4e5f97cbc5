// make_tokenizer: builds a small, real tokenizer.json of a family's kind (see the header).
//
// The file has the structure the published checkpoints' tokenizer.json files have (and that the
// Hugging Face tokenizers library writes): same normalizer, pre-tokenizer, post-processor,
// decoder and BPE options, the family's special tokens as added_tokens. The vocabulary is the
// base alphabet plus merges learned with train_bpe from builtin_corpus(), pre-tokenized by the
// very normalizer and pre-tokenizer the file declares.
#include "runtime/io/tokenizer_maker.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

#include "runtime/core/error.h"
#include "runtime/io/tokenizer/bpe_trainer.h"
#include "runtime/io/tokenizer/builtin_corpus.h"
#include "runtime/io/tokenizer/byte_level.h"
#include "runtime/io/tokenizer/json_util.h"
#include "runtime/io/tokenizer/normalizer.h"
#include "runtime/io/tokenizer/pre_tokenizer.h"
#include "runtime/io/tokenizer/utf8.h"

namespace moe::io {

namespace {

using OJson = nlohmann::ordered_json;

// The published Qwen2/Qwen3 and o200k_harmony split regexes (runtime/models/README.md section 5).
constexpr std::string_view kQwenRegex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kO200kRegex =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

constexpr size_t kMaxMerges = 1000;

struct Special {
  std::string content;
  bool special = true;
  bool rstrip = false;
};

// What distinguishes the families' tokenizer.json files.
struct FamilySpec {
  std::string name;
  bool byte_level = true;  // byte alphabet; otherwise SentencePiece-style byte fallback
  OJson normalizer, pre_tokenizer, post_processor, decoder;
  OJson unk_token, continuing_subword_prefix, end_of_word_suffix;  // null or a string
  bool fuse_unk = false, byte_fallback = false, ignore_merges = false;
  std::vector<std::string> leading_specials;  // at ids 0, 1, ... (phimoe <unk> <s> </s>)
  std::vector<Special> trailing_specials;     // after the learned vocabulary, in id order
};

OJson byte_level(bool add_prefix_space, bool trim_offsets, bool use_regex) {
  return {{"type", "ByteLevel"},
          {"add_prefix_space", add_prefix_space},
          {"trim_offsets", trim_offsets},
          {"use_regex", use_regex}};
}

OJson split_regex(std::string_view regex) {
  return {{"type", "Split"},
          {"pattern", {{"Regex", regex}}},
          {"behavior", "Isolated"},
          {"invert", false}};
}

FamilySpec spec_for(Family family) {
  FamilySpec s;
  switch (family) {
    case Family::kQwen3Moe:
      // Qwen2/Qwen3 tokenizer.json: NFC, Split(regex) + ByteLevel(use_regex=false), no BOS.
      s.name = "qwen3_moe";
      s.normalizer = {{"type", "NFC"}};
      s.pre_tokenizer = {{"type", "Sequence"},
                         {"pretokenizers", OJson::array({split_regex(kQwenRegex),
                                                         byte_level(false, false, false)})}};
      s.post_processor = byte_level(false, false, false);
      s.decoder = byte_level(false, false, false);
      s.continuing_subword_prefix = "";
      s.end_of_word_suffix = "";
      // The published file marks <think> and </think> as added but not special (decode with
      // skip_special_tokens keeps them); the im tokens and endoftext are special.
      s.trailing_specials = {{"<|endoftext|>"},
                             {"<|im_start|>"},
                             {"<|im_end|>"},
                             {"<think>", false},
                             {"</think>", false}};
      break;
    case Family::kOlmoe:
      // GPT-NeoX-style: NFC, ByteLevel with the GPT-2 regex; ByteLevel post-processor.
      s.name = "olmoe";
      s.normalizer = {{"type", "NFC"}};
      s.pre_tokenizer = byte_level(false, true, true);
      s.post_processor = byte_level(false, true, true);
      s.decoder = byte_level(false, true, true);
      s.trailing_specials = {{"<|padding|>"}, {"<|endoftext|>"}};
      break;
    case Family::kGptOss:
      // o200k_harmony: Split(o200k regex) + ByteLevel(use_regex=false), ignore_merges.
      s.name = "gpt_oss";
      s.pre_tokenizer = {{"type", "Sequence"},
                         {"pretokenizers", OJson::array({split_regex(kO200kRegex),
                                                         byte_level(false, true, false)})}};
      s.post_processor = byte_level(false, true, false);
      s.decoder = byte_level(false, true, false);
      s.ignore_merges = true;
      // In the published order; "" marks the reserved ids between them (<|reserved_N|>).
      for (const char* t :
           {"<|startoftext|>", "<|endoftext|>", "", "", "<|return|>", "<|constrain|>", "",
            "<|channel|>", "<|start|>", "<|end|>", "<|message|>", "", "", "", "<|call|>"})
        s.trailing_specials.push_back({t});
      break;
    case Family::kPhimoe: {
      // Llama/SentencePiece-style: Prepend + Replace metaspace, byte fallback, <s> template.
      s.name = "phimoe";
      s.byte_level = false;
      s.normalizer = {
          {"type", "Sequence"},
          {"normalizers",
           OJson::array(
               {{{"type", "Prepend"}, {"prepend", "▁"}},
                {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}})}};
      s.pre_tokenizer = nullptr;
      const OJson bos = {{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}};
      s.post_processor = {
          {"type", "TemplateProcessing"},
          {"single", OJson::array({bos, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
          {"pair", OJson::array({bos,
                                 {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                                 {{"SpecialToken", {{"id", "<s>"}, {"type_id", 1}}}},
                                 {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}})},
          {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}};
      s.decoder = {
          {"type", "Sequence"},
          {"decoders",
           OJson::array({{{"type", "Replace"}, {"pattern", {{"String", "▁"}}}, {"content", " "}},
                         {{"type", "ByteFallback"}},
                         {{"type", "Fuse"}},
                         {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}})}};
      s.unk_token = "<unk>";
      s.fuse_unk = true;
      s.byte_fallback = true;
      s.leading_specials = {"<unk>", "<s>", "</s>"};
      // Phi-3.5: chat markers strip the whitespace after them (rstrip).
      s.trailing_specials = {{"<|endoftext|>"},
                             {"<|assistant|>", true, true},
                             {"<|placeholder1|>", true, true},
                             {"<|placeholder2|>", true, true},
                             {"<|placeholder3|>", true, true},
                             {"<|placeholder4|>", true, true},
                             {"<|system|>", true, true},
                             {"<|end|>", true, true},
                             {"<|placeholder5|>", true, true},
                             {"<|placeholder6|>", true, true},
                             {"<|user|>", true, true}};
      break;
    }
  }
  return s;
}

// Splits `text` into UTF-8 characters.
std::vector<std::string> chars_of(std::string_view text) {
  std::vector<std::string> out;
  for (size_t i = 0; i < text.size();) {
    const size_t len = tok::utf8_len(static_cast<unsigned char>(text[i]));
    out.emplace_back(text.substr(i, len));
    i += len;
  }
  return out;
}

// The training words: builtin_corpus() line by line through the file's own normalizer and
// pre-tokenizer (SentencePiece-style files have none: words are split before each "▁").
std::map<std::vector<std::string>, int64_t> training_words(const FamilySpec& spec) {
  const tok::JsonWhere where("make_tokenizer(" + spec.name + ")");
  const auto parse = [](const OJson& j) { return tok::Json::parse(j.dump()); };
  std::unique_ptr<tok::Normalizer> normalizer;
  if (!spec.normalizer.is_null()) normalizer = tok::make_normalizer(parse(spec.normalizer), where);
  std::unique_ptr<tok::PreTokenizer> pre_tokenizer;
  if (!spec.pre_tokenizer.is_null())
    pre_tokenizer = tok::make_pre_tokenizer(parse(spec.pre_tokenizer), where);
  else
    pre_tokenizer = tok::make_pre_tokenizer(
        tok::Json{{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "never"}}, where);

  std::map<std::vector<std::string>, int64_t> words;
  const std::string_view corpus = tok::builtin_corpus();
  for (size_t pos = 0; pos < corpus.size();) {
    size_t end = corpus.find('\n', pos);
    end = end == std::string_view::npos ? corpus.size() : end + 1;
    std::string line(corpus.substr(pos, end - pos));
    pos = end;
    if (normalizer) normalizer->normalize(line);
    std::vector<tok::Piece> pieces{{line, true}};
    pre_tokenizer->pre_tokenize(pieces);
    for (const tok::Piece& p : pieces) ++words[chars_of(p.text)];
  }
  return words;
}

}  // namespace

MadeTokenizer make_tokenizer(Family family, int64_t max_vocab) {
  const FamilySpec spec = spec_for(family);

  // Base alphabet: the 256 byte characters (in code point order, as the library's trainer
  // orders them), or byte-fallback tokens <0x00>..<0xFF> followed by the corpus's characters.
  std::vector<std::string> alphabet;
  const auto words = training_words(spec);
  if (spec.byte_level) {
    std::vector<char32_t> cps;
    for (int b = 0; b < 256; ++b) cps.push_back(tok::byte_to_char(static_cast<unsigned char>(b)));
    std::sort(cps.begin(), cps.end());
    for (char32_t cp : cps) alphabet.push_back(tok::to_utf8(cp));
  } else {
    for (int b = 0; b < 256; ++b) alphabet.push_back(fmt::format("<0x{:02X}>", b));
  }
  const int64_t fixed = static_cast<int64_t>(spec.leading_specials.size() + alphabet.size() +
                                             spec.trailing_specials.size());
  if (max_vocab < fixed + 16)
    throw input_error("make_tokenizer(" + spec.name + "): vocab_size",
                      "expected at least {} ids for the alphabet, special tokens and some merges, "
                      "found {}",
                      fixed + 16, max_vocab);
  int64_t room = max_vocab - fixed;
  if (!spec.byte_level) {
    // Characters of the corpus, most frequent first, taking at most half of the room.
    std::map<std::string, int64_t> freq;
    for (const auto& [w, n] : words)
      for (const std::string& c : w) freq[c] += n;
    std::vector<std::pair<std::string, int64_t>> chars(freq.begin(), freq.end());
    std::stable_sort(chars.begin(), chars.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    const size_t n_chars = std::min(chars.size(), static_cast<size_t>(room / 2));
    for (size_t i = 0; i < n_chars; ++i) alphabet.push_back(chars[i].first);
    room -= static_cast<int64_t>(n_chars);
  }
  const auto trained = tok::train_bpe(words, alphabet, std::min<size_t>(kMaxMerges, room));

  // Vocabulary in id order.
  OJson vocab = OJson::object();
  int32_t next_id = 0;
  for (const std::string& t : spec.leading_specials) vocab[t] = next_id++;
  for (const std::string& t : alphabet) vocab[t] = next_id++;
  for (const std::string& t : trained.new_tokens) vocab[t] = next_id++;
  OJson merges = OJson::array();
  for (const auto& [a, b] : trained.merges) merges.push_back({a, b});

  MadeTokenizer made;
  OJson added = OJson::array();
  auto add_token = [&](int32_t id, const std::string& content, bool special, bool rstrip) {
    added.push_back({{"id", id},
                     {"content", content},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", rstrip},
                     {"normalized", false},
                     {"special", special}});
  };
  for (size_t i = 0; i < spec.leading_specials.size(); ++i) {
    add_token(static_cast<int32_t>(i), spec.leading_specials[i], true, false);
    made.special_ids[spec.leading_specials[i]] = static_cast<int32_t>(i);
  }
  for (const Special& sp : spec.trailing_specials) {
    const int32_t id = next_id++;
    const std::string content =
        sp.content.empty() ? fmt::format("<|reserved_{}|>", id) : sp.content;
    add_token(id, content, sp.special, sp.rstrip);
    if (!sp.content.empty()) made.special_ids[content] = id;
  }

  OJson model = {{"type", "BPE"},
                 {"dropout", nullptr},
                 {"unk_token", spec.unk_token},
                 {"continuing_subword_prefix", spec.continuing_subword_prefix},
                 {"end_of_word_suffix", spec.end_of_word_suffix},
                 {"fuse_unk", spec.fuse_unk},
                 {"byte_fallback", spec.byte_fallback},
                 {"ignore_merges", spec.ignore_merges},
                 {"vocab", std::move(vocab)},
                 {"merges", std::move(merges)}};
  OJson root = {{"version", "1.0"},
                {"truncation", nullptr},
                {"padding", nullptr},
                {"added_tokens", std::move(added)},
                {"normalizer", spec.normalizer},
                {"pre_tokenizer", spec.pre_tokenizer},
                {"post_processor", spec.post_processor},
                {"decoder", spec.decoder},
                {"model", std::move(model)}};
  made.tokenizer_json = root.dump(2, ' ', false);
  made.size = next_id;
  MOE_ASSERT(made.size <= max_vocab, "made tokenizer uses {} ids, more than {}", made.size,
             max_vocab);
  return made;
}

}  // namespace moe::io
