#include "sweeps/routing/corpus.h"

#include <unordered_set>

#include "runtime/core/error.h"
#include "sweeps/tasks/belebele.h"
#include "sweeps/tasks/dataset_file.h"
#include "sweeps/tasks/flores.h"
#include "sweeps/tasks/gsm8k.h"
#include "sweeps/tasks/languages.h"
#include "sweeps/tasks/text.h"

namespace moe::corpus {

namespace {

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
}

std::vector<std::string> belebele_passages(const std::filesystem::path& file) {
  std::vector<std::string> out;
  std::unordered_set<std::string> links;
  for (const tasks::BelebeleSample& s : tasks::load_belebele_jsonl(file))
    if (links.insert(s.link).second) out.push_back(s.passage);
  return out;
}

std::vector<std::string> gsm8k_texts(const std::filesystem::path& file, const std::string& field,
                                     const std::string& where) {
  const std::string f = field.empty() ? "question" : field;
  if (f != "question" && f != "answer" && f != "question_answer")
    throw input_error(where + ".field", "expected question, answer or question_answer, found '{}'",
                      f);
  std::vector<std::string> out;
  for (const tasks::Gsm8kSample& s : tasks::load_gsm8k_jsonl(file))
    out.push_back(f == "question" ? s.question
                  : f == "answer" ? s.solution
                                  : s.question + "\n" + s.solution);
  return out;
}

std::vector<std::string> jsonl_texts(const std::filesystem::path& file, const std::string& field) {
  const std::string f = field.empty() ? "text" : field;
  std::vector<std::string> out;
  tasks::for_each_jsonl_object(tasks::DatasetFile::read(file),
                               [&](const tasks::JsonObject& row) { out.push_back(row.string(f)); });
  return out;
}

std::vector<std::string> text_lines(const std::filesystem::path& file) {
  std::vector<std::string> out;
  const tasks::DatasetFile text = tasks::DatasetFile::read(file);
  for (const auto& line : text.lines())
    if (!tasks::trim(line.text).empty()) out.emplace_back(line.text);
  return out;
}

}  // namespace

bool is_parallel(std::string_view format) { return format == "flores" || format == "belebele"; }

std::filesystem::path resolve_path(const std::filesystem::path& path, const std::string& language) {
  std::string p = path.string();
  if (p.find("{flores}") != std::string::npos)
    replace_all(p, "{flores}", tasks::language(language).flores);
  replace_all(p, "{language}", language);
  return p;
}

std::vector<std::string> load_texts(const CorpusSource& source, const std::string& language) {
  const std::filesystem::path path = resolve_path(source.path, language);
  std::vector<std::string> texts;
  if (source.format == "flores") {
    tasks::FloresSplit split;
    if (source.split == "dev")
      split = tasks::FloresSplit::dev;
    else if (source.split == "devtest")
      split = tasks::FloresSplit::devtest;
    else
      throw input_error(source.where + ".split", "expected dev or devtest, found '{}'",
                        source.split);
    tasks::FloresOptions o;
    o.require_standard_size = false;  // small corpora are fine; pairing checks equal counts
    texts = tasks::load_flores(path, tasks::language(language), split, o);
  } else if (source.format == "belebele") {
    const std::filesystem::path file =
        std::filesystem::is_directory(path)
            ? path / (std::string(tasks::language(language).flores) + ".jsonl")
            : path;
    texts = belebele_passages(file);
  } else if (source.format == "gsm8k") {
    texts = gsm8k_texts(path, source.field, source.where);
  } else if (source.format == "jsonl") {
    texts = jsonl_texts(path, source.field);
  } else if (source.format == "text") {
    texts = text_lines(path);
  } else {
    throw input_error(source.where + ".format",
                      "expected flores, belebele, gsm8k, jsonl or text, found '{}'",
                      source.format);
  }
  if (texts.empty()) throw input_error(path.string(), "expected at least one text, found none");
  for (size_t i = 0; i < texts.size(); ++i)
    if (tasks::trim(texts[i]).empty())
      throw input_error(path.string(), "expected a non-empty text for sequence {}, found '{}'", i,
                        texts[i]);
  return texts;
}

}  // namespace moe::corpus
