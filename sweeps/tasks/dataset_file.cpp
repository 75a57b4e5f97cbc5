#include "sweeps/tasks/dataset_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "runtime/core/error.h"
#include "runtime/io/json_util.h"
#include "sweeps/tasks/text.h"

namespace moe::tasks {

using nlohmann::json;

DatasetFile DatasetFile::read(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw input_error(path.string(), "expected a readable dataset file, found none");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw input_error(path.string(), "read error");
  return from_string(path.string(), std::move(ss).str());
}

DatasetFile DatasetFile::from_string(std::string name, std::string text) {
  DatasetFile f;
  f.name_ = std::move(name);
  f.text_ = std::move(text);
  if (f.text_.starts_with("\xEF\xBB\xBF")) f.bom_ = 3;
  const std::string_view t(f.text_);
  size_t start = f.bom_;
  int number = 1;
  while (start < t.size()) {
    size_t end = t.find('\n', start);
    const bool last = end == std::string_view::npos;
    if (last) end = t.size();
    std::string_view line = t.substr(start, end - start);
    if (line.ends_with('\r')) line.remove_suffix(1);
    f.lines_.push_back({line, number++, start});
    if (last) break;
    start = end + 1;
  }
  if (auto bad = first_invalid_utf8(f.text_))
    throw input_error(f.where_offset(*bad), "expected UTF-8 text, found byte 0x{:02X}",
                      uint8_t(f.text_[*bad]));
  return f;
}

std::string DatasetFile::where(const Line& line) const {
  return fmt::format("{}: line {} (byte {})", name_, line.number, line.offset);
}

std::string DatasetFile::where_offset(size_t offset) const {
  // The last line starting at or before offset.
  auto it = std::upper_bound(lines_.begin(), lines_.end(), offset,
                             [](size_t o, const Line& l) { return o < l.offset; });
  const int number = it == lines_.begin() ? 1 : std::prev(it)->number;
  return fmt::format("{}: line {} (byte {})", name_, number, offset);
}

JsonObject::JsonObject(const json& value, std::string where, std::string path)
    : value_(&value), where_(std::move(where)), path_(std::move(path)) {}

std::string JsonObject::where() const {
  return path_.empty() ? where_ : fmt::format("{}: {}", where_, path_);
}

std::string JsonObject::where(std::string_view key) const {
  return path_.empty() ? fmt::format("{}: key '{}'", where_, key)
                       : fmt::format("{}: {}.{}", where_, path_, key);
}

namespace {

std::string describe(const json& v) {
  return fmt::format("{} {}", v.type_name(), excerpt(v.dump(), 37));
}

}  // namespace

bool JsonObject::has(std::string_view key) const {
  return value_->contains(key);
}

const json& JsonObject::field(std::string_view key) const {
  auto it = value_->find(key);
  if (it == value_->end()) throw input_error(where(key), "expected a field '{}', found none", key);
  return *it;
}

std::string JsonObject::string(std::string_view key) const {
  const json& v = field(key);
  if (!v.is_string()) throw input_error(where(key), "expected a string, found {}", describe(v));
  return v.get<std::string>();
}

int64_t JsonObject::integer(std::string_view key) const {
  const json& v = field(key);
  if (!v.is_number_integer())
    throw input_error(where(key), "expected an integer, found {}", describe(v));
  return v.get<int64_t>();
}

int64_t JsonObject::integer_or_digits(std::string_view key) const {
  const json& v = field(key);
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (!s.empty() && s.size() < 18 &&
        std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::stoll(s);
  }
  throw input_error(where(key), "expected an integer or a string of digits, found {}", describe(v));
}

std::string JsonObject::string_or_number(std::string_view key) const {
  const json& v = field(key);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_float()) return fmt::format("{}", v.get<double>());
  throw input_error(where(key), "expected a string or a number, found {}", describe(v));
}

void JsonObject::for_each_object(std::string_view key,
                                 const std::function<void(const JsonObject&)>& f) const {
  const json& v = field(key);
  if (!v.is_array()) throw input_error(where(key), "expected an array, found {}", describe(v));
  const std::string base = path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string path = fmt::format("{}[{}]", base, i);
    if (!v[i].is_object())
      throw input_error(fmt::format("{}: {}", where_, path), "expected an object, found {}",
                        describe(v[i]));
    f(JsonObject(v[i], where_, path));
  }
}

void for_each_jsonl_object(const DatasetFile& file,
                           const std::function<void(const JsonObject&)>& f) {
  for (const auto& line : file.lines()) {
    if (trim(line.text).empty()) continue;
    json v;
    try {
      v = json::parse(line.text);
    } catch (const json::exception& e) {
      const io::JsonFailure f = io::json_failure(e);
      const size_t at = line.offset + f.byte.value_or(0);
      throw input_error(fmt::format("{}: line {} (byte {})", file.name(), line.number, at),
                        "expected one JSON object per line, found invalid JSON ({})", f.problem);
    }
    if (!v.is_object())
      throw input_error(file.where(line), "expected one JSON object per line, found {}",
                        describe(v));
    f(JsonObject(v, file.where(line)));
  }
}

void with_json_document(const DatasetFile& file, const std::function<void(const JsonObject&)>& f) {
  json v;
  try {
    v = json::parse(std::string_view(file.text()).substr(file.content_offset()));
  } catch (const json::exception& e) {
    const io::JsonFailure f = io::json_failure(e);
    throw input_error(file.where_offset(file.content_offset() + f.byte.value_or(0)),
                      "expected a JSON document, found invalid JSON ({})", f.problem);
  }
  if (!v.is_object())
    throw input_error(file.name(), "expected a JSON object at the top, found {}", describe(v));
  f(JsonObject(v, file.name()));
}

}  // namespace moe::tasks
