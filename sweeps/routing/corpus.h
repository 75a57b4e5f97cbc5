// Routing corpora: the texts whose routing statistics are collected (sweeps/METHODS.md A and E),
// one text per sequence in corpus order, read with the task loaders of sweeps/tasks/.
//
// Formats (`format` of a corpus):
//   flores    FLORES-200 text files {code}.{split} under `path` (tasks::load_flores; any number
//             of sentences), parallel across languages
//   belebele  Belebele JSONL; the sequences are the distinct FLORES passages in file order (rows
//             deduplicated by `link`, first occurrence kept), parallel across languages
//   gsm8k     GSM8K JSONL; `field`: question (default) | answer | question_answer
//   jsonl     JSON Lines; `field` names the string field of each row (default "text")
//   text      plain text, one sequence per non-blank line
// `path`: flores: the directory of the files; belebele: a directory holding {flores code}.jsonl
// or a file path; others: a file path. A path may contain {language} (the language as written
// in the config) and {flores} (its FLORES code from the language table); without a placeholder
// every language reads the same file.
// Languages map through the one language table (tasks::language) wherever a file is named by
// language (flores, belebele, {flores}).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace moe::corpus {

struct CorpusSource {
  std::string format;          // flores | belebele | gsm8k | jsonl | text
  std::filesystem::path path;  // see above
  std::string split = "dev";   // flores: dev | devtest
  std::string field;           // gsm8k / jsonl: which text (defaults above)
  std::string where;           // names the corpus in errors ("configs/a.yaml: corpora.flores")
};

// flores and belebele: sequence i of every language is the same content.
bool is_parallel(std::string_view format);

// Throws InputError (naming source.where or the file) for an unknown format or language, a
// missing file or bad rows.
std::vector<std::string> load_texts(const CorpusSource& source, const std::string& language);

// The file `path` names for `language` ({language}, {flores} substituted).
std::filesystem::path resolve_path(const std::filesystem::path& path, const std::string& language);

}  // namespace moe::corpus
