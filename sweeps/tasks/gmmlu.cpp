#include "sweeps/tasks/gmmlu.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "runtime/core/error.h"
#include "runtime/core/random.h"
#include "sweeps/tasks/multiple_choice.h"

namespace moe::tasks {

namespace {

constexpr std::array<std::string_view, 4> kOptionColumns = {"option_a", "option_b", "option_c",
                                                            "option_d"};

int answer_from_letter(std::string_view value, const std::string& where) {
  const int i = choice_index(value);
  if (i < 0) throw input_error(where, "expected an answer letter A, B, C or D, found '{}'", value);
  return i;
}

// One CSV record: its fields and where it starts.
struct CsvRecord {
  std::vector<std::string> fields;
  size_t offset = 0;
};

// RFC 4180 records of the whole file. Throws InputError at an unterminated quoted field or a
// quote inside an unquoted field.
std::vector<CsvRecord> csv_records(const DatasetFile& file) {
  const std::string& t = file.text();
  std::vector<CsvRecord> out;
  size_t i = file.content_offset();
  while (i < t.size()) {
    CsvRecord rec;
    rec.offset = i;
    std::string field;
    bool record_done = false;
    while (!record_done) {
      field.clear();
      if (i < t.size() && t[i] == '"') {
        const size_t open = i++;
        for (;;) {
          if (i >= t.size())
            throw input_error(file.where_offset(open),
                              "expected a closing '\"' for the quoted field, found end of file");
          if (t[i] == '"') {
            if (i + 1 < t.size() && t[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          field += t[i++];
        }
        if (i < t.size() && t[i] != ',' && t[i] != '\n' && t[i] != '\r')
          throw input_error(file.where_offset(i),
                            "expected ',' or end of line after a quoted field, found '{}'", t[i]);
      } else {
        while (i < t.size() && t[i] != ',' && t[i] != '\n' && t[i] != '\r') {
          if (t[i] == '"')
            throw input_error(file.where_offset(i),
                              "expected no '\"' inside an unquoted field, found one");
          field += t[i++];
        }
      }
      rec.fields.push_back(field);
      if (i < t.size() && t[i] == ',') {
        ++i;
        continue;
      }
      if (i < t.size() && t[i] == '\r') ++i;
      if (i < t.size() && t[i] == '\n') ++i;
      record_done = true;
    }
    if (!(rec.fields.size() == 1 && rec.fields[0].empty())) out.push_back(std::move(rec));
  }
  return out;
}

}  // namespace

std::vector<GmmluRow> load_gmmlu(const std::filesystem::path& path) {
  const DatasetFile file = DatasetFile::read(path);
  return path.extension() == ".csv" ? parse_gmmlu_csv(file) : parse_gmmlu_jsonl(file);
}

std::vector<GmmluRow> parse_gmmlu_jsonl(const DatasetFile& file) {
  std::vector<GmmluRow> out;
  for_each_jsonl_object(file, [&](const JsonObject& row) {
    GmmluRow r;
    r.sample_id = row.has("sample_id") ? row.string_or_number("sample_id") : std::string();
    r.subject = row.string("subject");
    r.question = row.string("question");
    for (size_t k = 0; k < 4; ++k) r.options[k] = row.string(kOptionColumns[k]);
    const std::string answer = row.string_or_number("answer");
    if (answer.size() == 1 && answer[0] >= '0' && answer[0] <= '3')
      r.answer = answer[0] - '0';
    else
      r.answer = answer_from_letter(answer, row.where("answer"));
    out.push_back(std::move(r));
  });
  if (out.empty()) throw input_error(file.name(), "expected Global-MMLU rows, found none");
  return out;
}

std::vector<GmmluRow> parse_gmmlu_csv(const DatasetFile& file) {
  const auto records = csv_records(file);
  if (records.empty()) throw input_error(file.name(), "expected a CSV header line, found none");
  std::map<std::string, size_t> column;
  for (size_t c = 0; c < records[0].fields.size(); ++c) column[records[0].fields[c]] = c;
  auto require = [&](std::string_view name) {
    auto it = column.find(std::string(name));
    if (it == column.end())
      throw input_error(file.where_offset(records[0].offset),
                        "expected a header column '{}', found columns [{}]", name,
                        fmt::join(records[0].fields, ", "));
    return it->second;
  };
  const size_t q = require("question"), a = require("answer"), s = require("subject");
  std::array<size_t, 4> opt;
  for (size_t k = 0; k < 4; ++k) opt[k] = require(kOptionColumns[k]);
  const auto id = column.find("sample_id");
  std::vector<GmmluRow> out;
  for (size_t r = 1; r < records.size(); ++r) {
    const CsvRecord& rec = records[r];
    const std::string where = file.where_offset(rec.offset);
    if (rec.fields.size() != records[0].fields.size())
      throw input_error(where, "expected {} fields as in the header, found {}",
                        records[0].fields.size(), rec.fields.size());
    GmmluRow row;
    row.sample_id = id == column.end() ? std::string() : rec.fields[id->second];
    row.subject = rec.fields[s];
    row.question = rec.fields[q];
    for (size_t k = 0; k < 4; ++k) row.options[k] = rec.fields[opt[k]];
    row.answer = answer_from_letter(rec.fields[a], where + ": column 'answer'");
    out.push_back(std::move(row));
  }
  if (out.empty()) throw input_error(file.name(), "expected Global-MMLU rows, found none");
  return out;
}

std::vector<size_t> select_gmmlu_medical(std::span<const GmmluRow> rows,
                                         const GmmluSelection& options, const std::string& what) {
  Rng rng(options.seed);
  std::vector<size_t> out;
  for (std::string_view subject : kMedicalSubjects) {
    std::vector<size_t> positions;
    for (size_t i = 0; i < rows.size(); ++i)
      if (rows[i].subject == subject) positions.push_back(i);
    if (options.per_subject < 0 || positions.size() < size_t(options.per_subject))
      throw input_error(what, "expected at least {} rows of subject '{}', found {}",
                        options.per_subject, subject, positions.size());
    auto pick = sample_without_replacement(positions.size(), size_t(options.per_subject), rng);
    std::sort(pick.begin(), pick.end());
    for (size_t p : pick) out.push_back(positions[p]);
  }
  return out;
}

void check_gmmlu_parallel(std::span<const GmmluRow> reference, std::span<const GmmluRow> other,
                          std::span<const size_t> selection, const std::string& what) {
  for (size_t i : selection) {
    if (i >= reference.size() || i >= other.size())
      throw input_error(what, "expected row {} in both files, found {} and {} rows", i,
                        reference.size(), other.size());
    const GmmluRow &a = reference[i], &b = other[i];
    if (a.subject != b.subject ||
        (!a.sample_id.empty() && !b.sample_id.empty() && a.sample_id != b.sample_id))
      throw input_error(what, "expected parallel files, found row {} as ({}, '{}') and ({}, '{}')",
                        i, a.subject, a.sample_id, b.subject, b.sample_id);
  }
}

std::string gmmlu_prompt(const GmmluRow& row) {
  return fmt::format("{}\nA. {}\nB. {}\nC. {}\nD. {}\nAnswer:", row.question, row.options[0],
                     row.options[1], row.options[2], row.options[3]);
}

significance::CorpusMetric gmmlu_subject_mean_metric() {
  significance::CorpusMetric m;
  m.width = kGmmluStatisticsWidth;
  m.verdicts = true;
  m.score = [](std::span<const double> sums) {
    MOE_ASSERT(sums.size() == kGmmluStatisticsWidth, "subject mean from {} statistics",
               sums.size());
    double total = 0;
    int subjects = 0;
    for (size_t j = 0; j < kMedicalSubjects.size(); ++j) {
      if (sums[2 * j] <= 0) continue;
      total += sums[2 * j + 1] / sums[2 * j];
      ++subjects;
    }
    return subjects ? total / subjects : std::numeric_limits<double>::quiet_NaN();
  };
  return m;
}

void append_gmmlu_statistics(std::string_view subject, double score, const std::string& what,
                             std::vector<double>& out) {
  const auto it = std::find(kMedicalSubjects.begin(), kMedicalSubjects.end(), subject);
  if (it == kMedicalSubjects.end())
    throw input_error(what, "expected a medical subject ({}), found '{}'",
                      fmt::join(kMedicalSubjects, ", "), subject);
  const size_t j = size_t(it - kMedicalSubjects.begin());
  const size_t at = out.size();
  out.resize(at + kGmmluStatisticsWidth, 0.0);
  if (std::isnan(score)) return;
  out[at + 2 * j] = 1;
  out[at + 2 * j + 1] = score;
}

}  // namespace moe::tasks
