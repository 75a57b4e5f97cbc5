// YamlNode: a yaml-cpp node that knows its key path and where it was written, so that every
// validation error names file:line:column (or the command-line override) and the key path.
//
// Used only by the config loader (sweeps/config/config.cpp). A YamlNode refers to nodes owned by
// the tree it was made from and to its Source; both must outlive it. Not thread-safe.
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "runtime/core/error.h"

namespace moe::sweeps {

// The file (label) a tree came from and the key paths set by command-line overrides.
struct YamlSource {
  std::string label;                            // file name shown in messages
  std::map<std::string, std::string> overrides;  // key path -> "key=value" as typed
};

class YamlNode {
 public:
  YamlNode(YAML::Node node, std::string path, const YamlSource* src, YAML::Mark mark = {});

  const std::string& path() const { return path_; }
  // "file:line:col: path", or "override 'k=v': path" for overridden keys.
  std::string where() const;
  [[noreturn]] void fail(const std::string& problem) const;
  [[noreturn]] void expected(const std::string& what) const;  // "expected <what>, found <this>"
  std::string describe() const;                               // "'abc'", "a list", ...

  bool defined() const { return node_.IsDefined() && !node_.IsNull(); }
  bool is_map() const { return node_.IsMap(); }
  bool is_seq() const { return node_.IsSequence(); }
  bool is_scalar() const { return node_.IsScalar(); }
  size_t size() const { return node_.size(); }

  YamlNode operator[](const std::string& key) const;  // undefined child if absent
  YamlNode at(size_t i) const;                         // list element
  std::vector<std::string> keys() const;               // map keys in file order (map required)
  // Map required; every key must be in `allowed` (else "expected one of ..., found 'x'").
  void check_keys(const std::vector<std::string>& allowed) const;

  std::string str() const;  // scalar string
  double num() const;
  int64_t integer() const;
  bool boolean() const;
  // Scalar or list of scalars -> list (a scalar becomes a one-element list).
  std::vector<YamlNode> items() const;
  // Replaces this scalar's text in the tree (used to record expanded ${VAR} values).
  void set(const std::string& value);

  const YAML::Node& raw() const { return node_; }

 private:
  YAML::Node node_;
  std::string path_;
  const YamlSource* src_;
  YAML::Mark mark_;  // this node's mark, or its parent's for an absent key
};

// Throws InputError if a mapping anywhere in `root` holds a key twice (yaml-cpp keeps both
// entries, and lookups would silently see only the first). The error is at the second
// occurrence (file:line:col and key path) and gives the first one's position.
void check_unique_keys(const YAML::Node& root, const YamlSource& src);

// Applies "a.b[2].c=value" to `root` (value parsed as YAML; a key repeated in a mapping of the
// value is an error). Records the path in `src`.
void apply_override(YAML::Node& root, const std::string& assignment, YamlSource& src);

}  // namespace moe::sweeps
