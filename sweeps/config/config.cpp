#include "sweeps/config/config.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "runtime/core/error.h"
#include "sweeps/config/yaml_node.h"

namespace moe::sweeps {

const char* rule_kind_name(RuleKind k) {
  switch (k) {
    case RuleKind::kDelta: return "delta";
    case RuleKind::kDelta3Sigma: return "delta_3sigma";
    case RuleKind::kAffinityExclusive: return "affinity_exclusive";
    case RuleKind::kAffinityShared: return "affinity_shared";
  }
  return "?";
}
bool rule_uses_tau(RuleKind k) { return k == RuleKind::kDelta; }
bool rule_uses_affinity(RuleKind k) {
  return k == RuleKind::kAffinityExclusive || k == RuleKind::kAffinityShared;
}

const char* method_name(Method m) {
  switch (m) {
    case Method::kNone: return "none";
    case Method::kSoft: return "soft";
    case Method::kHard: return "hard";
    case Method::kHardLogSoftmax: return "hard_logsoftmax";
    case Method::kMask: return "mask";
    case Method::kSteer: return "steer";
  }
  return "?";
}
bool method_uses_lambda(Method m) { return m == Method::kSoft || m == Method::kSteer; }
bool method_uses_direction(Method m) {
  return m == Method::kSoft || m == Method::kHard || m == Method::kHardLogSoftmax;
}

namespace {

template <typename V>
int index_of(const V& v, const std::string& name) {
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i].name == name) return int(i);
  return -1;
}

}  // namespace

int SweepConfig::model_index(const std::string& n) const { return index_of(models, n); }
int SweepConfig::corpus_index(const std::string& n) const { return index_of(corpora, n); }
int SweepConfig::rule_index(const std::string& n) const { return index_of(rules, n); }
int SweepConfig::task_index(const std::string& n) const { return index_of(tasks, n); }

std::string expand_env(const std::string& value, const std::string& where) {
  std::string out;
  size_t i = 0;
  while (i < value.size()) {
    if (value[i] == '$' && i + 1 < value.size() && value[i + 1] == '{') {
      size_t close = value.find('}', i + 2);
      if (close == std::string::npos)
        throw InputError(where, expected_found("'}' closing '${' at offset " + std::to_string(i),
                                               "'" + value + "'"));
      std::string name = value.substr(i + 2, close - i - 2);
      // ${NAME:-default}: the default when NAME is unset or empty (as in the shell).
      std::optional<std::string> fallback;
      if (const size_t d = name.find(":-"); d != std::string::npos) {
        fallback = name.substr(d + 2);
        name.resize(d);
      }
      bool ok = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0]));
      for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
      if (!ok)
        throw InputError(where, expected_found("an environment variable name in ${...}",
                                               "'${" + name + "}'"));
      const char* v = std::getenv(name.c_str());
      if (fallback && (!v || !*v)) v = fallback->c_str();
      if (!v)
        throw InputError(where, fmt::format("environment variable {} is not set (used in '{}')",
                                            name, value));
      out += v;
      i = close + 1;
    } else {
      out += value[i++];
    }
  }
  return out;
}

namespace {

bool valid_name(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
      return false;
  return s != "." && s != "..";
}

std::string name_of(const YamlNode& n, const std::string& what) {
  std::string s = n.str();
  if (!valid_name(s)) n.expected(what + " (letters, digits, '_', '-', '.')");
  return s;
}

std::string language_of(const YamlNode& n) {
  std::string s = n.str();
  bool ok = !s.empty() && std::isalpha(static_cast<unsigned char>(s[0]));
  for (char c : s) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
  if (!ok) n.expected("a language code such as 'en' or 'eng_Latn'");
  return s;
}

std::vector<std::string> languages_of(const YamlNode& n, bool required) {
  if (!n.defined()) {
    if (required) n.expected("a list of language codes");
    return {};
  }
  std::vector<std::string> out;
  for (const auto& item : n.items()) {
    std::string l = language_of(item);
    if (std::find(out.begin(), out.end(), l) != out.end()) item.fail("language listed twice");
    out.push_back(l);
  }
  return out;
}

std::string choice(const YamlNode& n, const std::vector<std::string>& allowed,
                   const std::string& dflt) {
  if (!n.defined()) return dflt;
  std::string s = n.str();
  if (std::find(allowed.begin(), allowed.end(), s) == allowed.end())
    n.expected(fmt::format("one of {}", fmt::join(allowed, ", ")));
  return s;
}

int64_t int_in(const YamlNode& n, int64_t lo, int64_t hi, int64_t dflt) {
  if (!n.defined()) return dflt;
  int64_t v = n.integer();
  if (v < lo || v > hi) n.expected(fmt::format("an integer in [{}, {}]", lo, hi));
  return v;
}

double positive(const YamlNode& n, double dflt) {
  if (!n.defined()) return dflt;
  double v = n.num();
  if (!(v > 0)) n.expected("a positive number");
  return v;
}

// The values a rule or intervention parameter may take, and the message naming them.
struct Bounds {
  double lo, hi;
  bool lo_open, hi_open;
  const char* expected;
};

// tau: Delta is in [-1, 1] and the delta rule selects Delta > tau, so tau >= 1 selects nothing,
// and a negative tau selects experts less frequent on the target than on the reference.
constexpr Bounds kTauBounds{0, 1, false, true, "a number in [0, 1) (tau; sweeps/METHODS.md B)"};
// thr: every affinity W is in [0, 1), and so is the sum of W over a target set. The exclusive
// rule (sum > thr) selects nothing for thr >= 1; the shared rule (some W > 0, every W < thr)
// selects nothing for thr <= 0 and every routed expert for thr >= 1.
constexpr Bounds kThrBounds{0, 1, true, true, "a number in (0, 1) (thr; sweeps/METHODS.md B)"};
// lambda: the size of the soft or steer shift. 0 is the baseline under another label, and a
// negative lambda reverses the edit its method and direction name.
constexpr Bounds kLambdaBounds{0, INFINITY, true, true,
                               "a positive number (lambda; sweeps/METHODS.md C)"};

double number_in(const YamlNode& n, const Bounds& b) {
  const double v = n.num();  // finite
  if ((b.lo_open ? v <= b.lo : v < b.lo) || (b.hi_open ? v >= b.hi : v > b.hi))
    n.expected(b.expected);
  return v;
}

// K: experts kept per language and layer (sweeps/METHODS.md B).
constexpr int64_t kMaxTopK = 1 << 20;

// A path value: ${VAR} expanded, the expanded text written back into the tree.
std::filesystem::path path_of(YamlNode n) {
  std::string s = expand_env(n.str(), n.where());
  if (s.empty()) n.expected("a non-empty path");
  n.set(s);
  return s;
}

nlohmann::json scalar_json(const YamlNode& n) {
  const YAML::Node& r = n.raw();
  const std::string& s = r.Scalar();
  if (r.Tag() != "!" && !s.empty()) {  // plain (unquoted) scalars may be numbers or booleans
    try {
      size_t used = 0;
      long long v = std::stoll(s, &used);
      if (used == s.size()) return v;
    } catch (...) {
    }
    // YAML's .nan / .inf and the C library's nan / inf: JSON has no such numbers (they would be
    // written as null), and no task option means any of them.
    try {
      if (!std::isfinite(r.as<double>())) n.expected("a finite number");
    } catch (const YAML::Exception&) {
    }
    try {
      size_t used = 0;
      double v = std::stod(s, &used);
      if (used == s.size()) {
        if (!std::isfinite(v)) n.expected("a finite number");
        return v;
      }
    } catch (const InputError&) {
      throw;
    } catch (...) {
    }
    if (s == "true") return true;
    if (s == "false") return false;
  }
  return s;
}

nlohmann::json to_json(const YamlNode& n) {
  if (n.is_map()) {
    nlohmann::json o = nlohmann::json::object();
    for (const auto& k : n.keys()) o[k] = to_json(n[k]);
    return o;
  }
  if (n.is_seq()) {
    nlohmann::json a = nlohmann::json::array();
    for (size_t i = 0; i < n.size(); ++i) a.push_back(to_json(n.at(i)));
    return a;
  }
  if (!n.defined()) return nullptr;
  return scalar_json(n);
}

// ---- sections ---------------------------------------------------------------------------------

}  // namespace

const std::vector<ConfigSection>& config_sections() {
  static const std::vector<ConfigSection> kSections = {
      {"(top level)",
       {"name", "output", "models", "corpora", "statistics", "routing", "experts", "tasks",
        "layer_indexing", "interventions", "grid", "baseline", "execution", "slurm"}},
      {"models.<name>",
       {"path", "backend", "expert_parallel", "max_batch_tokens", "max_batch_seqs", "threads"}},
      {"corpora.<name>", {"format", "path", "split", "field", "prompt", "samples"}},
      {"statistics", {"importance", "tokens", "consistency_pairs", "seed", "raw_logits"}},
      {"routing[i]", {"corpus", "languages"}},
      {"experts.<name> (delta)", {"rule", "target", "reference", "tau"}},
      {"experts.<name> (delta_3sigma)", {"rule", "target", "reference"}},
      {"experts.<name> (affinity_exclusive, affinity_shared)",
       {"rule", "corpus", "languages", "target", "K", "thr"}},
      {"experts.<name>.target", {"corpus", "language", "languages"}},
      {"experts.<name>.reference", {"corpus", "language"}},
      {"tasks.<name>", {"kind", "path", "languages", "samples", "low_resource"}},
      // The evaluator's task options (sweeps/eval/task.h), checked per kind when the task loads.
      {"tasks.<name> (task options)",
       {"variant", "shots", "shot_seed", "exemplars", "subjects", "per_subject", "sample_seed",
        "level", "split", "source_language", "standard_size", "chat", "thinking",
        "reasoning_effort", "chat_date", "max_new_tokens", "sampling"}},
      {"interventions", {"std", "steer_precision", "hard_seed", "hard_eps"}},
      {"grid[i]",
       {"model", "task", "method", "experts", "layers", "tau", "lambda", "K", "thr", "direction",
        "zip"}},
      {"grid[i].zip",
       {"model", "task", "method", "experts", "layers", "tau", "lambda", "K", "thr", "direction"}},
      {"execution",
       {"unit_samples", "batch_points", "lease_ttl_s", "heartbeat_s", "poll_s", "on_stop",
        "max_points"}},
      {"slurm",
       {"array_tasks", "throttle", "time", "partition", "account", "gres", "mem", "qos", "nodes",
        "ntasks", "cpus_per_task", "signal_s", "sbatch_args", "setup", "launcher"}},
  };
  return kSections;
}

const std::vector<std::string>& section_keys(std::string_view section) {
  for (const ConfigSection& s : config_sections())
    if (s.path == section) return s.keys;
  MOE_ASSERT(false, "no config section '{}'", section);
  std::abort();
}

namespace {

void parse_models(const YamlNode& n, SweepConfig& c) {
  if (!n.defined() || !n.is_map() || n.size() == 0) n.expected("a mapping of model names to models");
  for (const auto& key : n.keys()) {
    YamlNode m = n[key];
    if (!m.is_map()) m.expected("a mapping with 'path'");
    m.check_keys(section_keys("models.<name>"));
    ModelSpec s;
    s.name = key;
    if (!valid_name(key)) m.expected("a model name of letters, digits, '_', '-', '.'");
    s.path_where = m["path"].where();
    s.path = path_of(m["path"]);
    s.backend = choice(m["backend"], {"cpu", "cpu-ref", "cuda"}, "cpu");
    s.expert_parallel = int(int_in(m["expert_parallel"], 1, 1 << 16, 1));
    s.max_batch_tokens = int(int_in(m["max_batch_tokens"], 1, 1 << 30, 4096));
    s.max_batch_seqs = int(int_in(m["max_batch_seqs"], 1, 1 << 20, 64));
    s.threads = int(int_in(m["threads"], 0, 4096, 0));
    c.models.push_back(std::move(s));
  }
}

void parse_corpora(const YamlNode& n, SweepConfig& c) {
  if (!n.defined()) return;
  for (const auto& key : n.keys()) {
    YamlNode m = n[key];
    if (!m.is_map()) m.expected("a mapping with 'format' and 'path'");
    if (!valid_name(key)) m.expected("a corpus name of letters, digits, '_', '-', '.'");
    m.check_keys(section_keys("corpora.<name>"));
    CorpusSpec s;
    s.name = key;
    s.format = choice(m["format"], {"flores", "belebele", "gsm8k", "jsonl", "text"}, "");
    if (s.format.empty()) m["format"].expected("one of flores, belebele, gsm8k, jsonl, text");
    s.path = path_of(m["path"]);
    s.split = s.format == "flores" ? choice(m["split"], {"dev", "devtest"}, "dev") : "";
    if (s.format != "flores" && m["split"].defined())
      m["split"].fail("'split' applies to format flores only");
    if (s.format == "gsm8k")
      s.field = choice(m["field"], {"question", "answer", "question_answer"}, "question");
    else if (s.format == "jsonl")
      s.field = m["field"].defined() ? m["field"].str() : "text";
    else if (m["field"].defined())
      m["field"].fail("'field' applies to formats gsm8k and jsonl only");
    s.prompt = choice(m["prompt"], {"chat", "raw"}, s.prompt);
    s.samples = int_in(m["samples"], 0, int64_t(1) << 40, 0);
    c.corpora.push_back(std::move(s));
  }
}

void parse_statistics(const YamlNode& n, SweepConfig& c) {
  if (!n.defined()) return;
  n.check_keys(section_keys("statistics"));
  auto& s = c.statistics;
  s.importance = choice(n["importance"], {"topk_renorm", "router_weights", "softmax"}, s.importance);
  s.tokens = choice(n["tokens"], {"all", "content"}, s.tokens);
  s.consistency_pairs = int(int_in(n["consistency_pairs"], 0, 1 << 24, s.consistency_pairs));
  s.seed = uint64_t(int_in(n["seed"], 0, INT64_MAX, 0));
  if (n["raw_logits"].defined()) s.raw_logits = n["raw_logits"].boolean();
}

// " (a, b, c)" or " (none defined)": the names a reference may use.
template <typename V>
std::string names_of(const V& v) {
  std::vector<std::string> names;
  for (const auto& x : v) names.push_back(x.name);
  return names.empty() ? " (none defined)" : fmt::format(" ({})", fmt::join(names, ", "));
}

void check_corpus(const SweepConfig& c, const YamlNode& n, const std::string& corpus) {
  if (c.corpus_index(corpus) < 0) n.expected("a corpus defined under 'corpora'" + names_of(c.corpora));
}

void parse_routing(const YamlNode& n, SweepConfig& c) {
  if (!n.defined()) return;
  if (!n.is_seq()) n.expected("a list of {corpus, languages}");
  for (size_t i = 0; i < n.size(); ++i) {
    YamlNode r = n.at(i);
    if (!r.is_map()) r.expected("a mapping with 'corpus' and 'languages'");
    r.check_keys(section_keys("routing[i]"));
    RoutingCollect rc;
    rc.corpus = r["corpus"].str();
    check_corpus(c, r["corpus"], rc.corpus);
    rc.languages = languages_of(r["languages"], true);
    c.routing.push_back(std::move(rc));
  }
}

DataRef data_ref(const YamlNode& n, const SweepConfig& c, bool one_language) {
  if (!n.is_map()) n.expected("a mapping with 'corpus' and 'language'");
  n.check_keys(section_keys(one_language ? "experts.<name>.reference" : "experts.<name>.target"));
  DataRef r;
  r.corpus = n["corpus"].str();
  check_corpus(c, n["corpus"], r.corpus);
  if (n["language"].defined() && n["languages"].defined())
    n["languages"].fail("give 'language' or 'languages', not both");
  if (n["languages"].defined()) {
    r.languages = languages_of(n["languages"], true);
    if (r.languages.empty()) n["languages"].expected("at least one language");
  } else {
    r.languages = {language_of(n["language"])};
  }
  return r;
}

void parse_rules(const YamlNode& n, SweepConfig& c) {
  if (!n.defined()) return;
  for (const auto& key : n.keys()) {
    YamlNode m = n[key];
    if (!m.is_map()) m.expected("a mapping with 'rule'");
    if (!valid_name(key)) m.expected("a rule name of letters, digits, '_', '-', '.'");
    RuleSpec r;
    r.name = key;
    std::string kind = choice(m["rule"], {"delta", "delta_3sigma", "affinity_exclusive",
                                          "affinity_shared"}, "");
    if (kind.empty())
      m["rule"].expected("one of delta, delta_3sigma, affinity_exclusive, affinity_shared");
    if (kind == "delta" || kind == "delta_3sigma") {
      r.kind = kind == "delta" ? RuleKind::kDelta : RuleKind::kDelta3Sigma;
      m.check_keys(section_keys(r.kind == RuleKind::kDelta ? "experts.<name> (delta)"
                                                           : "experts.<name> (delta_3sigma)"));
      r.target = data_ref(m["target"], c, false);
      r.reference = data_ref(m["reference"], c, true);
      if (m["tau"].defined()) r.tau = number_in(m["tau"], kTauBounds);
    } else {
      r.kind = kind == "affinity_exclusive" ? RuleKind::kAffinityExclusive
                                            : RuleKind::kAffinityShared;
      m.check_keys(section_keys("experts.<name> (affinity_exclusive, affinity_shared)"));
      r.corpus = m["corpus"].str();
      check_corpus(c, m["corpus"], r.corpus);
      r.languages = languages_of(m["languages"], true);
      if (r.languages.size() < 2) m["languages"].expected("the language set S (two or more)");
      r.target_languages = languages_of(m["target"], true);
      for (size_t i = 0; i < r.target_languages.size(); ++i)
        if (std::find(r.languages.begin(), r.languages.end(), r.target_languages[i]) ==
            r.languages.end())
          m["target"].items()[i].expected("a language of 'languages' (the set S)");
      if (m["K"].defined()) r.top_k = int(int_in(m["K"], 1, kMaxTopK, 1));
      if (m["thr"].defined()) r.thr = number_in(m["thr"], kThrBounds);
    }
    c.rules.push_back(std::move(r));
  }
}

const std::vector<std::string> kTaskKinds = {"mgsm", "gmmlu", "belebele", "xquad", "polymath",
                                             "flores"};

void parse_tasks(const YamlNode& n, SweepConfig& c) {
  if (!n.defined()) return;
  for (const auto& key : n.keys()) {
    YamlNode m = n[key];
    if (!m.is_map()) m.expected("a mapping with 'kind', 'path' and 'languages'");
    if (!valid_name(key)) m.expected("a task name of letters, digits, '_', '-', '.'");
    const std::vector<std::string>& common = section_keys("tasks.<name>");
    const std::vector<std::string>& options = section_keys("tasks.<name> (task options)");
    std::vector<std::string> allowed = common;
    allowed.insert(allowed.end(), options.begin(), options.end());
    m.check_keys(allowed);
    TaskSpec t;
    t.name = key;
    t.kind = choice(m["kind"], kTaskKinds, "");
    if (t.kind.empty()) m["kind"].expected(fmt::format("one of {}", fmt::join(kTaskKinds, ", ")));
    t.path = path_of(m["path"]);
    t.languages = languages_of(m["languages"], true);
    if (t.languages.empty()) m["languages"].expected("at least one language");
    t.samples = int_in(m["samples"], 0, int64_t(1) << 40, 0);
    t.low_resource = languages_of(m["low_resource"], false);
    for (size_t i = 0; i < t.low_resource.size(); ++i)
      if (std::find(t.languages.begin(), t.languages.end(), t.low_resource[i]) ==
          t.languages.end())
        m["low_resource"].items()[i].expected("a language of this task's 'languages'");
    if (m["exemplars"].defined()) path_of(m["exemplars"]);  // ${VAR} expanded like `path`
    nlohmann::json o = nlohmann::json::object();
    for (const auto& k : options)
      if (m[k].defined()) o[k] = to_json(m[k]);
    t.options_json = o.dump();
    c.tasks.push_back(std::move(t));
  }
}

void parse_interventions(const YamlNode& n, SweepConfig& c) {
  if (!n.defined()) return;
  n.check_keys(section_keys("interventions"));
  auto& o = c.interventions;
  o.std_kind = choice(n["std"], {"sample", "population"}, o.std_kind);
  o.steer_precision = choice(n["steer_precision"], {"fp32", "bf16"}, o.steer_precision);
  o.hard_seed = uint64_t(int_in(n["hard_seed"], 0, INT64_MAX, 0));
  o.hard_eps = n["hard_eps"].defined() ? n["hard_eps"].num() : o.hard_eps;
  if (o.hard_eps < 0) n["hard_eps"].expected("a non-negative number");
}

// ---- grid --------------------------------------------------------------------------------------

Method method_of(const YamlNode& n) {
  static const std::vector<std::pair<std::string, Method>> kMethods = {
      {"none", Method::kNone}, {"soft", Method::kSoft}, {"hard", Method::kHard},
      {"hard_logsoftmax", Method::kHardLogSoftmax}, {"mask", Method::kMask},
      {"steer", Method::kSteer}};
  std::string s = n.str();
  for (auto& [name, m] : kMethods)
    if (s == name) return m;
  n.expected("one of none, soft, hard, hard_logsoftmax, mask, steer");
}

// One layer range: [start, end], "start-end", or "none" / [] (empty: no intervention).
LayerRange range_of(const YamlNode& n, bool one_based) {
  int64_t a = 0, b = 0;
  if (n.is_scalar()) {
    std::string s = n.str();
    if (s == "none") return LayerRange{};
    size_t dash = s.find('-');
    try {
      if (dash == std::string::npos || dash == 0) throw std::invalid_argument("");
      size_t ua = 0, ub = 0;
      a = std::stoll(s.substr(0, dash), &ua);
      b = std::stoll(s.substr(dash + 1), &ub);
      if (ua != dash || ub != s.size() - dash - 1) throw std::invalid_argument("");
    } catch (const std::exception&) {
      n.expected("a layer range [start, end], 'start-end' or 'none'");
    }
  } else if (n.is_seq() && n.size() == 0) {
    return LayerRange{};
  } else if (n.is_seq() && n.size() == 2 && n.at(0).is_scalar() && n.at(1).is_scalar()) {
    a = n.at(0).integer();
    b = n.at(1).integer();
  } else {
    n.expected("a layer range [start, end], 'start-end' or 'none'");
  }
  const int64_t lo = one_based ? 1 : 0;
  if (a < lo || b < a)
    n.expected(fmt::format("a range with {} <= start <= end ({}; layer_indexing: {})", lo,
                           one_based ? "1-indexed" : "0-indexed",
                           one_based ? "one_based" : "zero_based"));
  if (b > 100000) n.expected("a layer index below 100000");
  return LayerRange{int(a - lo), int(b - lo)};
}

// The nodes of a `layers` value that each hold one range.
std::vector<YamlNode> range_nodes(const YamlNode& n) {
  // [s, e] (two integers) is one range; a list of ranges/strings is several.
  if (n.is_seq() && n.size() == 2 && n.at(0).is_scalar() && n.at(1).is_scalar()) {
    bool ints = true;
    for (size_t i = 0; i < 2; ++i) {
      try {
        n.at(i).raw().as<int64_t>();
      } catch (...) {
        ints = false;
      }
    }
    if (ints) return {n};
  }
  if (n.is_seq() && n.size() == 0) return {n};
  if (n.is_scalar()) return {n};
  if (!n.is_seq()) n.expected("a layer range or a list of layer ranges");
  std::vector<YamlNode> out;
  for (size_t i = 0; i < n.size(); ++i) out.push_back(n.at(i));
  return out;
}

// The choices of one axis, as partial points.
std::vector<PointDraft> axis_choices(const std::string& axis, const YamlNode& n,
                                     const SweepConfig& c) {
  std::vector<PointDraft> out;
  if (axis == "layers") {
    for (const YamlNode& r : range_nodes(n)) {
      PointDraft& d = out.emplace_back();
      d.layers = range_of(r, c.layers_one_based);
      d.layers_where = r.where();
      d.layers_text = r.describe();
    }
    return out;
  }
  const auto items = n.items();
  if (items.empty()) n.expected("at least one value");
  for (const auto& v : items) {
    PointDraft d;
    if (axis == "model") {
      d.model = v.str();
      if (c.model_index(*d.model) < 0) v.expected("a model defined under 'models'" + names_of(c.models));
    } else if (axis == "task") {
      d.task = v.str();
      if (c.task_index(*d.task) < 0) v.expected("a task defined under 'tasks'" + names_of(c.tasks));
    } else if (axis == "method") {
      d.method = method_of(v);
    } else if (axis == "experts") {
      d.experts = v.str();
      if (c.rule_index(*d.experts) < 0) v.expected("a rule defined under 'experts'" + names_of(c.rules));
    } else if (axis == "tau") {
      d.tau = number_in(v, kTauBounds);
    } else if (axis == "lambda") {
      d.lambda = number_in(v, kLambdaBounds);
    } else if (axis == "thr") {
      d.thr = number_in(v, kThrBounds);
    } else if (axis == "K") {
      d.top_k = int(int_in(v, 1, kMaxTopK, 1));
    } else if (axis == "direction") {
      d.direction = choice(v, {"boost", "suppress"}, "");
    }
    out.push_back(std::move(d));
  }
  return out;
}

void parse_grid(const YamlNode& n, SweepConfig& c) {
  if (!n.defined()) return;
  if (!n.is_seq()) n.expected("a list of grid blocks");
  for (size_t i = 0; i < n.size(); ++i) {
    YamlNode b = n.at(i);
    if (!b.is_map()) b.expected("a mapping of axes (model, task, method, experts, layers, ...)");
    b.check_keys(section_keys("grid[i]"));
    GridBlock blk;
    blk.where = b.where();
    for (const auto& axis : b.keys()) {
      if (axis == "zip") continue;
      blk.axis_where[axis] = b[axis].where();
      blk.factors.push_back({{axis}, axis_choices(axis, b[axis], c)});
    }
    if (b["zip"].defined()) {
      YamlNode z = b["zip"];
      std::vector<YamlNode> groups;
      if (z.is_map()) groups.push_back(z);
      else if (z.is_seq()) for (size_t g = 0; g < z.size(); ++g) groups.push_back(z.at(g));
      else z.expected("a mapping of axes to equal-length lists (or a list of such mappings)");
      for (const auto& g : groups) {
        if (!g.is_map()) g.expected("a mapping of axes to equal-length lists");
        g.check_keys(section_keys("grid[i].zip"));
        GridFactor f;
        size_t len = 0;
        bool first = true;
        for (const auto& axis : g.keys()) {
          if (blk.axis_where.count(axis))
            g[axis].fail(fmt::format("axis '{}' is already given in this block ({})", axis,
                                     blk.axis_where[axis]));
          blk.axis_where[axis] = g[axis].where();
          auto vals = axis_choices(axis, g[axis], c);
          if (first) {
            len = vals.size();
            f.choices.resize(len);
            first = false;
          } else if (vals.size() != len) {
            g[axis].expected(fmt::format("{} values (as many as the first zipped axis)", len));
          }
          for (size_t k = 0; k < len; ++k) f.choices[k].overlay(vals[k]);
          f.axes.push_back(axis);
        }
        if (f.axes.empty()) g.expected("at least one axis");
        blk.factors.push_back(std::move(f));
      }
    }
    if (!blk.axis_where.count("method")) b.fail("missing key 'method' (none, soft, hard, ...)");
    c.grid.push_back(std::move(blk));
  }
}

void parse_execution(const YamlNode& n, SweepConfig& c) {
  if (!n.defined()) return;
  n.check_keys(section_keys("execution"));
  auto& e = c.execution;
  e.unit_samples = int_in(n["unit_samples"], 1, int64_t(1) << 40, e.unit_samples);
  e.batch_points = int(int_in(n["batch_points"], 1, 1 << 20, e.batch_points));
  e.lease_ttl_s = positive(n["lease_ttl_s"], e.lease_ttl_s);
  e.heartbeat_s = positive(n["heartbeat_s"], e.heartbeat_s);
  e.poll_s = positive(n["poll_s"], e.poll_s);
  e.on_stop = choice(n["on_stop"], {"finish", "abandon"}, e.on_stop);
  e.max_points = int_in(n["max_points"], 1, INT64_MAX, e.max_points);
  if (e.heartbeat_s * 2 > e.lease_ttl_s)
    n["heartbeat_s"].expected(
        fmt::format("at most half of lease_ttl_s ({}) so live leases never look stale",
                    e.lease_ttl_s));
}

std::vector<std::string> strings_of(const YamlNode& n) {
  std::vector<std::string> out;
  if (!n.defined()) return out;
  for (const auto& v : n.items()) out.push_back(v.str());
  return out;
}

void parse_slurm(const YamlNode& n, SweepConfig& c) {
  if (!n.defined()) return;
  n.check_keys(section_keys("slurm"));
  auto& s = c.slurm;
  s.array_tasks = int(int_in(n["array_tasks"], 1, 1 << 24, s.array_tasks));
  s.throttle = int(int_in(n["throttle"], 0, 1 << 24, s.throttle));
  if (n["time"].defined()) s.time = n["time"].str();
  if (n["partition"].defined()) s.partition = n["partition"].str();
  if (n["account"].defined()) s.account = n["account"].str();
  if (n["gres"].defined()) s.gres = n["gres"].str();
  if (n["mem"].defined()) s.mem = n["mem"].str();
  if (n["qos"].defined()) s.qos = n["qos"].str();
  s.nodes = int(int_in(n["nodes"], 1, 1 << 20, s.nodes));
  s.ntasks = int(int_in(n["ntasks"], 1, 1 << 24, s.ntasks));
  s.cpus_per_task = int(int_in(n["cpus_per_task"], 0, 1 << 16, s.cpus_per_task));
  s.signal_s = int(int_in(n["signal_s"], 0, 1 << 20, s.signal_s));
  s.sbatch_args = strings_of(n["sbatch_args"]);
  s.setup = strings_of(n["setup"]);
  s.launcher = choice(n["launcher"], {"srun", "mpirun", "none"}, s.launcher);
}

void cross_check(const YamlNode& root, SweepConfig& c) {
  // Expert parallel degree must divide into ranks per SLURM task when launched there.
  for (size_t i = 0; i < c.models.size(); ++i) {
    if (c.slurm.ntasks % c.models[i].expert_parallel != 0)
      root["slurm"]["ntasks"].expected(fmt::format(
          "a multiple of models.{}.expert_parallel ({})", c.models[i].name,
          c.models[i].expert_parallel));
  }
  if (c.grid.empty() && c.routing.empty() && !(c.baseline && !c.tasks.empty()))
    root.fail("nothing to run: give 'grid', 'routing', or 'tasks' with baseline: true");
}

SweepConfig parse_tree(YAML::Node& tree, YamlSource& src) {
  YamlNode root(tree, "", &src);
  if (!root.is_map()) root.expected("a YAML mapping at the top level");
  root.check_keys(section_keys("(top level)"));
  SweepConfig c;
  c.name = name_of(root["name"], "a sweep name");
  c.output = path_of(root["output"]);
  parse_models(root["models"], c);
  parse_corpora(root["corpora"], c);
  parse_statistics(root["statistics"], c);
  parse_routing(root["routing"], c);
  parse_rules(root["experts"], c);
  parse_tasks(root["tasks"], c);
  c.layers_one_based =
      choice(root["layer_indexing"], {"zero_based", "one_based"}, "zero_based") == "one_based";
  parse_interventions(root["interventions"], c);
  if (root["baseline"].defined()) c.baseline = root["baseline"].boolean();
  parse_grid(root["grid"], c);
  parse_execution(root["execution"], c);
  parse_slurm(root["slurm"], c);
  cross_check(root, c);
  return c;
}

}  // namespace

SweepConfig parse_config(const std::string& yaml_text, const std::string& label,
                         const std::vector<std::string>& overrides) {
  YAML::Node tree;
  try {
    tree = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    throw InputError(fmt::format("{}:{}:{}", label, e.mark.line + 1, e.mark.column + 1),
                     "expected valid YAML, found a syntax error: " + e.msg);
  }
  YamlSource src{label, {}};
  check_unique_keys(tree, src);  // before overrides: the positions are the file's
  for (const auto& o : overrides) apply_override(tree, o, src);
  SweepConfig c = parse_tree(tree, src);
  YAML::Emitter out;
  out << tree;
  c.resolved_text = std::string(out.c_str()) + "\n";
  c.source = label;
  c.source_text = yaml_text;
  c.overrides = overrides;
  return c;
}

SweepConfig routing_only(SweepConfig c) {
  if (c.routing.empty())
    throw InputError(c.source.string() + ": routing",
                     "expected a list of {corpus, languages} to collect, found none");
  YAML::Node tree = YAML::Load(c.resolved_text);
  for (const char* key : {"tasks", "grid", "interventions", "experts"}) tree.remove(key);
  tree["baseline"] = false;
  YAML::Emitter out;
  out << tree;
  c.resolved_text = std::string(out.c_str()) + "\n";
  c.tasks.clear();
  c.grid.clear();
  c.interventions = InterventionOptions{};
  c.rules.clear();
  c.baseline = false;
  return c;
}

SweepConfig load_config(const std::filesystem::path& path,
                        const std::vector<std::string>& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string(), "cannot open the config file (does it exist?)");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path.string(), overrides);
}

}  // namespace moe::sweeps
