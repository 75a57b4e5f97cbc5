// Evaluation of grid points on one task language (sweeps/METHODS.md D): the library the sweep
// engine's evaluation phase and `moe-sweep eval` share.
//
// evaluate() runs several points (the baseline and any number of interventions) over the same
// samples [begin, end) of one language in the SAME engine calls: every (point, sample) is one
// request whose tag selects the point's intervention through one InterventionHook (interventions
// are per sequence), so the points share batches and forward passes. Per task kind:
//   generation (mgsm, polymath, xquad, flores)  Engine::generate, greedy unless the task samples
//     (each sample's seed = pair_seed(sampling.seed, sample index): the baseline and every point
//     draw from the same stream for a sample); stops at the checkpoint's end-of-sequence ids,
//     and for mgsm direct also at "\n\n", "\n" and the localised question label.
//   multiple choice (gmmlu, belebele)  the loglikelihood of " A".." D" after the prompt; when the
//     four continuations are one token each (the usual case), one forward pass per sample
//     (Engine::next_token_logprobs), else Engine::loglikelihood per choice.
// Scoring (score_generation / score_choice, pure functions) fills one SampleResult per sample;
// summarize() turns a language's samples into its LanguageSummary (so the results of several
// sample ranges are summarised together). Every SampleResult keeps the output, the text scored,
// the extracted answer and the score, so a score can always be recomputed from what is stored.
//
// Tags: (point index + 1) << 40 | sample index; the intervention noise stream of a sample is its
// index. Extra hooks (e.g. a statistics collector) run after the intervention hook and see the
// edited logits.
// Thread-safety: evaluate() drives the engine from the calling thread (one at a time per engine).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/engine/engine.h"
#include "runtime/io/model_config.h"
#include "runtime/models/model.h"
#include "runtime/routing/intervention.h"
#include "sweeps/eval/prompt.h"
#include "sweeps/eval/task.h"
#include "sweeps/tasks/chrf.h"

namespace moe::io {
class Tokenizer;
}

namespace moe::eval {

// A loaded checkpoint with what evaluation needs besides the model.
struct EvalModel {
  std::filesystem::path dir;
  std::shared_ptr<Model> model;
  std::shared_ptr<const io::Tokenizer> tokenizer;
  io::SpecialTokens special;

  // Loads config.json + safetensors, tokenizer.json and the special-token files of `dir`.
  static EvalModel load(const std::filesystem::path& dir, const ModelLoadOptions& options = {});
  io::Family family() const { return model->config().family; }
  routing::RouterShape router_shape() const;
};

struct EvalPoint {
  std::string id;                                       // "baseline", a grid point id, ...
  const routing::Intervention* intervention = nullptr;  // null (or no edits): the baseline
};

struct SampleResult {
  int64_t index = 0;  // EvalItem::index
  std::string id;
  std::string subject;      // gmmlu
  std::string output;       // generated text as decoded (special tokens kept); "" for choices
  std::string answer_text;  // the text scored (harmony final channel, after </think>, ...)
  std::string extracted;    // the extracted answer ("" when none); choices: the letter
  std::string gold;
  double score = 0;     // the per-sample score; NaN when unscorable
  std::string verdict;  // "correct" | "incorrect" | "unscorable" ("" for graded scores)
  double exact_match = 0, f1 = 0, containment = 0;  // xquad
  double chrf = 0;                                  // flores (sentence chrF, 0-100)
  tasks::ChrfStats chrf_stats{};                    // flores: its sufficient statistics
  std::array<double, 4> choice_logprob{};           // multiple choice
  std::string consistency;  // "consistent" | "inconsistent" | "undetermined" ("" for choices)
  std::string detected;     // CLD2 code
  std::string finish;       // "stop_token" | "stop_string" | "max_tokens" | "context_full" | ""
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
};

struct LanguageSummary {
  std::string language;
  std::string metric;  // "accuracy" | "exact_match" | "chrf"
  int n = 0;           // samples
  int scored = 0;      // samples with a score
  int unscorable = 0;
  double correct = 0;  // sum of the scores
  double score = 0;    // the language's score: mean over scored samples (gmmlu: mean over
                       // subjects of the subject means; flores: corpus chrF); NaN if none
  double accuracy_lower = 0, accuracy_upper = 0;         // unscorable counted wrong / right
  double exact_match = 0, f1 = 0, containment = 0;       // xquad means
  double sentence_chrf = 0;                              // flores: mean sentence chrF
  std::vector<std::pair<std::string, double>> subjects;  // gmmlu: subject -> mean
  int consistent = 0, inconsistent = 0, undetermined = 0;
  double consistency_rate = 0;  // consistent / determined; NaN when none determined
};

struct PointResult {
  std::string point;
  std::vector<SampleResult> samples;  // in sample order
  LanguageSummary summary;
  routing::SelectionCounts counts;  // the point's tokens, per MoE layer and expert
  std::vector<routing::Truncation> truncations;
};

struct EvalRun {
  std::string language;
  std::vector<PointResult> points;  // in the order given
  std::vector<std::string> notes;   // routing facts, exemplar rows, chat date, ...
};

// REQUIRES 0 <= begin <= end <= data.items.size(). Throws InputError for interventions that do
// not fit the model and for prompts the model cannot take.
EvalRun evaluate(const EvalModel& model, Engine& engine, const TaskConfig& task,
                 const LanguageData& data, int64_t begin, int64_t end,
                 std::span<const EvalPoint> points, HookList extra_hooks = {},
                 const ProgressFn& progress = {});

// The chat options a task implies (thinking, reasoning effort, the harmony date: the task's
// chat_date, or today's date when it has none).
io::ChatOptions chat_options(const TaskConfig& task);

// The corpus metric of a task's language score (results/significance.h): flores the corpus
// chrF, gmmlu the mean over subjects; empty for tasks scored by the mean per-sample score.
significance::CorpusMetric language_metric(TaskKind kind);

// Scores one generated output of `item` (output: the engine's text; chat: whether the prompt was
// a chat prompt). Pure: used by evaluate() and to re-score stored outputs.
SampleResult score_generation(const TaskConfig& task, const LanguageData& data,
                              const EvalItem& item, const PromptEncoder& encoder,
                              std::string_view output);
SampleResult score_choice(const EvalItem& item, const std::array<double, 4>& logprobs);

LanguageSummary summarize(const TaskConfig& task, const std::string& language,
                          std::span<const SampleResult> samples);

}  // namespace moe::eval
