#include "sweeps/tasks/gsm8k.h"

#include <algorithm>

#include "runtime/core/error.h"
#include "sweeps/tasks/answers.h"
#include "sweeps/tasks/text.h"

namespace moe::tasks {

std::vector<Gsm8kSample> load_gsm8k_jsonl(const std::filesystem::path& path) {
  return parse_gsm8k_jsonl(DatasetFile::read(path));
}

std::vector<Gsm8kSample> parse_gsm8k_jsonl(const DatasetFile& file) {
  std::vector<Gsm8kSample> out;
  for_each_jsonl_object(file, [&](const JsonObject& row) {
    Gsm8kSample s{row.string("question"), row.string("answer"), {}};
    const size_t marker = s.solution.rfind("####");
    if (marker == std::string::npos)
      throw input_error(row.where("answer"),
                        "expected a solution ending in '#### <number>', "
                        "found no '####'");
    std::string number = trim(std::string_view(s.solution).substr(marker + 4));
    number.erase(std::remove(number.begin(), number.end(), ','), number.end());
    if (!parse_numeric_answer(number) || number.find_first_of("/\\%$") != std::string::npos)
      throw input_error(row.where("answer"), "expected a number after '####', found '{}'", number);
    s.answer = std::move(number);
    out.push_back(std::move(s));
  });
  if (out.empty()) throw input_error(file.name(), "expected GSM8K problems, found none");
  return out;
}

}  // namespace moe::tasks
