// Helpers for reading tokenizer.json with errors that name the file and the key path
// ("tokenizer.json: model.merges[3]: expected a pair of strings, found a number").
// Internal to the tokenizer (.cpp files only). Thread-safety: pure functions / value types.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace moe::io::tok {

using Json = nlohmann::json;

// A position in a JSON document, for error messages.
class JsonWhere {
 public:
  explicit JsonWhere(std::string file, std::string path = {})
      : file_(std::move(file)), path_(std::move(path)) {}
  JsonWhere key(std::string_view k) const;
  JsonWhere index(size_t i) const;
  std::string str() const;  // "file: path" (or "file" at the root)
  const std::string& path() const { return path_; }

 private:
  std::string file_;
  std::string path_;
};

std::string describe(const Json& j);  // "a string 'x'", "a number", "null", "an object", ...

void require_object(const Json& j, const JsonWhere& where);
const Json* find_key(const Json& obj, std::string_view key);  // null if absent or obj not an object
const Json& require_key(const Json& obj, std::string_view key, const JsonWhere& obj_where);
// Optional fields: absent or null gives the default.
std::string get_string(const Json& obj, std::string_view key, const JsonWhere& obj_where,
                       const std::string& dflt);
std::string require_string(const Json& obj, std::string_view key, const JsonWhere& obj_where);
bool get_bool(const Json& obj, std::string_view key, const JsonWhere& obj_where, bool dflt);
uint64_t get_uint(const Json& obj, std::string_view key, const JsonWhere& obj_where, uint64_t dflt);
// A single-character string field (Metaspace replacement, Strip content).
char32_t require_char(const Json& obj, std::string_view key, const JsonWhere& obj_where);
// The "type" of a component object.
std::string type_of(const Json& obj, const JsonWhere& obj_where);
// A {"String": s} / {"Regex": r} pattern object: sets `literal`, returns the text.
std::string pattern_of(const Json& obj, std::string_view key, const JsonWhere& obj_where,
                       bool& literal);

[[noreturn]] void throw_unsupported(const JsonWhere& type_where, const std::string& found,
                                    std::string_view supported);

}  // namespace moe::io::tok
