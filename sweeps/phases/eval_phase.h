// Phase 3 of a sweep: one batch of evaluation units (the baseline and grid points of one
// (model, task, language, sample range)) through the evaluator of sweeps/eval/evaluate.h, the
// code `moe-sweep eval` runs. Every point of the batch is one intervention (built from its expert
// set, read from the store), applied per sequence, so the points share forward passes.
//
// Each unit's result holds the table "samples" (one row per sample: sample, id, gold, output,
// answer_text, extracted, correct (1 / 0, -1 = unscorable; absent for graded tasks: xquad,
// flores), score, consistent (1 / 0, -1 = undetermined; absent for multiple choice), and the
// task's extra columns; flores: the sentence chrF and its sufficient statistics chrf_hyp_n,
// chrf_ref_n, chrf_match_n for n = 1..6, from which merge computes the corpus chrF), the arrays selected_before / selected_after [L, E] and tokens [L]
// (selections per MoE layer and expert, summed over sample ranges) and the evaluator's notes.
// Thread-safety: drives the engine from the calling thread.
#pragma once

#include <vector>

#include "results/merge.h"
#include "results/unit_result.h"
#include "runtime/engine/engine.h"
#include "sweeps/eval/evaluate.h"
#include "sweeps/exec/unit_runner.h"

namespace moe::sweeps {

// The evaluator's view of a config's task (kind and options checked: InputError naming the key).
eval::TaskConfig eval_task(const SweepConfig& c, const TaskSpec& t);

// The unit result of one point's samples (the table "samples", the selection arrays, `notes`).
results::UnitResult point_result(const eval::TaskConfig& task, const eval::PointResult& pr,
                                 const std::vector<std::string>& notes);

// How merge computes a task's language score when it is not the mean of the per-sample scores:
// flores: corpus chrF from the summed per-sample statistics (the evaluator's corpus chrF of the
// same samples); gmmlu: the mean over subjects of their accuracy (columns subject and score);
// empty for every other task.
results::CorpusScore corpus_score(eval::TaskKind kind);

// The intervention of a grid point on a model of `shape` (empty edits for the baseline); the
// point's expert set is read from the store.
routing::Intervention point_intervention(const RunnerContext& ctx, const Point& p,
                                         const routing::RouterShape& shape);

// One result per unit of `group` (all eval units of one (model, task, language, range)), over
// the samples [begin, end) of the units' range (a replica rank's share; the whole range when
// one process runs the batch). `data` is the task language's prepared samples.
std::vector<results::UnitResult> run_eval_group(const RunnerContext& ctx, const Group& group,
                                                const eval::EvalModel& model, Engine& engine,
                                                const eval::TaskConfig& task,
                                                const eval::LanguageData& data, int64_t begin,
                                                int64_t end);

}  // namespace moe::sweeps
