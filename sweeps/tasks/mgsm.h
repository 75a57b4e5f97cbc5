// MGSM (250 grade-school math problems in bn de en es fr ja ru sw te th zh): the native TSV
// loader, the two evaluation variants of sweeps/METHODS.md D, and their scorers.
//
// File: mgsm_{lang}.tsv, no header, one problem per line: question TAB answer_number. Answers may
// carry thousands commas ("1,000"). Blank lines are skipped; any other line without exactly one
// tab is an InputError naming the file, line and byte.
//
// `direct` (first study; EleutherAI evaluation harness, mgsm_direct):
//   prompt   = exemplar "\n\n" exemplar "\n\n" ... target, where each block is
//              "{question label} {question}\n{answer label}" and an exemplar adds
//              " {answer_number}". Labels come from the harness per language (languages.h):
//              "Question:"/"Answer:" in English, "Frage:"/"Antwort:" in German, "问题："/"Answer:"
//              in Chinese, ...
//   exemplars = mgsm_exemplar_indices(): `shots` (default 2) indices drawn with a fixed seed
//              from a pool of parallel problems, so every language gets the same problems. When
//              the pool is the evaluated file itself, those indices must be left out of the
//              evaluation (mgsm_evaluation_indices()).
//   stop     = "\n\n", "\n", the question label (plus the model's end-of-turn, added by the
//   engine). score    = exact match of the LAST match of (-?[$0-9.,]{2,})|(-?[0-9]+) in the output
//   with
//              the gold answer, both after removing commas, "$", surrounding spaces and one
//              trailing "." and lower-casing. No match: "[invalid]", incorrect. (The harness
//              additionally ignores all punctuation, which would also drop a minus sign and a
//              decimal point; moe-sweep keeps them: sweeps/METHODS.md D.)
// `boxed` (second study): the chat user message is question + "\n" + the localised \boxed{}
//   instruction; the answer is scored with score_boxed() (answers.h).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sweeps/tasks/dataset_file.h"
#include "sweeps/tasks/languages.h"

namespace moe::tasks {

struct MgsmSample {
  std::string question;
  std::string answer;  // answer_number as written in the file
};

std::vector<MgsmSample> load_mgsm_tsv(const std::filesystem::path& path);
std::vector<MgsmSample> parse_mgsm_tsv(const DatasetFile& file);

struct MgsmDirectOptions {
  int shots = 2;
  uint64_t seed = 1234;
};

// `shots` distinct indices of [0, pool_size), drawn with options.seed (order = prompt order).
// Throws InputError if the pool is smaller than `shots`.
std::vector<size_t> mgsm_exemplar_indices(size_t pool_size, const MgsmDirectOptions& options);
// [0, n) without the exemplar indices.
std::vector<size_t> mgsm_evaluation_indices(size_t n, std::span<const size_t> exemplars);

std::string mgsm_direct_prompt(const Language& lang, std::span<const MgsmSample> exemplars,
                               std::string_view question);
std::vector<std::string> mgsm_direct_stop_sequences(const Language& lang);

struct MgsmDirectScore {
  std::string extracted;  // normalised; "[invalid]" when nothing matched
  bool correct = false;
};
MgsmDirectScore score_mgsm_direct(std::string_view generated, std::string_view gold);

// The user message of the `boxed` variant (also PolyMath's): question + "\n" + instruction.
std::string boxed_user_message(const Language& lang, std::string_view question);

}  // namespace moe::tasks
