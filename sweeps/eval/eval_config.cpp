#include "sweeps/eval/eval_config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "runtime/core/error.h"
#include "sweeps/eval/expert_source.h"
#include "sweeps/tasks/languages.h"

namespace moe::eval {

namespace {

// A YAML node with its key path and position, for messages "file:line:col: key.path".
class Node {
 public:
  Node(YAML::Node n, std::string path, const std::string* label, YAML::Mark mark)
      : n_(std::move(n)), path_(std::move(path)), label_(label), mark_(mark) {}

  std::string where() const {
    const YAML::Mark m = n_.IsDefined() && !n_.IsNull() && n_.Mark().line >= 0 ? n_.Mark() : mark_;
    return fmt::format("{}:{}:{}: {}", *label_, m.line + 1, m.column + 1,
                       path_.empty() ? "(top level)" : path_);
  }
  bool defined() const { return n_.IsDefined() && !n_.IsNull(); }
  // (yaml-cpp: a missing key gives an invalid node whose type queries throw; IsDefined does not.)
  bool is_map() const { return n_.IsDefined() && n_.IsMap(); }
  bool is_seq() const { return n_.IsDefined() && n_.IsSequence(); }
  bool is_scalar() const { return n_.IsDefined() && n_.IsScalar(); }
  [[noreturn]] void expected(const std::string& what) const {
    throw input_error(where(), "expected {}, found {}", what, found());
  }
  Node operator[](const std::string& key) const {
    const YAML::Node c = is_map() ? n_[key] : YAML::Node(YAML::NodeType::Undefined);
    return Node(c, path_.empty() ? key : path_ + "." + key, label_,
                n_.IsDefined() ? n_.Mark() : mark_);
  }
  std::vector<Node> items() const {
    std::vector<Node> out;
    for (size_t i = 0; i < n_.size(); ++i)
      out.emplace_back(n_[i], fmt::format("{}[{}]", path_, i), label_, n_.Mark());
    return out;
  }
  std::vector<std::pair<std::string, Node>> entries() const {
    std::vector<std::pair<std::string, Node>> out;
    for (const auto& kv : n_) {
      const std::string k = kv.first.as<std::string>();
      out.emplace_back(
          k, Node(kv.second, path_.empty() ? k : path_ + "." + k, label_, kv.first.Mark()));
    }
    return out;
  }
  void check_keys(std::initializer_list<std::string_view> allowed) const {
    if (!defined()) return;
    if (!is_map()) expected("a mapping");
    for (const auto& kv : n_) {
      const std::string k = kv.first.as<std::string>();
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
        std::string list;
        for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        throw input_error(
            Node(kv.second, path_.empty() ? k : path_ + "." + k, label_, kv.first.Mark()).where(),
            "unknown key '{}' (expected one of {})", k, list);
      }
    }
  }
  std::string str() const {
    if (!is_scalar()) expected("a string");
    return n_.Scalar();
  }
  double num() const {
    if (!is_scalar()) expected("a number");
    try {
      size_t used = 0;
      const double v = std::stod(n_.Scalar(), &used);
      if (used == n_.Scalar().size()) return v;
    } catch (const std::exception&) {
    }
    expected("a number");
  }
  int64_t integer(int64_t lo, int64_t hi) const {
    if (!is_scalar()) expected(fmt::format("an integer in [{}, {}]", lo, hi));
    try {
      size_t used = 0;
      const long long v = std::stoll(n_.Scalar(), &used);
      if (used == n_.Scalar().size() && v >= lo && v <= hi) return v;
    } catch (const std::exception&) {
    }
    expected(fmt::format("an integer in [{}, {}]", lo, hi));
  }
  bool boolean() const {
    const std::string s = is_scalar() ? n_.Scalar() : "";
    if (s == "true") return true;
    if (s == "false") return false;
    expected("true or false");
  }
  std::string choice(std::initializer_list<std::string_view> options) const {
    const std::string v = str();
    for (std::string_view o : options)
      if (o == v) return v;
    std::string list;
    for (std::string_view o : options) list += (list.empty() ? "" : ", ") + std::string(o);
    expected("one of " + list);
  }
  // The node as JSON (task options are handed on as JSON).
  nlohmann::json json() const {
    if (is_map()) {
      nlohmann::json j = nlohmann::json::object();
      for (const auto& [k, v] : entries()) j[k] = v.json();
      return j;
    }
    if (is_seq()) {
      nlohmann::json j = nlohmann::json::array();
      for (const Node& v : items()) j.push_back(v.json());
      return j;
    }
    if (!defined()) return nullptr;
    const std::string& s = n_.Scalar();
    if (n_.Tag() != "!") {  // unquoted: booleans and numbers keep their type
      if (s == "true" || s == "false") return s == "true";
      try {
        size_t used = 0;
        const long long v = std::stoll(s, &used);
        if (used == s.size()) return v;
      } catch (const std::exception&) {
      }
      try {
        size_t used = 0;
        const double v = std::stod(s, &used);
        if (used == s.size()) return v;
      } catch (const std::exception&) {
      }
    }
    return s;
  }

 private:
  std::string found() const {
    if (!n_.IsDefined() || n_.IsNull()) return "nothing";
    if (n_.IsMap()) return "a mapping";
    if (n_.IsSequence()) return "a list";
    return "'" + n_.Scalar() + "'";
  }
  YAML::Node n_;
  std::string path_;
  const std::string* label_;
  YAML::Mark mark_;
};

std::string expand_env(const std::string& value, const std::string& where) {
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '$' && i + 1 < value.size() && value[i + 1] == '{') {
      const size_t close = value.find('}', i);
      if (close == std::string::npos)
        throw input_error(where, "expected '}}' after '${{' in '{}'", value);
      const std::string name = value.substr(i + 2, close - i - 2);
      const char* v = std::getenv(name.c_str());
      if (!v) throw input_error(where, "environment variable '{}' is not set", name);
      out += v;
      i = close;
    } else {
      out += value[i];
    }
  }
  return out;
}

std::filesystem::path path_of(const Node& n, const std::filesystem::path& base) {
  std::filesystem::path p = expand_env(n.str(), n.where());
  if (p.is_relative() && !base.empty()) p = base / p;
  return p;
}

// [a, b], "a-b" or none.
routing::LayerRange range_of(const Node& n, bool one_based) {
  int a = 0, b = -1;
  if (!n.defined()) n.expected("a layer range [first, last], \"first-last\" or none");
  if (n.is_seq()) {
    const auto it = n.items();
    if (it.empty()) return routing::LayerRange{};
    if (it.size() != 2) n.expected("a layer range of two numbers [first, last]");
    a = int(it[0].integer(0, 1 << 20));
    b = int(it[1].integer(0, 1 << 20));
  } else {
    const std::string s = n.str();
    if (s == "none") return routing::LayerRange{};
    const size_t dash = s.find('-');
    try {
      if (dash == std::string::npos || dash == 0) throw std::invalid_argument(s);
      size_t ua = 0, ub = 0;
      a = std::stoi(s.substr(0, dash), &ua);
      b = std::stoi(s.substr(dash + 1), &ub);
      if (ua != dash || ub != s.size() - dash - 1 || a < 0 || b < 0) throw std::invalid_argument(s);
    } catch (const std::exception&) {
      n.expected("a layer range [first, last], \"first-last\" or none");
    }
  }
  if (b < a)
    throw input_error(n.where(), "expected first <= last, found {}-{} (write none for no layers)",
                      a, b);
  return one_based ? routing::layer_range_from_one_based(a, b, n.where())
                   : routing::LayerRange{a, b};
}

// A non-negative number written as a mapping key (layer or expert id).
int key_number(const std::string& key, const Node& value, const char* what) {
  try {
    size_t used = 0;
    const int v = std::stoi(key, &used);
    if (used == key.size() && v >= 0) return v;
  } catch (const std::exception&) {
  }
  throw input_error(value.where(), "expected {} as key, found '{}'", what, key);
}

ExpertSetSource expert_source(const Node& n, const std::filesystem::path& base) {
  ExpertSetSource s;
  s.where = n.where();
  if (!n.is_map()) n.expected("a mapping with 'file' and 'set', or 'layers'");
  n.check_keys({"file", "set", "layers"});
  if (n["layers"].defined()) {
    if (n["file"].defined() || n["set"].defined())
      throw input_error(n.where(), "expected either file/set or layers, found both");
    const Node layers = n["layers"];
    if (!layers.is_map()) layers.expected("a mapping layer -> experts");
    for (const auto& [key, v] : layers.entries()) {
      const int l = key_number(key, v, "a layer number");
      if (size_t(l) >= s.layers.size()) s.layers.resize(size_t(l) + 1);
      if (v.is_seq()) {
        for (const Node& e : v.items())
          s.layers[size_t(l)].push_back(routing::ExpertScore{int(e.integer(0, 1 << 20)), 1.0});
      } else if (v.is_map()) {
        for (const auto& [ek, ev] : v.entries())
          s.layers[size_t(l)].push_back(
              routing::ExpertScore{key_number(ek, ev, "an expert id"), ev.num()});
      } else {
        v.expected("a list of expert ids or a mapping expert -> score");
      }
    }
    return s;
  }
  if (!n["file"].defined()) n["file"].expected("a results file holding /experts");
  if (!n["set"].defined()) n["set"].expected("an expert set name (model/name under /experts)");
  s.file = path_of(n["file"], base);
  s.set = n["set"].str();
  return s;
}

// One edit; `named`: the mapping may also hold the intervention's name (a single-edit
// intervention written inline).
EditSpec edit_of(const Node& n, bool one_based, bool named) {
  if (named)
    n.check_keys({"name", "method", "experts", "layers", "lambda", "direction"});
  else
    n.check_keys({"method", "experts", "layers", "lambda", "direction"});
  EditSpec e;
  e.where = n.where();
  e.method = routing::parse_intervention_method(n["method"].str(), n["method"].where());
  using M = routing::InterventionMethod;
  if (!n["experts"].defined()) n["experts"].expected("the name of an expert set under 'experts'");
  e.experts = n["experts"].str();
  e.layers = range_of(n["layers"], one_based);
  const bool uses_lambda = e.method == M::kSoft || e.method == M::kSteer;
  if (uses_lambda) {
    if (!n["lambda"].defined()) n["lambda"].expected("a number (lambda)");
    e.lambda = n["lambda"].num();
  } else if (n["lambda"].defined()) {
    throw input_error(n["lambda"].where(), "'lambda' applies to soft and steer, not {}",
                      routing::intervention_method_name(e.method));
  }
  const std::string dir = n["direction"].defined() ? n["direction"].choice({"boost", "suppress"})
                          : e.method == M::kMask   ? "suppress"
                                                   : "boost";
  if (e.method == M::kMask && dir != "suppress")
    throw input_error(n["direction"].where(),
                      "mask removes experts: expected suppress, found boost");
  if (e.method == M::kSteer && dir != "boost")
    throw input_error(n["direction"].where(),
                      "steer acts on the shared experts: expected boost, "
                      "found suppress");
  e.suppress = dir == "suppress";
  return e;
}

}  // namespace

EvalConfig parse_eval_config(const std::string& yaml_text, const std::string& label) {
  YAML::Node tree;
  try {
    tree = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw input_error(fmt::format("{}:{}:{}", label, e.mark.line + 1, e.mark.column + 1),
                      "expected valid YAML, found a syntax error ({})", e.msg);
  }
  const std::string* lab = &label;
  const Node root(tree, "", lab, YAML::Mark());
  if (!root.is_map()) root.expected("a mapping with model, task, ...");
  root.check_keys({"name", "model", "task", "layer_indexing", "interventions", "experts",
                   "intervention", "significance", "output"});
  EvalConfig c;
  c.text = yaml_text;
  const std::filesystem::path base = std::filesystem::path(label).has_parent_path()
                                         ? std::filesystem::path(label).parent_path()
                                         : std::filesystem::path();
  // model
  const Node m = root["model"];
  if (!m.defined()) m.expected("a mapping with the checkpoint 'path'");
  m.check_keys({"path", "backend", "threads", "max_batch_tokens", "max_batch_seqs"});
  if (!m["path"].defined()) m["path"].expected("the checkpoint directory");
  c.model.path = path_of(m["path"], base);
  if (m["backend"].defined()) c.model.backend = m["backend"].choice({"cpu", "cpu-ref", "cuda"});
  if (m["threads"].defined()) c.model.threads = int(m["threads"].integer(0, 4096));
  if (m["max_batch_tokens"].defined())
    c.model.max_batch_tokens = int(m["max_batch_tokens"].integer(1, 1 << 30));
  if (m["max_batch_seqs"].defined())
    c.model.max_batch_seqs = int(m["max_batch_seqs"].integer(1, 1 << 20));
  // task
  const Node t = root["task"];
  if (!t.defined() || !t.is_map()) t.expected("a mapping with kind, path and languages");
  nlohmann::json options = nlohmann::json::object();
  for (const auto& [key, v] : t.entries()) {
    if (key == "kind" || key == "path" || key == "languages" || key == "samples" || key == "name")
      continue;
    const bool path = key == "exemplars" && !v.str().empty();  // ${VAR} and base, as `path`
    options[key] = path ? nlohmann::json(path_of(v, base).string()) : v.json();
  }
  if (!t["kind"].defined())
    t["kind"].expected("one of mgsm, gmmlu, belebele, xquad, polymath, flores");
  c.task.kind = parse_task_kind(t["kind"].str(), t["kind"].where());
  c.task.name = t["name"].defined() ? t["name"].str() : std::string(task_kind_name(c.task.kind));
  if (!t["path"].defined()) t["path"].expected("the task's file, directory or {lang} template");
  c.task.path = path_of(t["path"], base);
  c.task.options = parse_task_options(c.task.kind, options.dump(), t.where());
  const Node langs = t["languages"];
  if (!langs.is_seq() || langs.items().empty()) langs.expected("a list of languages");
  for (const Node& l : langs.items()) {
    const std::string code = l.str();
    if (!tasks::find_language(code)) l.expected("a language code of the language table");
    if (std::find(c.languages.begin(), c.languages.end(), code) != c.languages.end())
      throw input_error(l.where(), "language '{}' is listed twice", code);
    c.languages.push_back(code);
  }
  if (t["samples"].defined()) c.samples = t["samples"].integer(0, int64_t(1) << 40);
  // interventions
  if (root["layer_indexing"].defined())
    c.layers_one_based = root["layer_indexing"].choice({"zero_based", "one_based"}) == "one_based";
  const Node io = root["interventions"];
  io.check_keys({"std", "steer_precision", "hard_seed", "hard_eps"});
  if (io["std"].defined()) c.std_kind = io["std"].choice({"sample", "population"});
  if (io["steer_precision"].defined())
    c.steer_precision = io["steer_precision"].choice({"fp32", "bf16"});
  if (io["hard_seed"].defined()) c.hard_seed = uint64_t(io["hard_seed"].integer(0, INT64_MAX));
  if (io["hard_eps"].defined()) {
    c.hard_eps = io["hard_eps"].num();
    if (!(c.hard_eps >= 0)) io["hard_eps"].expected("a non-negative number");
  }
  const Node ex = root["experts"];
  if (ex.defined()) {
    if (!ex.is_map()) ex.expected("a mapping name -> expert set");
    for (const auto& [name, v] : ex.entries()) c.experts[name] = expert_source(v, base);
  }
  const Node iv = root["intervention"];
  if (iv.defined()) {
    if (!iv.is_map()) iv.expected("a mapping (one edit, or 'edits')");
    if (iv["edits"].defined()) {
      iv.check_keys({"name", "edits"});
      if (!iv["edits"].is_seq() || iv["edits"].items().empty())
        iv["edits"].expected("a list of edits");
      for (const Node& e : iv["edits"].items())
        c.edits.push_back(edit_of(e, c.layers_one_based, false));
    } else {
      c.edits.push_back(edit_of(iv, c.layers_one_based, true));
    }
    c.intervention_name = iv["name"].defined()
                              ? iv["name"].str()
                              : std::string(routing::intervention_method_name(c.edits[0].method));
    if (c.intervention_name == "baseline")
      throw input_error(iv["name"].where(), "'baseline' names the baseline; choose another name");
    for (const EditSpec& e : c.edits)
      if (!c.experts.count(e.experts))
        throw input_error(e.where + ".experts",
                          "expected an expert set defined under 'experts', "
                          "found '{}'",
                          e.experts);
  }
  const Node sig = root["significance"];
  sig.check_keys({"resamples", "seed", "confidence"});
  if (sig["resamples"].defined())
    c.bootstrap.resamples = int(sig["resamples"].integer(1, 10000000));
  if (sig["seed"].defined()) c.bootstrap.seed = uint64_t(sig["seed"].integer(0, INT64_MAX));
  if (sig["confidence"].defined()) {
    c.bootstrap.confidence = sig["confidence"].num();
    if (!(c.bootstrap.confidence > 0 && c.bootstrap.confidence < 1))
      sig["confidence"].expected("a confidence in (0, 1)");
  }
  if (root["output"].defined()) c.output = path_of(root["output"], base);
  return c;
}

EvalConfig load_eval_config(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw input_error(path.string(), "expected a readable YAML file, found none");
  std::stringstream ss;
  ss << in.rdbuf();
  EvalConfig c = parse_eval_config(ss.str(), path.string());
  c.source = path;
  return c;
}

routing::Intervention build_intervention(const EvalConfig& c) {
  routing::Intervention iv;
  iv.name = c.intervention_name;
  for (const EditSpec& e : c.edits) {
    const ExpertSetSource& src = c.experts.at(e.experts);
    routing::LayerExperts sets;
    try {
      sets = src.file.empty() ? src.layers : layer_experts(read_expert_set(src.file, src.set));
    } catch (const InputError& err) {
      throw InputError(src.where, fmt::format("{}: {}", err.where(), err.problem()));
    }
    routing::InterventionEdit ed;
    ed.method = e.method;
    ed.layers = e.layers;
    ed.lambda = e.lambda;
    (e.suppress ? ed.suppress : ed.boost) = std::move(sets);
    ed.std_kind = routing::parse_std_kind(c.std_kind, "interventions.std");
    ed.steer_precision =
        routing::parse_steer_precision(c.steer_precision, "interventions.steer_precision");
    ed.seed = c.hard_seed;
    ed.hard_eps = c.hard_eps;
    iv.edits.push_back(std::move(ed));
  }
  return iv;
}

}  // namespace moe::eval
