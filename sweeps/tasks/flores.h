// FLORES-200 (997 dev / 1012 devtest sentences, parallel across 200 languages): the routing
// corpus of the divergence analyses, and an English-to-X translation task scored with chrF.
//
// Files: one sentence per line, named {code}.dev / {code}.devtest by the FLORES code of the
// language table (eng_Latn.dev; FLORES+'s cmn_Hans accepted for zho_Hans), either directly in
// the given directory or in its dev/ and devtest/ sub-directories (the flores200_dataset layout).
// An empty line inside the file is an InputError (line and byte); so is a sentence count other
// than 997/1012 unless `require_standard_size` is off (small test corpora).
// Translation prompt (sweeps/METHODS.md D):
//   "Translate the following English text into {Name}.\nEnglish: {text}\n\n{Name}:"
// Thread-safety: pure functions.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "sweeps/tasks/dataset_file.h"
#include "sweeps/tasks/languages.h"

namespace moe::tasks {

enum class FloresSplit { dev, devtest };
const char* flores_split_name(FloresSplit split);  // "dev" | "devtest"
int flores_standard_size(FloresSplit split);       // 997 | 1012

struct FloresOptions {
  bool require_standard_size = true;
};

// The file of a language and split under `dir`. Throws InputError listing the paths tried.
std::filesystem::path flores_file(const std::filesystem::path& dir, const Language& lang,
                                  FloresSplit split);
std::vector<std::string> load_flores(const std::filesystem::path& dir, const Language& lang,
                                     FloresSplit split, const FloresOptions& options = {});
std::vector<std::string> parse_flores(const DatasetFile& file, FloresSplit split,
                                      const FloresOptions& options = {});

std::string flores_translation_prompt(const Language& target, std::string_view english);

}  // namespace moe::tasks
