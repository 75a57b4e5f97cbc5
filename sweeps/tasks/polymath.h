// PolyMath (QwenLM/PolyMath: 18 languages x 4 levels x 125 problems).
//
// File: JSON Lines, one object per line with "id", "question" and "answer" (id and answer may be
// strings or numbers). The level (low, medium, high, top) is not in the rows; it comes from the
// file the caller chose (parse_polymath_level for the name).
// Prompt: the chat user message question + "\n" + the localised \boxed{} instruction
// (boxed_user_message, mgsm.h). Score: score_boxed (answers.h): numeric and normalised-string
// equivalence; answers that would need symbolic equivalence are UNSCORABLE and tallied apart
// (VerdictTally), never counted as right or wrong.
// Thread-safety: pure functions.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "sweeps/tasks/dataset_file.h"

namespace moe::tasks {

enum class PolymathLevel { low, medium, high, top };
// "low" | "medium" | "high" | "top"; anything else is an InputError naming `where`.
PolymathLevel parse_polymath_level(std::string_view name, const std::string& where);
const char* polymath_level_name(PolymathLevel level);

struct PolymathSample {
  std::string id;
  std::string question;
  std::string answer;
};

std::vector<PolymathSample> load_polymath_jsonl(const std::filesystem::path& path);
std::vector<PolymathSample> parse_polymath_jsonl(const DatasetFile& file);

}  // namespace moe::tasks
