#include "sweeps/tasks/belebele.h"

#include <fmt/format.h>

#include "runtime/core/error.h"

namespace moe::tasks {

std::vector<BelebeleSample> load_belebele_jsonl(const std::filesystem::path& path) {
  return parse_belebele_jsonl(DatasetFile::read(path));
}

std::vector<BelebeleSample> parse_belebele_jsonl(const DatasetFile& file) {
  std::vector<BelebeleSample> out;
  for_each_jsonl_object(file, [&](const JsonObject& row) {
    BelebeleSample s;
    s.link = row.string("link");
    s.question_number = int(row.integer_or_digits("question_number"));
    s.passage = row.string("flores_passage");
    s.question = row.string("question");
    for (int i = 0; i < 4; ++i) s.answers[i] = row.string(fmt::format("mc_answer{}", i + 1));
    const int64_t num = row.integer_or_digits("correct_answer_num");
    if (num < 1 || num > 4)
      throw input_error(row.where("correct_answer_num"),
                        "expected 1, 2, 3 or 4 (1-based), found {}", num);
    s.correct = int(num - 1);
    out.push_back(std::move(s));
  });
  if (out.empty()) throw input_error(file.name(), "expected Belebele questions, found none");
  return out;
}

std::string belebele_prompt(const BelebeleSample& s) {
  return fmt::format("P: {}\nQ: {}\nA: {}\nB: {}\nC: {}\nD: {}\nAnswer:", s.passage, s.question,
                     s.answers[0], s.answers[1], s.answers[2], s.answers[3]);
}

}  // namespace moe::tasks
