#include "sweeps/tasks/mgsm.h"

#include <fmt/format.h>

#include <algorithm>

#include "runtime/core/error.h"
#include "runtime/core/random.h"
#include "sweeps/tasks/regex.h"
#include "sweeps/tasks/text.h"

namespace moe::tasks {

std::vector<MgsmSample> load_mgsm_tsv(const std::filesystem::path& path) {
  return parse_mgsm_tsv(DatasetFile::read(path));
}

std::vector<MgsmSample> parse_mgsm_tsv(const DatasetFile& file) {
  std::vector<MgsmSample> out;
  for (const auto& line : file.lines()) {
    if (line.text.empty()) continue;
    const size_t tabs = size_t(std::count(line.text.begin(), line.text.end(), '\t'));
    if (tabs != 1)
      throw input_error(file.where(line),
                        "expected 2 tab-separated fields (question, answer_number), found {}",
                        tabs + 1);
    const size_t tab = line.text.find('\t');
    MgsmSample s{std::string(line.text.substr(0, tab)), trim(line.text.substr(tab + 1))};
    if (trim(s.question).empty())
      throw input_error(file.where(line), "expected a question, found an empty field");
    if (s.answer.empty())
      throw input_error(file.where(line), "expected an answer_number, found an empty field");
    out.push_back(std::move(s));
  }
  if (out.empty()) throw input_error(file.name(), "expected MGSM problems, found none");
  return out;
}

std::vector<size_t> mgsm_exemplar_indices(size_t pool_size, const MgsmDirectOptions& options) {
  if (options.shots < 0 || size_t(options.shots) > pool_size)
    throw input_error("mgsm direct", "expected 0..{} shots from the exemplar pool, found {}",
                      pool_size, options.shots);
  Rng rng(options.seed);
  return sample_without_replacement(pool_size, size_t(options.shots), rng);
}

std::vector<size_t> mgsm_evaluation_indices(size_t n, std::span<const size_t> exemplars) {
  std::vector<size_t> out;
  for (size_t i = 0; i < n; ++i)
    if (std::find(exemplars.begin(), exemplars.end(), i) == exemplars.end()) out.push_back(i);
  return out;
}

std::string mgsm_direct_prompt(const Language& lang, std::span<const MgsmSample> exemplars,
                               std::string_view question) {
  const std::string_view q = mgsm_question_label(lang), a = mgsm_answer_label(lang);
  std::string out;
  for (const auto& e : exemplars)
    out += fmt::format("{} {}\n{} {}\n\n", q, e.question, a, e.answer);
  out += fmt::format("{} {}\n{}", q, question, a);
  return out;
}

std::vector<std::string> mgsm_direct_stop_sequences(const Language& lang) {
  return {"\n\n", "\n", std::string(mgsm_question_label(lang))};
}

namespace {

// Removes commas and "$", surrounding whitespace and one trailing '.'; lower-cases.
std::string normalize_number_text(std::string_view s) {
  std::string t;
  for (char c : s)
    if (c != ',' && c != '$') t += c;
  t = trim(t);
  if (t.ends_with('.')) t.pop_back();
  return to_lower(t);
}

}  // namespace

MgsmDirectScore score_mgsm_direct(std::string_view generated, std::string_view gold) {
  static const Regex number(R"((-?[$0-9.,]{2,})|(-?[0-9]+))");
  const std::string text = sanitize_utf8(generated);
  const auto matches = number.find_all(text);
  MgsmDirectScore r;
  if (matches.empty()) {
    r.extracted = "[invalid]";
    return r;
  }
  // The harness takes the last match and, within it, the first group that took part.
  const auto& m = matches.back();
  const auto& g = m.groups[0] ? m.groups[0] : m.groups[1];
  r.extracted = normalize_number_text(std::string_view(text).substr(g->begin, g->end - g->begin));
  r.correct = r.extracted == normalize_number_text(gold);
  return r;
}

std::string boxed_user_message(const Language& lang, std::string_view question) {
  return fmt::format("{}\n{}", question, boxed_instruction(lang));
}

}  // namespace moe::tasks
