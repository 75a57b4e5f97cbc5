// XQuAD (SQuAD v1.1 questions translated into 11 languages; extractive QA).
//
// File: the SQuAD v1.1 JSON document (xquad.{lang}.json): {"data": [{"title", "paragraphs":
// [{"context", "qas": [{"id", "question", "answers": [{"answer_start", "text"}]}]}]}]}.
// Samples are flattened in file order; a question without answers, or a field of the wrong type,
// is an InputError naming the file and the key path (data[3].paragraphs[0].qas[2].answers).
// Prompt: "{context}\n\n{question}\n\n{answer-directly instruction}" with the localised
// instruction of languages.h (the layout is moe-sweep's; sweeps/METHODS.md D fixes only the parts).
// Scores, each the maximum over the gold answers, in [0, 1]:
//   exact_match, f1: the official SQuAD v1.1 evaluation: normalise = lower-case, drop ASCII
//     punctuation, drop the words a/an/the (Unicode word boundaries), collapse whitespace; F1 over
//     whitespace tokens (0 when no token is shared). Unsegmented scripts (zh, th) therefore get
//     whole-span tokens, as the official script gives them.
//   containment (second study): 1 if the normalised gold occurs in the normalised prediction or
//     the prediction in the gold; an empty (normalised) prediction or gold scores 0.
// Thread-safety: pure functions.
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sweeps/tasks/dataset_file.h"
#include "sweeps/tasks/languages.h"

namespace moe::tasks {

struct XquadSample {
  std::string id;
  std::string title;
  std::string context;
  std::string question;
  std::vector<std::string> answers;
};

std::vector<XquadSample> load_xquad_json(const std::filesystem::path& path);
std::vector<XquadSample> parse_xquad_json(const DatasetFile& file);

std::string xquad_prompt(const Language& lang, const XquadSample& s);

std::string squad_normalize(std::string_view text);

struct QaScore {
  double exact_match = 0;
  double f1 = 0;
  double containment = 0;
};
QaScore score_qa(std::string_view prediction, std::span<const std::string> golds);

}  // namespace moe::tasks
