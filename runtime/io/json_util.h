// JSON helpers for the input parsers in runtime/io (config.json, generation_config.json,
// tokenizer_config.json, model.safetensors.index.json): parsing with errors that give the byte
// offset, and typed field access whose errors name the file, the key path, what was expected and
// what was found (moe::InputError).
//
// This header pulls in nlohmann/json: include it from .cpp files only, never from a public header.
// JsonObject borrows the json value it wraps (the caller keeps it alive).
// Thread-safety: pure functions; JsonObject is a read-only view.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moe::io {

using Json = nlohmann::json;

// Why nlohmann's parser stopped, from any exception it throws while parsing (a syntax error, a
// number too large for a double, ...): `byte` is the 0-based offset in the parsed text where it
// stopped, when the library gives one; `problem` is its message without the location prefix.
struct JsonFailure {
  std::optional<uint64_t> byte;
  std::string problem;
};
JsonFailure json_failure(const Json::exception& e);

// Parses `text`. Throws InputError("<label>: byte N", "expected valid JSON, found ...").
Json parse_json(std::string_view text, const std::string& label);
// Reads and parses a file; a missing or unreadable file is an InputError naming it.
Json read_json_file(const std::filesystem::path& path);
// What a value is, for "found ..." messages: "\"abc\" (string)", "12.5 (number)", "an array", ...
std::string describe_json(const Json& v);

// A JSON object plus where it came from, with typed accessors. `label` is the file, `path` the
// key path of this object inside it ("" at the top, "rope_scaling" below).
class JsonObject {
 public:
  // Throws InputError if `v` is not an object.
  JsonObject(const Json& v, std::string label, std::string path = "");

  const Json& json() const { return *v_; }
  const std::string& label() const { return label_; }
  // "<label>: key 'path.key'" (or "<label>" for the object itself when key is empty).
  std::string where(std::string_view key = {}) const;
  std::string key_path(std::string_view key) const;

  // Present with a non-null value.
  bool has(std::string_view key) const;
  const Json* find(std::string_view key) const;  // null if absent or null-valued

  // Required fields: InputError "missing" if absent/null, "expected ..." if mistyped.
  int64_t req_int(std::string_view key) const;
  double req_number(std::string_view key) const;
  std::string req_string(std::string_view key) const;
  // Optional fields: std::nullopt / the default if absent or null; InputError if mistyped.
  std::optional<int64_t> opt_int(std::string_view key) const;
  std::optional<double> opt_number(std::string_view key) const;
  std::optional<std::string> opt_string(std::string_view key) const;
  bool opt_bool(std::string_view key, bool dflt) const;
  std::optional<JsonObject> opt_object(std::string_view key) const;
  std::optional<std::vector<int64_t>> opt_int_list(std::string_view key) const;
  std::optional<std::vector<double>> opt_number_list(std::string_view key) const;
  std::optional<std::vector<std::string>> opt_string_list(std::string_view key) const;
  // An int or a list of ints (eos_token_id); empty when absent or null.
  std::vector<int64_t> int_or_int_list(std::string_view key) const;

  // Throws InputError at `key` with "expected <expected>, found <describe(value)>".
  [[noreturn]] void fail(std::string_view key, const std::string& expected) const;

 private:
  const Json* v_;
  std::string label_;
  std::string path_;
};

}  // namespace moe::io
