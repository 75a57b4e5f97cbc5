#include "sweeps/config/yaml_node.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>

namespace moe::sweeps {

YamlNode::YamlNode(YAML::Node node, std::string path, const YamlSource* src, YAML::Mark mark)
    : node_(std::move(node)), path_(std::move(path)), src_(src), mark_(mark) {
  if (node_.IsDefined() && !node_.Mark().is_null()) mark_ = node_.Mark();
}

std::string YamlNode::where() const {
  for (const auto& [p, text] : src_->overrides) {
    if (path_ == p || (path_.size() > p.size() && path_.compare(0, p.size(), p) == 0 &&
                       (path_[p.size()] == '.' || path_[p.size()] == '[')))
      return fmt::format("override '{}': {}", text, path_.empty() ? "(top level)" : path_);
  }
  std::string loc = src_->label;
  if (!mark_.is_null()) loc += fmt::format(":{}:{}", mark_.line + 1, mark_.column + 1);
  return loc + ": " + (path_.empty() ? "(top level)" : path_);
}

void YamlNode::fail(const std::string& problem) const { throw InputError(where(), problem); }

std::string YamlNode::describe() const {
  if (!node_.IsDefined()) return "nothing (key missing)";
  switch (node_.Type()) {
    case YAML::NodeType::Null: return "nothing (null)";
    case YAML::NodeType::Scalar: return "'" + node_.Scalar() + "'";
    case YAML::NodeType::Sequence: {
      std::vector<std::string> items;
      for (size_t i = 0; i < node_.size() && i < 6; ++i) {
        if (!node_[i].IsScalar()) return fmt::format("a list of {}", node_.size());
        items.push_back(node_[i].Scalar());
      }
      return fmt::format("[{}{}]", fmt::join(items, ", "), node_.size() > 6 ? ", ..." : "");
    }
    case YAML::NodeType::Map: return "a mapping";
    default: return "an undefined node";
  }
}

void YamlNode::expected(const std::string& what) const { fail(expected_found(what, describe())); }

YamlNode YamlNode::operator[](const std::string& key) const {
  std::string p = path_.empty() ? key : path_ + "." + key;
  if (!node_.IsMap()) return YamlNode(YAML::Node(), p, src_, mark_);
  const YAML::Node& cn = node_;
  YAML::Node child = cn[key];
  return YamlNode(child.IsDefined() ? child : YAML::Node(), p, src_, mark_);
}

YamlNode YamlNode::at(size_t i) const {
  return YamlNode(node_[i], fmt::format("{}[{}]", path_, i), src_, mark_);
}

std::vector<std::string> YamlNode::keys() const {
  if (!node_.IsMap()) expected("a mapping");
  std::vector<std::string> out;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (!it->first.IsScalar())
      YamlNode(it->first, path_, src_, mark_).expected("a plain key");
    out.push_back(it->first.Scalar());
  }
  return out;
}

void YamlNode::check_keys(const std::vector<std::string>& allowed) const {
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const std::string k = it->first.Scalar();
    if (std::find(allowed.begin(), allowed.end(), k) != allowed.end()) continue;
    YamlNode child(it->second, path_.empty() ? k : path_ + "." + k, src_, mark_);
    YamlNode key(it->first, child.path(), src_, mark_);
    key.fail(fmt::format("unknown key: expected one of {}, found '{}'",
                         fmt::join(allowed, ", "), k));
  }
}

std::string YamlNode::str() const {
  if (!node_.IsDefined() || !node_.IsScalar()) expected("a string");
  return node_.Scalar();
}

double YamlNode::num() const {
  if (!node_.IsDefined() || !node_.IsScalar()) expected("a number");
  double v = 0;
  try {
    v = node_.as<double>();
  } catch (const YAML::Exception&) {
    expected("a number");
  }
  // yaml-cpp reads .nan, .inf and -.inf; no setting of a sweep means any of them, and NaN would
  // reach result ids as JSON null (NaN and both infinities alike).
  if (!std::isfinite(v)) expected("a finite number");
  return v;
}

int64_t YamlNode::integer() const {
  if (!node_.IsDefined() || !node_.IsScalar()) expected("an integer");
  try {
    return node_.as<int64_t>();
  } catch (const YAML::Exception&) {
    expected("an integer");
  }
}

bool YamlNode::boolean() const {
  if (!node_.IsDefined() || !node_.IsScalar()) expected("true or false");
  try {
    return node_.as<bool>();
  } catch (const YAML::Exception&) {
    expected("true or false");
  }
}

std::vector<YamlNode> YamlNode::items() const {
  std::vector<YamlNode> out;
  if (node_.IsSequence()) {
    for (size_t i = 0; i < node_.size(); ++i) out.push_back(at(i));
  } else if (node_.IsScalar()) {
    out.push_back(*this);
  } else {
    expected("a value or a list of values");
  }
  return out;
}

void YamlNode::set(const std::string& value) { node_ = value; }

namespace {

// A key that one mapping holds twice: the key path of the entry and both keys' positions.
struct DuplicateKey {
  std::string path, key;
  YAML::Mark first, second;
};

// The first repeated key in document order, in any mapping of `n` (`path`: n's key path).
std::optional<DuplicateKey> find_duplicate_key(const YAML::Node& n, const std::string& path) {
  if (n.IsMap()) {
    std::map<std::string, YAML::Mark> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      // Keys that are not plain scalars are refused later (YamlNode::keys), with their position.
      if (!it->first.IsScalar()) continue;
      const std::string& k = it->first.Scalar();
      const std::string p = path.empty() ? k : path + "." + k;
      if (auto [pos, fresh] = seen.emplace(k, it->first.Mark()); !fresh)
        return DuplicateKey{p, k, pos->second, it->first.Mark()};
      if (auto d = find_duplicate_key(it->second, p)) return d;
    }
  } else if (n.IsSequence()) {
    for (size_t i = 0; i < n.size(); ++i)
      if (auto d = find_duplicate_key(n[i], fmt::format("{}[{}]", path, i))) return d;
  }
  return std::nullopt;
}

std::string mark_text(const YAML::Mark& m) {
  return fmt::format("{}:{}", m.line + 1, m.column + 1);
}

// Splits "a.b[2].c" into steps: keys and indices.
struct Step {
  std::string key;
  long index = -1;
};

std::vector<Step> parse_override_path(const std::string& path, const std::string& text) {
  std::vector<Step> steps;
  size_t i = 0;
  auto bad = [&](const std::string& why) -> InputError {
    return InputError(fmt::format("override '{}'", text), why);
  };
  while (i < path.size()) {
    size_t j = i;
    while (j < path.size() && path[j] != '.' && path[j] != '[') ++j;
    if (j == i) throw bad(fmt::format("expected a key name at offset {}, found '{}'", i, path[i]));
    steps.push_back({path.substr(i, j - i)});
    while (j < path.size() && path[j] == '[') {
      size_t close = path.find(']', j);
      if (close == std::string::npos) throw bad("expected ']' after '['");
      std::string num = path.substr(j + 1, close - j - 1);
      if (num.empty() || num.find_first_not_of("0123456789") != std::string::npos)
        throw bad(fmt::format("expected a list index, found '[{}]'", num));
      steps.push_back({"", std::stol(num)});
      j = close + 1;
    }
    if (j < path.size()) {
      if (path[j] != '.') throw bad(fmt::format("expected '.' at offset {}", j));
      ++j;
      if (j == path.size()) throw bad("expected a key after the final '.'");
    }
    i = j;
  }
  if (steps.empty()) throw bad("expected key=value, found an empty key");
  return steps;
}

}  // namespace

void check_unique_keys(const YAML::Node& root, const YamlSource& src) {
  if (auto d = find_duplicate_key(root, "")) {
    YamlNode(YAML::Node(), d->path, &src, d->second)
        .fail(fmt::format("expected each key once in a mapping, found '{}' a second time "
                          "(first at {}:{})",
                          d->key, src.label, mark_text(d->first)));
  }
}

void apply_override(YAML::Node& root, const std::string& assignment, YamlSource& src) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError(fmt::format("override '{}'", assignment),
                     "expected key.path=value, found no '='");
  const std::string path = assignment.substr(0, eq);
  const std::string value = assignment.substr(eq + 1);
  std::vector<Step> steps = parse_override_path(path, assignment);
  YAML::Node value_node;
  try {
    value_node = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    throw InputError(fmt::format("override '{}'", assignment),
                     fmt::format("expected a YAML value, found '{}' ({})", value, e.msg));
  }
  // yaml-cpp keeps both entries of a repeated key and lookups see only the first.
  if (auto d = find_duplicate_key(value_node, path))
    throw InputError(fmt::format("override '{}': {}", assignment, d->path),
                     fmt::format("expected each key once in a mapping, found '{}' a second time "
                                 "(at {} and {} of the value)",
                                 d->key, mark_text(d->first), mark_text(d->second)));
  YAML::Node cur = root;
  std::string done;
  for (size_t s = 0; s < steps.size(); ++s) {
    const bool last = s + 1 == steps.size();
    const Step& st = steps[s];
    auto here = [&] { return fmt::format("override '{}': {}", assignment, done.empty() ? "(top level)" : done); };
    if (st.index < 0) {
      if (!cur.IsMap() && !cur.IsNull()) {
        std::string msg = expected_found("a mapping to set '" + st.key + "' in",
                                         cur.IsSequence() ? "a list" : "a value");
        // `routing.0.languages=`: a list's element is picked with brackets.
        if (cur.IsSequence() && !st.key.empty() &&
            st.key.find_first_not_of("0123456789") == std::string::npos)
          msg += fmt::format(" (an element of a list is written {}[{}])",
                             done.empty() ? "key" : done, st.key);
        else if (cur.IsSequence())
          msg += fmt::format(" (pick an element first: {}[0].{})", done.empty() ? "key" : done,
                             st.key);
        throw InputError(here(), msg);
      }
      done = done.empty() ? st.key : done + "." + st.key;
      if (last) {
        cur[st.key] = value_node;
      } else {
        if (!cur[st.key].IsDefined() || cur[st.key].IsNull())
          cur[st.key] = YAML::Node(YAML::NodeType::Map);
        YAML::Node next = cur[st.key];
        cur.reset(next);
      }
    } else {
      if (!cur.IsSequence() || size_t(st.index) >= cur.size())
        throw InputError(here(), expected_found(fmt::format("a list with an element [{}]", st.index),
                                                cur.IsSequence() ? fmt::format("a list of {}", cur.size())
                                                                 : std::string("no list")));
      done += fmt::format("[{}]", st.index);
      if (last) {
        cur[st.index] = value_node;
      } else {
        YAML::Node next = cur[st.index];
        cur.reset(next);
      }
    }
  }
  src.overrides[path] = assignment;
}

}  // namespace moe::sweeps
