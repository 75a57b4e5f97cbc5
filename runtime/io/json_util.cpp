#include "runtime/io/json_util.h"

#include "runtime/core/error.h"
#include "runtime/io/files.h"

namespace moe::io {

JsonFailure json_failure(const Json::exception& e) {
  JsonFailure f;
  // e.byte of a parse_error is the 1-based position of the character where parsing stopped.
  if (const auto* pe = dynamic_cast<const Json::parse_error*>(&e)) f.byte = pe->byte ? pe->byte - 1 : 0;
  // nlohmann's text is "[json.exception.parse_error.101] parse error at line 1, column 2:
  // syntax error while parsing value - invalid literal; last read: 'x'" or
  // "[json.exception.out_of_range.406] number overflow parsing '1e999'": keep what follows the
  // location (or the "[json.exception...]" tag), which says what was found.
  std::string what = e.what();
  if (auto p = what.find(": "); f.byte && p != std::string::npos) what = what.substr(p + 2);
  else if (auto q = what.find("] "); q != std::string::npos) what = what.substr(q + 2);
  f.problem = what;
  return f;
}

Json parse_json(std::string_view text, const std::string& label) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {
    const JsonFailure f = json_failure(e);
    throw input_error(f.byte ? label + ": byte " + std::to_string(*f.byte) : label,
                      "expected valid JSON, found {}", f.problem);
  }
}

Json read_json_file(const std::filesystem::path& path) {
  return parse_json(read_text_file(path), path.string());
}

std::string describe_json(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::object: return "an object";
    case Json::value_t::array: return "an array of " + std::to_string(v.size());
    case Json::value_t::string: {
      // Cut at a code point boundary: dump() rejects invalid UTF-8.
      return Json(excerpt(v.get<std::string>(), 57)).dump() + " (string)";
    }
    case Json::value_t::boolean: return v.get<bool>() ? "true (boolean)" : "false (boolean)";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return v.dump() + " (integer)";
    case Json::value_t::number_float: return v.dump() + " (number)";
    default: return "a value of unsupported type";
  }
}

JsonObject::JsonObject(const Json& v, std::string label, std::string path)
    : v_(&v), label_(std::move(label)), path_(std::move(path)) {
  if (!v.is_object()) {
    throw input_error(path_.empty() ? label_ : label_ + ": key '" + path_ + "'",
                      "expected a JSON object, found {}", describe_json(v));
  }
}

std::string JsonObject::key_path(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  if (key.empty()) return path_;
  if (key.front() == '[') return path_ + std::string(key);
  return path_ + "." + std::string(key);
}

std::string JsonObject::where(std::string_view key) const {
  const std::string p = key_path(key);
  return p.empty() ? label_ : label_ + ": key '" + p + "'";
}

const Json* JsonObject::find(std::string_view key) const {
  auto it = v_->find(key);
  if (it == v_->end() || it->is_null()) return nullptr;
  return &*it;
}

bool JsonObject::has(std::string_view key) const { return find(key) != nullptr; }

void JsonObject::fail(std::string_view key, const std::string& expected) const {
  const Json* v = find(key);
  throw input_error(where(key), "expected {}, found {}", expected, v ? describe_json(*v) : "null");
}

namespace {
[[noreturn]] void missing(const JsonObject& o, std::string_view key, const std::string& expected) {
  throw input_error(o.where(key), "expected {}, found nothing (the key is missing)", expected);
}
bool as_int(const Json& v, int64_t* out) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > uint64_t(INT64_MAX)) return false;
    *out = int64_t(u);
    return true;
  }
  if (v.is_number_integer()) {
    *out = v.get<int64_t>();
    return true;
  }
  return false;
}
}  // namespace

std::optional<int64_t> JsonObject::opt_int(std::string_view key) const {
  const Json* v = find(key);
  if (!v) return std::nullopt;
  int64_t out;
  if (!as_int(*v, &out)) fail(key, "an integer");
  return out;
}

int64_t JsonObject::req_int(std::string_view key) const {
  if (!has(key)) missing(*this, key, "an integer");
  return *opt_int(key);
}

std::optional<double> JsonObject::opt_number(std::string_view key) const {
  const Json* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_number()) fail(key, "a number");
  return v->get<double>();
}

double JsonObject::req_number(std::string_view key) const {
  if (!has(key)) missing(*this, key, "a number");
  return *opt_number(key);
}

std::optional<std::string> JsonObject::opt_string(std::string_view key) const {
  const Json* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_string()) fail(key, "a string");
  return v->get<std::string>();
}

std::string JsonObject::req_string(std::string_view key) const {
  if (!has(key)) missing(*this, key, "a string");
  return *opt_string(key);
}

bool JsonObject::opt_bool(std::string_view key, bool dflt) const {
  const Json* v = find(key);
  if (!v) return dflt;
  if (!v->is_boolean()) fail(key, "true or false");
  return v->get<bool>();
}

std::optional<JsonObject> JsonObject::opt_object(std::string_view key) const {
  const Json* v = find(key);
  if (!v) return std::nullopt;
  return JsonObject(*v, label_, key_path(key));
}

namespace {
// A list whose items `get` converts (returning false for a wrong item type).
template <typename T, typename Get>
std::optional<std::vector<T>> list_of(const JsonObject& o, std::string_view key, const char* item,
                                      Get get) {
  const Json* v = o.find(key);
  if (!v) return std::nullopt;
  if (!v->is_array()) o.fail(key, std::string("a list of ") + item + "s");
  std::vector<T> out;
  for (size_t i = 0; i < v->size(); ++i) {
    T x;
    if (!get((*v)[i], &x)) {
      throw input_error(o.where(std::string(key) + "[" + std::to_string(i) + "]"),
                        "expected {} {}, found {}", item[0] == 'i' ? "an" : "a", item,
                        describe_json((*v)[i]));
    }
    out.push_back(std::move(x));
  }
  return out;
}
}  // namespace

std::optional<std::vector<int64_t>> JsonObject::opt_int_list(std::string_view key) const {
  return list_of<int64_t>(*this, key, "integer", as_int);
}

std::optional<std::vector<double>> JsonObject::opt_number_list(std::string_view key) const {
  return list_of<double>(*this, key, "number", [](const Json& j, double* x) {
    if (!j.is_number()) return false;
    *x = j.get<double>();
    return true;
  });
}

std::optional<std::vector<std::string>> JsonObject::opt_string_list(std::string_view key) const {
  return list_of<std::string>(*this, key, "string", [](const Json& j, std::string* x) {
    if (!j.is_string()) return false;
    *x = j.get<std::string>();
    return true;
  });
}

std::vector<int64_t> JsonObject::int_or_int_list(std::string_view key) const {
  const Json* v = find(key);
  if (!v) return {};
  if (v->is_array()) return *opt_int_list(key);
  int64_t x;
  if (!as_int(*v, &x)) fail(key, "an integer or a list of integers");
  return {x};
}

}  // namespace moe::io
