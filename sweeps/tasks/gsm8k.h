// GSM8K (English grade-school math; the first study's in-domain math corpus for task experts).
//
// File: JSON Lines, one object per line with "question" and "answer", where the answer is the
// worked solution ending in "#### <number>". The number after the LAST "####" (commas removed)
// is the gold answer; a row without "####" or with a non-number after it is an InputError naming
// the file, line and byte.
// Thread-safety: pure functions.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "sweeps/tasks/dataset_file.h"

namespace moe::tasks {

struct Gsm8kSample {
  std::string question;
  std::string solution;  // the "answer" field as written, "####" line included
  std::string answer;    // the final number, commas removed ("1000")
};

std::vector<Gsm8kSample> load_gsm8k_jsonl(const std::filesystem::path& path);
std::vector<Gsm8kSample> parse_gsm8k_jsonl(const DatasetFile& file);

}  // namespace moe::tasks
