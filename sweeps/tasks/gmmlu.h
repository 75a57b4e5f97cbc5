// Global-MMLU (MMLU translated into 42 languages), medical subset (sweeps/METHODS.md D).
//
// Files: rows {question, option_a, option_b, option_c, option_d, answer, subject} and an
// optional sample_id, either as JSON Lines (*.jsonl) or as CSV with a header line (*.csv; RFC
// 4180: quoted fields may hold commas, doubled quotes and newlines; column order free, extra
// columns ignored). answer is a letter A-D (JSON also accepts an integer 0-3). Bad rows are
// InputErrors naming the file, line and byte, the column, what was expected and what was found.
// Selection: for each of the 7 medical subjects (in kMedicalSubjects order) `per_subject`
// (default 60) row positions are drawn without replacement with one moe::Rng(seed), and returned
// sorted by subject order then file position. The draw depends only on the seed and the number
// of rows per subject, so parallel language files get identical indices;
// check_gmmlu_parallel() verifies that their selected rows agree (subject, sample_id).
// Prompt (0-shot): "{question}\nA. {a}\nB. {b}\nC. {c}\nD. {d}\nAnswer:"; prediction by
// loglikelihood of " A".." D" (multiple_choice.h); a language's score is the mean over subjects
// of their accuracy, computed from per-sample statistics (gmmlu_subject_mean_metric) so that
// merged results and their bootstrap use the same definition on any subset of the samples.
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "results/significance.h"
#include "sweeps/tasks/dataset_file.h"

namespace moe::tasks {

inline constexpr std::array<std::string_view, 7> kMedicalSubjects = {
    "clinical_knowledge", "college_medicine",      "human_aging", "medical_genetics",
    "nutrition",          "professional_medicine", "virology"};

struct GmmluRow {
  std::string sample_id;  // "" when the file has none
  std::string subject;
  std::string question;
  std::array<std::string, 4> options;
  int answer = 0;  // 0-based
};

// By extension: .csv is CSV, anything else JSON Lines.
std::vector<GmmluRow> load_gmmlu(const std::filesystem::path& path);
std::vector<GmmluRow> parse_gmmlu_jsonl(const DatasetFile& file);
std::vector<GmmluRow> parse_gmmlu_csv(const DatasetFile& file);

struct GmmluSelection {
  uint64_t seed = 2025;
  int per_subject = 60;
};
// Indices into rows. Throws InputError if a subject has fewer than per_subject rows.
std::vector<size_t> select_gmmlu_medical(std::span<const GmmluRow> rows,
                                         const GmmluSelection& options, const std::string& what);
// Throws InputError (naming `what`) unless rows[i] of both files agree in subject and, when both
// have one, sample_id, for every selected i.
void check_gmmlu_parallel(std::span<const GmmluRow> reference, std::span<const GmmluRow> other,
                          std::span<const size_t> selection, const std::string& what);

std::string gmmlu_prompt(const GmmluRow& row);

// The language score as a corpus metric (results/significance.h): per sample, for each subject j
// of kMedicalSubjects, statistics 2j = 1 and 2j+1 = the sample's score when the sample is of that
// subject and has a score, 0 otherwise (width 14). From the sums: the mean, over the subjects
// with at least one scored sample, of (score sum / samples); NaN when there is none. With the
// same number of samples in every subject this equals the mean over all samples. verdicts = true
// (scores are 0/1 correct).
inline constexpr size_t kGmmluStatisticsWidth = 2 * kMedicalSubjects.size();
significance::CorpusMetric gmmlu_subject_mean_metric();
// Appends one sample's kGmmluStatisticsWidth statistics to `out`; score NaN (unscored) adds
// zeros. Throws InputError naming `what` when subject is not a medical subject.
void append_gmmlu_statistics(std::string_view subject, double score, const std::string& what,
                             std::vector<double>& out);

}  // namespace moe::tasks
