// Evaluation tasks as the evaluator sees them (sweeps/METHODS.md D): a task's kind, files and
// options, and the prepared samples of one language (prompt text, gold answer), built from the
// loaders, prompt builders and selections of sweeps/tasks/.
//
// Files. `path` is a file, a directory, or a template with {lang} (and, for PolyMath, {level}).
// {lang} is tried with each code of the language's row (canonical "de", FLORES "deu_Latn", the
// FLORES+ alias); a directory is searched for the dataset's native names:
//   mgsm      mgsm_{lang}.tsv, {lang}.tsv
//   gmmlu     {lang}.jsonl, {lang}.csv, test/{lang}.jsonl, test/{lang}.csv
//   belebele  {lang}.jsonl
//   xquad     xquad.{lang}.json, {lang}.json
//   polymath  {lang}/{level}.jsonl, {level}/{lang}.jsonl, {lang}_{level}.jsonl
//   flores    {code}.{split} in the directory or its {split}/ sub-directory (flores.h)
// A missing file is an InputError listing every path tried.
//
// Options (keys of the task's YAML mapping, given to parse_task_options as JSON; unknown keys and
// keys of another kind are InputErrors naming the key):
//   variant          mgsm: direct (default) | boxed
//   shots, shot_seed mgsm direct: exemplars (2) drawn with seed 1234 (mgsm.h) from `exemplars`
//   exemplars        mgsm direct: the pool (file or template, default the evaluated file, whose
//                    exemplar rows are then left out of the evaluation)
//   subjects         gmmlu: a subset of the 7 medical subjects (default all)
//   per_subject      gmmlu: 60;  sample_seed: gmmlu's selection seed (2025)
//   level            polymath: low (default) | medium | high | top
//   split            flores: dev | devtest (default);  source_language: flores source (en)
//   standard_size    flores: require 997/1012 sentences (default true)
//   chat             wrap the prompt in the family's chat template; default true for mgsm boxed,
//                    polymath, xquad and flores, false for mgsm direct, gmmlu and belebele
//                    (loglikelihood tasks are never chat)
//   thinking         qwen3 enable_thinking (default false, as the studies)
//   reasoning_effort gpt_oss harmony (low);  chat_date: harmony "Current date" (default today)
//   max_new_tokens   default: mgsm direct 256, xquad 256, flores 512, boxed/polymath 4096
//   sampling         {temperature, top_p, top_k, seed}: seeded sampling instead of greedy
//                    (the second study: {temperature: 0.7, top_p: 0.8, top_k: 20})
// Thread-safety: pure functions and value types.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace moe::eval {

enum class TaskKind { kMgsm, kGmmlu, kBelebele, kXquad, kPolymath, kFlores };
std::string_view task_kind_name(TaskKind k);  // "mgsm", "gmmlu", ...
TaskKind parse_task_kind(std::string_view name, const std::string& where);

struct SamplingConfig {
  bool greedy = true;
  double temperature = 1.0;
  double top_p = 1.0;
  int top_k = 0;
  uint64_t seed = 0;  // mixed with each sample's index: every sample has its own stream
};

struct TaskOptions {
  std::string variant = "direct";
  int shots = 2;
  uint64_t shot_seed = 1234;
  std::filesystem::path exemplars;
  std::vector<std::string> subjects;
  int per_subject = 60;
  uint64_t sample_seed = 2025;
  std::string level = "low";
  std::string split = "devtest";
  std::string source_language = "en";
  bool standard_size = true;
  std::optional<bool> chat;
  bool thinking = false;
  std::string reasoning_effort = "low";
  std::string chat_date;
  int max_new_tokens = 0;  // 0: the task's default
  SamplingConfig sampling;
};

struct TaskConfig {
  std::string name;  // label in results
  TaskKind kind = TaskKind::kMgsm;
  std::filesystem::path path;
  TaskOptions options;

  bool generative() const { return kind != TaskKind::kGmmlu && kind != TaskKind::kBelebele; }
  bool uses_chat() const;       // options.chat or the kind's default
  int max_new_tokens() const;   // options or the kind's default
  std::string variant() const;  // "direct"/"boxed" for mgsm, polymath's level, else ""
};

// Parses the options of a task of `kind` from a JSON object text (the task's YAML keys other
// than kind/path/languages/samples). `where` names the task in messages.
TaskOptions parse_task_options(TaskKind kind, const std::string& options_json,
                               const std::string& where);
// The options as canonical JSON (recorded with results).
std::string task_options_json(const TaskConfig& task);

// One prepared sample of one language.
struct EvalItem {
  int64_t index = 0;   // position in the language's evaluation list (pairs points)
  std::string id;      // the dataset's id (or the row position when it has none)
  std::string prompt;  // plain prompt, or the chat user message when the task uses chat;
                       // multiple choice: the context before " A".." D"
  std::string gold;    // the answer to score against (number, letter, reference, ...)
  std::vector<std::string> golds;  // xquad: every gold answer
  int gold_choice = -1;            // multiple choice: 0..3
  std::string subject;             // gmmlu
};

struct LanguageData {
  std::string language;         // canonical code
  std::filesystem::path file;   // the file read
  std::string output_language;  // the language outputs should be in (flores: the target)
  std::vector<EvalItem> items;
  std::vector<std::string> notes;  // facts about the preparation (exemplar rows, ...)
};

// Reads and prepares every evaluable sample of `language` (any code of the language table).
// Throws InputError for a missing or bad file, or a language the task has no strings for.
LanguageData load_language(const TaskConfig& task, std::string_view language);

// Global-MMLU's samples must be the same questions in every language (sweeps/METHODS.md D:
// identical indices): throws InputError naming both files unless every language has as many items
// as the first and the same subject and id (sample_id, or row position) at every index. Other kinds
// have nothing to check here (FLORES targets are checked against the source while loading).
void check_parallel(const TaskConfig& task, std::span<const LanguageData> languages);

// The file `path` names for `language` (see the header comment). Throws InputError listing the
// paths tried.
std::filesystem::path resolve_task_file(const TaskConfig& task, std::string_view language);

}  // namespace moe::eval
