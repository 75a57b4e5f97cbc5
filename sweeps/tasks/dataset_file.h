// DatasetFile: the text of one local dataset file, with the positions every loader needs for its
// error messages ("mgsm_de.tsv: line 12 (byte 3051): expected 2 tab-separated fields, found 3").
//
// read() loads the whole file (datasets here are small: at most a few MB), rejects invalid UTF-8
// with the byte offset, and splits lines at '\n' (a trailing '\r' is dropped, so CRLF files
// read the same; a final newline does not make an extra line). Rows of JSON are reached through
// JsonObject, a view of one parsed object with typed getters that throw InputError naming the
// file, the line or key path, the key, what was expected and what was found. The JSON library
// stays out of this header (nlohmann/json_fwd.hpp only).
// Thread-safety: value types; JsonObject views must not outlive the json they view.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace moe::tasks {

class DatasetFile {
 public:
  struct Line {
    std::string_view text;  // without '\n' and a trailing '\r'
    int number = 0;         // 1-based
    size_t offset = 0;      // byte offset of the line's first byte
  };

  // Throws InputError if the file cannot be read or is not valid UTF-8. A UTF-8 byte order mark
  // at the start is skipped.
  static DatasetFile read(const std::filesystem::path& path);
  // For tests and in-memory data: `name` stands in for the path in messages.
  static DatasetFile from_string(std::string name, std::string text);

  const std::string& name() const { return name_; }
  const std::string& text() const { return text_; }
  const std::vector<Line>& lines() const { return lines_; }
  // Where the content starts (3 after a byte order mark, else 0).
  size_t content_offset() const { return bom_; }
  // "name: line N (byte B)"
  std::string where(const Line& line) const;
  // "name: line N (byte B)" for any byte offset into text().
  std::string where_offset(size_t offset) const;

 private:
  std::string name_;
  std::string text_;
  size_t bom_ = 0;  // bytes of a skipped byte order mark (offsets count from the file's start)
  std::vector<Line> lines_;
};

// A view of one JSON object of a dataset, with its location for messages.
class JsonObject {
 public:
  // where: "file" or "file: line N (byte B)"; path: key path inside it ("data[0].qas[1]").
  JsonObject(const nlohmann::json& value, std::string where, std::string path = {});
  // "file: line N (byte B)" or "file: data[0].qas[1]"
  std::string where() const;
  // Where one of its keys is: "file: line N (byte B): key 'question'" or "file: data[0].question"
  std::string where(std::string_view key) const;
  bool has(std::string_view key) const;
  std::string string(std::string_view key) const;
  int64_t integer(std::string_view key) const;
  // An integer given as a JSON number or as a string of decimal digits ("3").
  int64_t integer_or_digits(std::string_view key) const;
  // A string, or a number rendered in its shortest form (answers stored as 42 or "42").
  std::string string_or_number(std::string_view key) const;
  // Each element of an array of objects, with "where" extended by "key[i]".
  void for_each_object(std::string_view key, const std::function<void(const JsonObject&)>& f) const;

 private:
  const nlohmann::json& field(std::string_view key) const;
  const nlohmann::json* value_;
  std::string where_;
  std::string path_;
};

// Calls f for each non-blank line of a JSON Lines file; each line must hold one JSON object.
// A line that is not valid JSON or not an object is an InputError naming its line and byte.
void for_each_jsonl_object(const DatasetFile& file,
                           const std::function<void(const JsonObject&)>& f);
// Parses a whole-file JSON document and hands its root object to f.
void with_json_document(const DatasetFile& file, const std::function<void(const JsonObject&)>& f);

}  // namespace moe::tasks
