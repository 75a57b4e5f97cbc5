#include "sweeps/tasks/flores.h"

#include <fmt/format.h>

#include "runtime/core/error.h"

namespace moe::tasks {

const char* flores_split_name(FloresSplit split) {
  return split == FloresSplit::dev ? "dev" : "devtest";
}

int flores_standard_size(FloresSplit split) {
  return split == FloresSplit::dev ? 997 : 1012;
}

std::filesystem::path flores_file(const std::filesystem::path& dir, const Language& lang,
                                  FloresSplit split) {
  const std::string s = flores_split_name(split);
  std::vector<std::filesystem::path> tried;
  for (std::string_view code : {lang.flores, lang.flores_alias}) {
    if (code.empty()) continue;
    const std::string name = fmt::format("{}.{}", code, s);
    for (const auto& p : {dir / name, dir / s / name}) {
      if (std::filesystem::is_regular_file(p)) return p;
      tried.push_back(p);
    }
  }
  std::string list;
  for (const auto& p : tried) list += (list.empty() ? "" : ", ") + p.string();
  throw input_error(dir.string(), "expected the FLORES {} file of '{}' ({}), found none", s,
                    lang.code, list);
}

std::vector<std::string> load_flores(const std::filesystem::path& dir, const Language& lang,
                                     FloresSplit split, const FloresOptions& options) {
  return parse_flores(DatasetFile::read(flores_file(dir, lang, split)), split, options);
}

std::vector<std::string> parse_flores(const DatasetFile& file, FloresSplit split,
                                      const FloresOptions& options) {
  std::vector<std::string> out;
  for (const auto& line : file.lines()) {
    if (line.text.empty())
      throw input_error(file.where(line), "expected one sentence per line, found an empty line");
    out.emplace_back(line.text);
  }
  if (options.require_standard_size && int(out.size()) != flores_standard_size(split))
    throw input_error(file.name(), "expected {} FLORES {} sentences, found {}",
                      flores_standard_size(split), flores_split_name(split), out.size());
  if (out.empty()) throw input_error(file.name(), "expected FLORES sentences, found none");
  return out;
}

std::string flores_translation_prompt(const Language& target, std::string_view english) {
  return fmt::format(
      "Translate the following English text into {0}.\nEnglish: {1}\n\n{0}:", target.name, english);
}

}  // namespace moe::tasks
