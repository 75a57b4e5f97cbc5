// EvalReport: what one `moe-sweep eval` produced (per language: the baseline and, when given,
// the intervention on the same samples), its significance against the baseline, the printed
// table, and the result file.
//
// Result file (HDF5, written to "<path>.tmp" then renamed: a present file is complete):
//   / attrs       kind = "moe-sweep eval", schema = 1, code_version, created, config (YAML),
//                 model_dir, model (description), family, routing, task, task_kind,
//                 task_options (JSON), bootstrap_*
//   /notes        [n] strings: routing facts (sparsemixer, unnormalised weights), exemplar rows,
//                 harmony date, truncated hard/hard_logsoftmax sets, ...
//   /points       table: point, method, layers, lambda, direction, experts (one row per edit;
//                 the baseline has one row with method none)
//   /accuracy     table, one row per (point, language): metric, n, scored, unscorable, score,
//                 correct, accuracy_lower, accuracy_upper, exact_match, f1, containment,
//                 sentence_chrf, consistent, inconsistent, undetermined, consistency_rate, and
//                 against the baseline (NaN for the baseline's own rows): difference, ci_low,
//                 ci_high, paired, unpaired, unscored, mcnemar_p, mcnemar_b, mcnemar_c
//   /samples/<point>  table, one row per (language, sample): language, index, id, subject,
//                 output, answer_text, extracted, gold, score, verdict, exact_match, f1,
//                 containment, chrf, logprob_a..logprob_d, consistency, detected, finish,
//                 prompt_tokens, generated_tokens
//   /selection/<point>  selected_before, selected_after [A, L, E] int64 and tokens [A, L] per
//                 language (attr languages), MoE layers and experts; truncations table
//   /comparison   attrs sign_positive, sign_negative, sign_zeros, sign_p, t_mean, t_sd, t, t_df,
//                 t_p; languages [A'] and deltas [A'] (languages with paired samples)
// Tables are groups of equal-length 1-D columns with a "columns" attribute (results/h5.h).
// Thread-safety: HDF5 from one thread.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "results/comparison.h"
#include "sweeps/eval/eval_config.h"
#include "sweeps/eval/evaluate.h"

namespace moe::eval {

struct EvalReport {
  const EvalConfig* config = nullptr;
  std::string model_description;  // family, routing, load options
  std::string family, routing;    // io::family_name, io::routing_name of the model
  std::optional<routing::Intervention> intervention;
  std::vector<EvalRun> runs;  // per language, in config order
  // Point 1 (the intervention) against point 0 (the baseline), when there is an intervention.
  std::optional<results::PointComparison> comparison;
};

// The per-sample scores of a point's samples, keyed by sample index, with each sample's
// statistics for language_metric(kind) (evaluate.h; flores: chrF statistics; gmmlu: subject
// statistics).
results::ScoredSamples scored_samples(std::span<const SampleResult> samples, TaskKind kind);

// Compares point `point` with point `baseline` in every run (language). Where the task's language
// score is a corpus metric (flores: corpus chrF; gmmlu: mean over subjects), the difference is
// of that score over the paired samples and its CI resamples it (results/comparison.h).
results::PointComparison compare_runs(std::span<const EvalRun> runs, size_t baseline, size_t point,
                                      TaskKind kind, const significance::BootstrapOptions& options);

// The table `moe-sweep eval` prints: per language the score (and for an intervention: base,
// intervened, delta, CI, McNemar p), the mean, and the sign and t tests across languages.
std::string format_report(const EvalReport& report);

void write_eval_file(const std::filesystem::path& path, const EvalReport& report);

}  // namespace moe::eval
