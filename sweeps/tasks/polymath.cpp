#include "sweeps/tasks/polymath.h"

#include "runtime/core/error.h"

namespace moe::tasks {

namespace {
constexpr const char* kLevels[] = {"low", "medium", "high", "top"};
}

PolymathLevel parse_polymath_level(std::string_view name, const std::string& where) {
  for (int i = 0; i < 4; ++i)
    if (name == kLevels[i]) return PolymathLevel(i);
  throw input_error(where, "expected a PolyMath level (low, medium, high, top), found '{}'", name);
}

const char* polymath_level_name(PolymathLevel level) {
  return kLevels[int(level)];
}

std::vector<PolymathSample> load_polymath_jsonl(const std::filesystem::path& path) {
  return parse_polymath_jsonl(DatasetFile::read(path));
}

std::vector<PolymathSample> parse_polymath_jsonl(const DatasetFile& file) {
  std::vector<PolymathSample> out;
  for_each_jsonl_object(file, [&](const JsonObject& row) {
    PolymathSample s{row.string_or_number("id"), row.string("question"),
                     row.string_or_number("answer")};
    if (s.answer.empty())
      throw input_error(row.where("answer"), "expected a gold answer, found an empty string");
    out.push_back(std::move(s));
  });
  if (out.empty()) throw input_error(file.name(), "expected PolyMath problems, found none");
  return out;
}

}  // namespace moe::tasks
