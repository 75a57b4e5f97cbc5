// Belebele (FLORES passages with 4-way reading-comprehension questions, 122 languages).
//
// File: JSON Lines (the dataset's {lang}.jsonl), one object per line with link, question_number,
// flores_passage, question, mc_answer1..mc_answer4 and correct_answer_num, which is 1-based and
// may be written as a number or a string ("2"). Other fields (dialect, ds) are ignored.
// Prompt (sweeps/METHODS.md D):
// "P: {passage}\nQ: {question}\nA: {1}\nB: {2}\nC: {3}\nD: {4}\nAnswer:"; the prediction is the
// argmax over " A".." D" (multiple_choice.h).
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include "sweeps/tasks/dataset_file.h"

namespace moe::tasks {

struct BelebeleSample {
  std::string link;
  int question_number = 0;
  std::string passage;
  std::string question;
  std::array<std::string, 4> answers;
  int correct = 0;  // 0-based (correct_answer_num - 1)
};

std::vector<BelebeleSample> load_belebele_jsonl(const std::filesystem::path& path);
std::vector<BelebeleSample> parse_belebele_jsonl(const DatasetFile& file);

std::string belebele_prompt(const BelebeleSample& s);

}  // namespace moe::tasks
