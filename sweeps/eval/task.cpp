#include "sweeps/eval/task.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "runtime/core/error.h"
#include "sweeps/tasks/belebele.h"
#include "sweeps/tasks/flores.h"
#include "sweeps/tasks/gmmlu.h"
#include "sweeps/tasks/languages.h"
#include "sweeps/tasks/mgsm.h"
#include "sweeps/tasks/multiple_choice.h"
#include "sweeps/tasks/polymath.h"
#include "sweeps/tasks/xquad.h"

namespace moe::eval {

namespace fs = std::filesystem;
using nlohmann::json;

std::string_view task_kind_name(TaskKind k) {
  switch (k) {
    case TaskKind::kMgsm:
      return "mgsm";
    case TaskKind::kGmmlu:
      return "gmmlu";
    case TaskKind::kBelebele:
      return "belebele";
    case TaskKind::kXquad:
      return "xquad";
    case TaskKind::kPolymath:
      return "polymath";
    case TaskKind::kFlores:
      return "flores";
  }
  return "?";
}

TaskKind parse_task_kind(std::string_view name, const std::string& where) {
  for (TaskKind k : {TaskKind::kMgsm, TaskKind::kGmmlu, TaskKind::kBelebele, TaskKind::kXquad,
                     TaskKind::kPolymath, TaskKind::kFlores})
    if (task_kind_name(k) == name) return k;
  throw input_error(
      where, "expected one of mgsm, gmmlu, belebele, xquad, polymath, flores, found '{}'", name);
}

bool TaskConfig::uses_chat() const {
  if (!generative()) return false;
  if (options.chat) return *options.chat;
  return !(kind == TaskKind::kMgsm && options.variant == "direct");
}

int TaskConfig::max_new_tokens() const {
  if (options.max_new_tokens > 0) return options.max_new_tokens;
  switch (kind) {
    case TaskKind::kMgsm:
      return options.variant == "direct" ? 256 : 4096;
    case TaskKind::kPolymath:
      return 4096;
    case TaskKind::kXquad:
      return 256;
    case TaskKind::kFlores:
      return 512;
    default:
      return 0;
  }
}

std::string TaskConfig::variant() const {
  if (kind == TaskKind::kMgsm) return options.variant;
  if (kind == TaskKind::kPolymath) return options.level;
  return "";
}

// ---- options --------------------------------------------------------------------------------

namespace {

// The option keys each kind accepts (besides chat/thinking/... of generative tasks).
std::set<std::string> allowed_keys(TaskKind k) {
  const std::set<std::string> gen = {"chat",      "thinking",       "reasoning_effort",
                                     "chat_date", "max_new_tokens", "sampling"};
  std::set<std::string> out;
  switch (k) {
    case TaskKind::kMgsm:
      out = {"variant", "shots", "shot_seed", "exemplars"};
      break;
    case TaskKind::kGmmlu:
      return {"subjects", "per_subject", "sample_seed"};
    case TaskKind::kBelebele:
      return {};
    case TaskKind::kXquad:
      break;
    case TaskKind::kPolymath:
      out = {"level"};
      break;
    case TaskKind::kFlores:
      out = {"split", "source_language", "standard_size"};
      break;
  }
  out.insert(gen.begin(), gen.end());
  return out;
}

struct Reader {
  const json& j;
  std::string where;
  std::string at(const std::string& key) const { return where + ": " + key; }
  bool has(const std::string& key) const { return j.contains(key) && !j.at(key).is_null(); }
  std::string str(const std::string& key) const {
    const json& v = j.at(key);
    if (!v.is_string()) throw input_error(at(key), "expected a string, found {}", v.dump());
    return v.get<std::string>();
  }
  int64_t integer(const std::string& key, int64_t lo, int64_t hi) const {
    const json& v = j.at(key);
    if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi)
      throw input_error(at(key), "expected an integer in [{}, {}], found {}", lo, hi, v.dump());
    return v.get<int64_t>();
  }
  double number(const std::string& key) const {
    const json& v = j.at(key);
    if (!v.is_number()) throw input_error(at(key), "expected a number, found {}", v.dump());
    return v.get<double>();
  }
  bool boolean(const std::string& key) const {
    const json& v = j.at(key);
    if (!v.is_boolean()) throw input_error(at(key), "expected true or false, found {}", v.dump());
    return v.get<bool>();
  }
  std::string choice(const std::string& key,
                     std::initializer_list<std::string_view> options) const {
    const std::string v = str(key);
    for (std::string_view o : options)
      if (o == v) return v;
    std::string list;
    for (std::string_view o : options) list += (list.empty() ? "" : ", ") + std::string(o);
    throw input_error(at(key), "expected one of {}, found '{}'", list, v);
  }
};

}  // namespace

TaskOptions parse_task_options(TaskKind kind, const std::string& options_json,
                               const std::string& where) {
  json j;
  try {
    j = options_json.empty() ? json::object() : json::parse(options_json);
  } catch (const json::exception& e) {
    throw input_error(where, "expected task options as a JSON object, found invalid JSON ({})",
                      e.what());
  }
  if (!j.is_object())
    throw input_error(where, "expected task options as a mapping, found {}", j.dump());
  const std::set<std::string> allowed = allowed_keys(kind);
  for (const auto& [key, v] : j.items())
    if (!allowed.count(key)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      throw input_error(where + ": " + key, "expected an option of a {} task ({}), found '{}'",
                        task_kind_name(kind), list.empty() ? "none" : list, key);
    }
  const Reader r{j, where};
  TaskOptions o;
  if (r.has("variant")) o.variant = r.choice("variant", {"direct", "boxed"});
  if (r.has("shots")) o.shots = int(r.integer("shots", 0, 64));
  if (r.has("shot_seed")) o.shot_seed = uint64_t(r.integer("shot_seed", 0, INT64_MAX));
  if (r.has("exemplars")) o.exemplars = r.str("exemplars");
  if (r.has("subjects")) {
    const json& s = j.at("subjects");
    if (!s.is_array())
      throw input_error(r.at("subjects"), "expected a list of subjects, found {}", s.dump());
    for (const json& v : s) {
      const std::string name = v.is_string() ? v.get<std::string>() : v.dump();
      if (std::find(tasks::kMedicalSubjects.begin(), tasks::kMedicalSubjects.end(), name) ==
          tasks::kMedicalSubjects.end())
        throw input_error(r.at("subjects"),
                          "expected medical subjects (clinical_knowledge, "
                          "college_medicine, human_aging, medical_genetics, nutrition, "
                          "professional_medicine, virology), found '{}'",
                          name);
      o.subjects.push_back(name);
    }
  }
  if (r.has("per_subject")) o.per_subject = int(r.integer("per_subject", 1, 1 << 20));
  if (r.has("sample_seed")) o.sample_seed = uint64_t(r.integer("sample_seed", 0, INT64_MAX));
  if (r.has("level")) o.level = r.choice("level", {"low", "medium", "high", "top"});
  if (r.has("split")) o.split = r.choice("split", {"dev", "devtest"});
  if (r.has("source_language")) {
    o.source_language = r.str("source_language");
    tasks::language(o.source_language);  // must be known
  }
  if (r.has("standard_size")) o.standard_size = r.boolean("standard_size");
  if (r.has("chat")) o.chat = r.boolean("chat");
  if (r.has("thinking")) o.thinking = r.boolean("thinking");
  if (r.has("reasoning_effort"))
    o.reasoning_effort = r.choice("reasoning_effort", {"low", "medium", "high"});
  if (r.has("chat_date")) o.chat_date = r.str("chat_date");
  if (r.has("max_new_tokens")) o.max_new_tokens = int(r.integer("max_new_tokens", 1, 1 << 20));
  if (r.has("sampling")) {
    const json& s = j.at("sampling");
    if (!s.is_object())
      throw input_error(r.at("sampling"),
                        "expected a mapping {{temperature, top_p, top_k, seed}}, found {}",
                        s.dump());
    const Reader q{s, r.at("sampling")};
    for (const auto& [key, v] : s.items())
      if (key != "temperature" && key != "top_p" && key != "top_k" && key != "seed")
        throw input_error(q.at(key), "expected temperature, top_p, top_k or seed, found '{}'", key);
    if (q.has("temperature")) o.sampling.temperature = q.number("temperature");
    if (q.has("top_p")) o.sampling.top_p = q.number("top_p");
    if (q.has("top_k")) o.sampling.top_k = int(q.integer("top_k", 0, 1 << 24));
    if (q.has("seed")) o.sampling.seed = uint64_t(q.integer("seed", 0, INT64_MAX));
    if (o.sampling.temperature < 0)
      throw input_error(q.at("temperature"), "expected a temperature >= 0, found {}",
                        o.sampling.temperature);
    if (!(o.sampling.top_p > 0 && o.sampling.top_p <= 1))
      throw input_error(q.at("top_p"), "expected top_p in (0, 1], found {}", o.sampling.top_p);
    o.sampling.greedy = o.sampling.temperature == 0.0;
  }
  return o;
}

std::string task_options_json(const TaskConfig& t) {
  const TaskOptions& o = t.options;
  json j = json::object();
  switch (t.kind) {
    case TaskKind::kMgsm:
      j["variant"] = o.variant;
      if (o.variant == "direct") {
        j["shots"] = o.shots;
        j["shot_seed"] = o.shot_seed;
        j["exemplars"] = o.exemplars.string();
      }
      break;
    case TaskKind::kGmmlu:
      j["subjects"] = o.subjects;
      j["per_subject"] = o.per_subject;
      j["sample_seed"] = o.sample_seed;
      break;
    case TaskKind::kPolymath:
      j["level"] = o.level;
      break;
    case TaskKind::kFlores:
      j["split"] = o.split;
      j["source_language"] = o.source_language;
      j["standard_size"] = o.standard_size;
      break;
    default:
      break;
  }
  if (t.generative()) {
    j["chat"] = t.uses_chat();
    j["thinking"] = o.thinking;
    j["reasoning_effort"] = o.reasoning_effort;
    j["chat_date"] = o.chat_date;
    j["max_new_tokens"] = t.max_new_tokens();
    if (o.sampling.greedy) {
      j["sampling"] = "greedy";
    } else {
      j["sampling"] = {{"temperature", o.sampling.temperature},
                       {"top_p", o.sampling.top_p},
                       {"top_k", o.sampling.top_k},
                       {"seed", o.sampling.seed}};
    }
  }
  return j.dump();
}

// ---- files ----------------------------------------------------------------------------------

namespace {

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
  return s;
}

std::vector<std::string> native_names(const TaskConfig& t) {
  switch (t.kind) {
    case TaskKind::kMgsm:
      return {"mgsm_{lang}.tsv", "{lang}.tsv"};
    case TaskKind::kGmmlu:
      return {"{lang}.jsonl", "{lang}.csv", "test/{lang}.jsonl", "test/{lang}.csv"};
    case TaskKind::kBelebele:
      return {"{lang}.jsonl"};
    case TaskKind::kXquad:
      return {"xquad.{lang}.json", "{lang}.json"};
    case TaskKind::kPolymath:
      return {"{lang}/{level}.jsonl", "{level}/{lang}.jsonl", "{lang}_{level}.jsonl"};
    case TaskKind::kFlores:
      return {"{lang}." + t.options.split, t.options.split + "/{lang}." + t.options.split};
  }
  return {};
}

fs::path resolve(const fs::path& path, const std::vector<std::string>& names,
                 const tasks::Language& lang, const std::string& level, const std::string& what) {
  std::vector<std::string> patterns;
  const std::string p = path.string();
  if (p.find("{lang}") != std::string::npos) {
    patterns.push_back(p);
  } else if (fs::is_directory(path)) {
    for (const auto& n : names) patterns.push_back((path / n).string());
  } else {
    if (fs::is_regular_file(path)) return path;
    throw input_error(p, "expected the {} file or a directory holding it, found nothing there",
                      what);
  }
  std::vector<std::string> tried;
  for (const auto& pat : patterns)
    for (std::string_view code : {lang.code, lang.flores, lang.flores_alias}) {
      if (code.empty()) continue;
      const std::string f = replace_all(replace_all(pat, "{lang}", code), "{level}", level);
      if (std::find(tried.begin(), tried.end(), f) != tried.end()) continue;
      if (fs::is_regular_file(f)) return f;
      tried.push_back(f);
    }
  std::string list;
  for (const auto& f : tried) list += (list.empty() ? "" : ", ") + f;
  throw input_error(p, "expected the {} file of '{}', found none of {}", what, lang.code, list);
}

std::string what_of(const TaskConfig& t) {
  const std::string kind(task_kind_name(t.kind));
  return t.name.empty() || t.name == kind ? kind : fmt::format("{} ({})", t.name, kind);
}

}  // namespace

fs::path resolve_task_file(const TaskConfig& task, std::string_view language) {
  const tasks::Language& lang = tasks::language(language);
  return resolve(task.path, native_names(task), lang, task.options.level, what_of(task));
}

// ---- preparation ----------------------------------------------------------------------------

namespace {

void prepare_mgsm(const TaskConfig& t, const tasks::Language& lang, LanguageData& d) {
  d.file = resolve_task_file(t, lang.code);
  const std::vector<tasks::MgsmSample> rows = tasks::load_mgsm_tsv(d.file);
  std::vector<size_t> eval(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) eval[i] = i;
  std::vector<tasks::MgsmSample> shots;
  if (t.options.variant == "direct") {
    tasks::MgsmDirectOptions mo{t.options.shots, t.options.shot_seed};
    if (t.options.exemplars.empty()) {
      const auto ex = tasks::mgsm_exemplar_indices(rows.size(), mo);
      for (size_t i : ex) shots.push_back(rows[i]);
      eval = tasks::mgsm_evaluation_indices(rows.size(), ex);
      d.notes.push_back(fmt::format("exemplar rows {} of {} left out of the evaluation",
                                    fmt::join(ex, ","), d.file.string()));
    } else {
      TaskConfig pool = t;
      pool.path = t.options.exemplars;
      const fs::path pf = resolve_task_file(pool, lang.code);
      const auto prow = tasks::load_mgsm_tsv(pf);
      for (size_t i : tasks::mgsm_exemplar_indices(prow.size(), mo)) shots.push_back(prow[i]);
      d.notes.push_back(fmt::format("exemplars drawn from {}", pf.string()));
    }
  }
  for (size_t i : eval) {
    EvalItem it;
    it.id = std::to_string(i);
    it.gold = rows[i].answer;
    it.prompt = t.options.variant == "direct"
                    ? tasks::mgsm_direct_prompt(lang, shots, rows[i].question)
                    : tasks::boxed_user_message(lang, rows[i].question);
    d.items.push_back(std::move(it));
  }
}

void prepare_gmmlu(const TaskConfig& t, const tasks::Language& lang, LanguageData& d) {
  d.file = resolve_task_file(t, lang.code);
  const std::vector<tasks::GmmluRow> rows = tasks::load_gmmlu(d.file);
  const tasks::GmmluSelection sel{t.options.sample_seed, t.options.per_subject};
  for (size_t i : tasks::select_gmmlu_medical(rows, sel, d.file.string())) {
    const tasks::GmmluRow& r = rows[i];
    if (!t.options.subjects.empty() &&
        std::find(t.options.subjects.begin(), t.options.subjects.end(), r.subject) ==
            t.options.subjects.end())
      continue;
    EvalItem it;
    it.id = r.sample_id.empty() ? std::to_string(i) : r.sample_id;
    it.prompt = tasks::gmmlu_prompt(r);
    it.gold_choice = r.answer;
    it.gold = std::string(1, tasks::kChoiceLetters[size_t(r.answer)]);
    it.subject = r.subject;
    d.items.push_back(std::move(it));
  }
}

void prepare_belebele(const TaskConfig& t, const tasks::Language& lang, LanguageData& d) {
  d.file = resolve_task_file(t, lang.code);
  const auto rows = tasks::load_belebele_jsonl(d.file);
  for (size_t i = 0; i < rows.size(); ++i) {
    EvalItem it;
    it.id = fmt::format("{}#{}", rows[i].link, rows[i].question_number);
    it.prompt = tasks::belebele_prompt(rows[i]);
    it.gold_choice = rows[i].correct;
    it.gold = std::string(1, tasks::kChoiceLetters[size_t(rows[i].correct)]);
    d.items.push_back(std::move(it));
  }
}

void prepare_xquad(const TaskConfig& t, const tasks::Language& lang, LanguageData& d) {
  d.file = resolve_task_file(t, lang.code);
  for (const tasks::XquadSample& s : tasks::load_xquad_json(d.file)) {
    EvalItem it;
    it.id = s.id;
    it.prompt = tasks::xquad_prompt(lang, s);
    it.golds = s.answers;
    it.gold = s.answers.front();
    d.items.push_back(std::move(it));
  }
}

void prepare_polymath(const TaskConfig& t, const tasks::Language& lang, LanguageData& d) {
  d.file = resolve_task_file(t, lang.code);
  for (const tasks::PolymathSample& s : tasks::load_polymath_jsonl(d.file)) {
    EvalItem it;
    it.id = s.id;
    it.prompt = tasks::boxed_user_message(lang, s.question);
    it.gold = s.answer;
    d.items.push_back(std::move(it));
  }
}

std::vector<std::string> flores_sentences(const TaskConfig& t, const tasks::Language& lang,
                                          fs::path& file) {
  const tasks::FloresSplit split =
      t.options.split == "dev" ? tasks::FloresSplit::dev : tasks::FloresSplit::devtest;
  const tasks::FloresOptions fo{t.options.standard_size};
  if (t.path.string().find("{lang}") != std::string::npos || !fs::is_directory(t.path))
    file = resolve_task_file(t, lang.code);
  else
    file = tasks::flores_file(t.path, lang, split);
  return tasks::parse_flores(tasks::DatasetFile::read(file), split, fo);
}

void prepare_flores(const TaskConfig& t, const tasks::Language& lang, LanguageData& d) {
  const tasks::Language& src = tasks::language(t.options.source_language);
  fs::path src_file;
  const auto source = flores_sentences(t, src, src_file);
  const auto target = flores_sentences(t, lang, d.file);
  if (source.size() != target.size())
    throw input_error(d.file.string(), "expected {} sentences, parallel to {}, found {}",
                      source.size(), src_file.string(), target.size());
  d.notes.push_back(fmt::format("source sentences from {}", src_file.string()));
  for (size_t i = 0; i < source.size(); ++i) {
    EvalItem it;
    it.id = std::to_string(i);
    it.prompt = tasks::flores_translation_prompt(lang, source[i]);
    it.gold = target[i];
    d.items.push_back(std::move(it));
  }
}

}  // namespace

LanguageData load_language(const TaskConfig& task, std::string_view language) {
  const tasks::Language& lang = tasks::language(language);
  LanguageData d;
  d.language = std::string(lang.code);
  d.output_language = d.language;
  switch (task.kind) {
    case TaskKind::kMgsm:
      prepare_mgsm(task, lang, d);
      break;
    case TaskKind::kGmmlu:
      prepare_gmmlu(task, lang, d);
      break;
    case TaskKind::kBelebele:
      prepare_belebele(task, lang, d);
      break;
    case TaskKind::kXquad:
      prepare_xquad(task, lang, d);
      break;
    case TaskKind::kPolymath:
      prepare_polymath(task, lang, d);
      break;
    case TaskKind::kFlores:
      prepare_flores(task, lang, d);
      break;
  }
  for (size_t i = 0; i < d.items.size(); ++i) d.items[i].index = int64_t(i);
  return d;
}

void check_parallel(const TaskConfig& task, std::span<const LanguageData> languages) {
  if (task.kind != TaskKind::kGmmlu || languages.empty()) return;
  const LanguageData& ref = languages[0];
  for (const LanguageData& d : languages.subspan(1)) {
    const std::string where = fmt::format("{} vs {}", ref.file.string(), d.file.string());
    if (d.items.size() != ref.items.size())
      throw input_error(where,
                        "expected parallel Global-MMLU files (the same selected questions), "
                        "found {} and {} questions",
                        ref.items.size(), d.items.size());
    for (size_t i = 0; i < d.items.size(); ++i) {
      const EvalItem &a = ref.items[i], &b = d.items[i];
      if (a.subject != b.subject || a.id != b.id)
        throw input_error(where,
                          "expected parallel Global-MMLU files, found selected question {} as "
                          "({}, '{}') and ({}, '{}')",
                          i, a.subject, a.id, b.subject, b.id);
    }
  }
}

}  // namespace moe::eval
