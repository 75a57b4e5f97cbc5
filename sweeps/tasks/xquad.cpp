#include "sweeps/tasks/xquad.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "runtime/core/error.h"
#include "sweeps/tasks/regex.h"
#include "sweeps/tasks/text.h"

namespace moe::tasks {

std::vector<XquadSample> load_xquad_json(const std::filesystem::path& path) {
  return parse_xquad_json(DatasetFile::read(path));
}

std::vector<XquadSample> parse_xquad_json(const DatasetFile& file) {
  std::vector<XquadSample> out;
  with_json_document(file, [&](const JsonObject& root) {
    root.for_each_object("data", [&](const JsonObject& article) {
      const std::string title = article.has("title") ? article.string("title") : std::string();
      article.for_each_object("paragraphs", [&](const JsonObject& para) {
        const std::string context = para.string("context");
        para.for_each_object("qas", [&](const JsonObject& qa) {
          XquadSample s{qa.string_or_number("id"), title, context, qa.string("question"), {}};
          qa.for_each_object("answers", [&](const JsonObject& a) {
            (void)a.integer("answer_start");
            s.answers.push_back(a.string("text"));
          });
          if (s.answers.empty())
            throw input_error(qa.where("answers"), "expected at least one gold answer, found 0");
          out.push_back(std::move(s));
        });
      });
    });
  });
  if (out.empty()) throw input_error(file.name(), "expected XQuAD questions, found none");
  return out;
}

std::string xquad_prompt(const Language& lang, const XquadSample& s) {
  return fmt::format("{}\n\n{}\n\n{}", s.context, s.question, answer_directly_instruction(lang));
}

std::string squad_normalize(std::string_view text) {
  static const Regex articles(R"(\b(a|an|the)\b)");
  std::string t = to_lower(sanitize_utf8(text));
  std::erase_if(t, [](char c) {
    return std::string_view(R"(!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~)").find(c) !=
           std::string_view::npos;
  });
  t = articles.replace_all(t, " ");
  std::string out;
  for (const auto& w : split_whitespace(t)) out += (out.empty() ? "" : " ") + w;
  return out;
}

namespace {

double token_f1(const std::string& pred, const std::string& gold) {
  const auto p = split_whitespace(pred), g = split_whitespace(gold);
  std::map<std::string, int> gc;
  for (const auto& w : g) ++gc[w];
  int same = 0;
  for (const auto& w : p)
    if (auto it = gc.find(w); it != gc.end() && it->second > 0) --it->second, ++same;
  if (same == 0) return 0.0;
  const double precision = double(same) / double(p.size());
  const double recall = double(same) / double(g.size());
  return 2 * precision * recall / (precision + recall);
}

}  // namespace

QaScore score_qa(std::string_view prediction, std::span<const std::string> golds) {
  QaScore r;
  const std::string p = squad_normalize(prediction);
  for (const auto& gold : golds) {
    const std::string g = squad_normalize(gold);
    r.exact_match = std::max(r.exact_match, p == g ? 1.0 : 0.0);
    r.f1 = std::max(r.f1, token_f1(p, g));
    if (!p.empty() && !g.empty() &&
        (p.find(g) != std::string::npos || g.find(p) != std::string::npos))
      r.containment = 1.0;
  }
  return r;
}

}  // namespace moe::tasks
